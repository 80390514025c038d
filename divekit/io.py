"""Atomic file output: a result is either complete on disk or absent, never half-written."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from divekit.errors import DivekitError


def ensure_writable_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and check that files can be created in it."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise DivekitError(f"output folder {path} is an existing file, not a folder") from None
    except NotADirectoryError:
        raise DivekitError(f"cannot create output folder {path}: a parent is a file") from None
    except OSError as exc:
        raise DivekitError(f"cannot create output folder {path}: {exc.strerror}") from None
    if not path.is_dir():
        raise DivekitError(f"output folder {path} is not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".divekit-probe-"):
            pass
    except OSError as exc:
        raise DivekitError(f"output folder {path} is not writable: {exc.strerror}") from None
    return path


def _mode_for(target: Path, *, folder: bool) -> int:
    """The permissions ``target`` should get: those it has, or, new, what a plain ``open`` or ``mkdir``
    would give (0o666 or 0o777 less the umask). A temporary file or folder is private (0o600,
    0o700), and renamed into place as it is, a coach's report would be unreadable to the rest of
    the team."""
    if target.exists():
        return stat.S_IMODE(target.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if folder else 0o666) & ~umask


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` in one rename,
    with ``target``'s permissions (:func:`_mode_for`).

    On any error the temporary file is removed and ``target`` is left exactly as it was.
    """
    target = Path(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part" + target.suffix)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _mode_for(target, folder=False))
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


# what atomic_path and staging_dir leave behind when a process is killed mid-write (mkstemp and
# mkdtemp draw 8 characters from [a-z0-9_])
_LEFTOVER = re.compile(r"^\..+\.[a-z0-9_]{8}\.part(\.[A-Za-z0-9]+)?$|^\.divekit-staging-[a-z0-9_]{8}$")


def remove_leftovers(folder: Path) -> list[Path]:
    """Delete the temporary files and folders a killed divekit process left in ``folder``.

    Only names :func:`atomic_path` and :func:`staging_dir` make are touched; call it when no
    other divekit process writes to ``folder`` (e.g. on ``--resume``). Returns what was removed.
    """
    removed = []
    for path in sorted(Path(folder).iterdir()) if Path(folder).is_dir() else []:
        if _LEFTOVER.match(path.name):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def write_text_atomic(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def write_json_atomic(target: Path, obj: object) -> None:
    write_text_atomic(target, json.dumps(obj, indent=2, sort_keys=False) + "\n")


@contextlib.contextmanager
def staging_dir(out_dir: Path) -> Iterator[Path]:
    """A hidden folder inside ``out_dir`` to build outputs in; removed whatever happens.

    Callers move finished files out of it with :func:`publish`, so an interrupted run
    leaves no partial file among the real outputs.
    """
    stage = Path(tempfile.mkdtemp(dir=out_dir, prefix=".divekit-staging-"))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def publish(files: list[Path], out_dir: Path) -> list[Path]:
    """Move finished files from a staging folder into ``out_dir`` (each move is one rename)."""
    placed = []
    for f in files:
        dest = Path(out_dir) / f.name
        os.replace(f, dest)
        placed.append(dest)
    return placed


def refuse_existing(paths: list[Path], force: bool) -> None:
    """Raise unless none of ``paths`` exists or ``force`` is set."""
    if force:
        return
    existing = [p for p in paths if Path(p).exists()]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise DivekitError(f"{existing[0]} already exists{more}; use --force to overwrite")


def replace_dir(built: Path, target: Path) -> None:
    """Put the finished folder ``built`` at ``target``; an existing ``target`` is removed only after.

    Two renames on one filesystem: until the first, ``target`` is untouched; after the second it
    is the new folder. The old one is deleted last, so a failure at any point loses nothing. The
    folder gets ``target``'s permissions (:func:`_mode_for`).
    """
    built, target = Path(built), Path(target)
    os.chmod(built, _mode_for(target, folder=True))
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    try:
        os.replace(built, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
