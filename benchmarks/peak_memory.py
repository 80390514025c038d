"""Peak memory of the running process, for the benchmarks that measure it in a child process."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB.

    On Linux, VmHWM from ``/proc/self/status``: the high-water mark of this program's own memory,
    which starts afresh at exec. ``getrusage``'s ru_maxrss does not: a child started by fork and exec
    reports its parent's peak where that was higher (a benchmark that had decoded 4K frames in
    batches gave each of its children the 5 GB it had used itself). Elsewhere ru_maxrss is all
    there is (KiB on Linux, bytes on macOS).
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if rss > 2**32 else rss / 1024
