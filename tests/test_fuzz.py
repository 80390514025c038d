"""Property and fuzz tests (hypothesis): the config loader and the video reader on hostile input.

The contract under test is the CLI's: bad input ends in a one-line DivekitError, never in another
exception, a hang or a dead interpreter. Each test runs ``DIVEKIT_FUZZ_EXAMPLES`` cases (default
below, about 10 s for the file on a 2-core CPU) and prints how many ran (``pytest -s``)::

    DIVEKIT_FUZZ_EXAMPLES=2000 python -m pytest tests/test_fuzz.py -s

Examples are derandomized (the same cases every run) unless ``DIVEKIT_FUZZ_SEED`` is set, and no
example database is written into the tree.
"""

from __future__ import annotations

import json
import math
import os
import re
import select
import subprocess
import sys
import typing
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from divekit.config import LossConfig, ModelConfig, preset
from divekit.errors import DivekitError
from divekit.gravity import GravityConfig
from divekit.pose import PoseConfig
from divekit.runconfig import SECTIONS, build, read_toml
from divekit.selfsup import SelfSupConfig
from divekit.training import TrainConfig
from divekit.video import VideoReader, VideoWriter

EXAMPLES = int(os.environ.get("DIVEKIT_FUZZ_EXAMPLES", "0")) or None
FUZZ_SEED = os.environ.get("DIVEKIT_FUZZ_SEED")


def fuzz_settings(default: int, *, shrink: bool = True):
    """max_examples from DIVEKIT_FUZZ_EXAMPLES (else ``default``); no database, no deadline."""
    return settings(
        max_examples=EXAMPLES or default,
        phases=list(Phase) if shrink else [Phase.explicit, Phase.generate],
        deadline=None,
        database=None,
        derandomize=FUZZ_SEED is None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


def maybe_seeded(test):
    return seed(int(FUZZ_SEED))(test) if FUZZ_SEED is not None else test


def assert_one_line(exc: DivekitError) -> None:
    message = str(exc)
    assert message.strip() and len(message.splitlines()) == 1, repr(message)


class Counter:
    """Counts the cases a test ran by outcome and prints the tally (``pytest -s``), pass or fail."""

    def __init__(self, request: pytest.FixtureRequest):
        self.request, self.counts = request, {}

    def add(self, outcome: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    def __enter__(self) -> Counter:
        return self

    def __exit__(self, *exc) -> None:
        total = sum(self.counts.values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        print(f"\n{self.request.node.name}: {total} cases ({detail})")
        self.request.node.user_properties.append(("fuzz_cases", total))


# --------------------------------------------------------------------------------------------
# The TOML config loader (divekit/runconfig.py) and the dataclasses it fills
# --------------------------------------------------------------------------------------------

CLASSES = {
    "model": ModelConfig,
    "loss": LossConfig,
    "train": TrainConfig,
    "gravity": GravityConfig,
    "selfsup": SelfSupConfig,
    "pose": PoseConfig,
}


def toml_string(text: str) -> str:
    escaped = "".join(
        "\\" + ch if ch in '"\\' else f"\\u{ord(ch):04x}" if ord(ch) < 0x20 or ch == "\x7f" else ch for ch in text
    )
    return f'"{escaped}"'


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_string(key)


def toml_value(value: typing.Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(tables: dict[str, typing.Any]) -> str:
    """Top-level keys holding dicts become [tables]; anything else stays a bare top-level key."""
    plain = [f"{toml_key(k)} = {toml_value(v)}\n" for k, v in tables.items() if not isinstance(v, dict)]
    sections = [
        f"[{toml_key(k)}]\n" + "".join(f"{toml_key(kk)} = {toml_value(vv)}\n" for kk, vv in v.items())
        for k, v in tables.items()
        if isinstance(v, dict)
    ]
    return "".join(plain) + "".join(sections)


# any TOML value: every scalar type TOML has (bar dates), nested arrays and inline tables
scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-3, 1000),
    st.floats(),
    st.floats(1e-6, 10.0),
    st.text(max_size=8),
    st.sampled_from(["small", "paper", "pyramid", "random", "resnet18", "none", "small_cnn", "resnet50"]),
)
garbage = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


def plausible(hint: typing.Any) -> st.SearchStrategy:
    """Values of roughly the declared type, so a fuzzed config often gets past the first check."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.integers(-2, 600)
    if hint is float:
        return st.one_of(st.floats(1e-6, 10.0), st.floats(-1.0, 10.0), st.sampled_from([0.0, 1.0, 0.5, 1e-4]))
    if origin is tuple:
        item = plausible(args[0])
        return (
            st.lists(item, min_size=1, max_size=5) if args[-1] is Ellipsis else st.lists(item, min_size=2, max_size=2)
        )
    return scalars  # strings and optional strings: the enum names are in ``scalars``


def section_values(cls: type) -> st.SearchStrategy:
    hints = typing.get_type_hints(cls)

    # mostly plausible values and known keys (1 in 6 garbage, 1 in 8 an unknown key), so valid
    # configs are common too
    def mostly(usual: st.SearchStrategy, rare: st.SearchStrategy, odds: int) -> st.SearchStrategy:
        return st.integers(0, odds - 1).flatmap(lambda i: rare if i == 0 else usual)

    known = {f.name: mostly(plausible(hints[f.name]), garbage, 6) for f in fields(cls)}
    some_known = st.fixed_dictionaries({}, optional=known)
    unknown = mostly(st.just({}), st.dictionaries(st.text(min_size=1, max_size=6), garbage, min_size=1, max_size=1), 8)
    return st.tuples(some_known, unknown).map(lambda kv: {**kv[0], **kv[1]})


def load_config(path: Path) -> dict[str, typing.Any]:
    """What ``pretrain-gravity --config`` does with a file (divekit/runsetup.py, new run)."""
    out = {}
    for name, values in read_toml(path).items():
        values = dict(values)
        if name == "model":
            out[name] = preset(values.pop("preset", "small"), **values)
        elif name in CLASSES:
            out[name] = build(CLASSES[name], values, where=f"[{name}]")
    return out


def matches(hint: typing.Any, value: typing.Any) -> bool:
    """Does ``value`` have the declared type (a float field must hold a finite real)?"""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if hint is type(None):
        return value is None
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if args[-1] is Ellipsis:
            return all(matches(args[0], v) for v in value)
        return len(value) == len(args) and all(matches(a, v) for a, v in zip(args, value, strict=True))
    if args:  # X | None
        return any(matches(a, value) for a in args)
    return True


def assert_valid(config: typing.Any) -> None:
    hints = typing.get_type_hints(type(config))
    for f in fields(config):
        value = getattr(config, f.name)
        assert matches(hints[f.name], value), f"{type(config).__name__}.{f.name} accepted {value!r}"


def check_config_text(path: Path, data: bytes, counter: Counter) -> None:
    path.write_bytes(data)
    try:
        configs = load_config(path)
    except DivekitError as exc:
        assert_one_line(exc)
        counter.add("refused")
        return
    for config in configs.values():
        assert_valid(config)
    counter.add("accepted")


VALID_CONFIG = """\
[model]
crop_size = 64
frame_size = [128, 256]
[loss]
gamma = 0.1
[train]
batch = 4
lr = 1e-4
[gravity]
proposal_decay_steps = 600
stride_s = [0.03, 0.2]
"""


@st.composite
def mutated_config(draw) -> bytes:
    """A valid config with a few characters inserted, deleted or replaced (UTF-8 kept valid)."""
    text = list(VALID_CONFIG)
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        char = draw(st.sampled_from(list("[]={}\"'.,#\\\n x1-+_e") + ["\x00", "é", "\u2028"]))
        if op == "insert":
            text.insert(i, char)
        elif i < len(text):
            text[i : i + 1] = [] if op == "delete" else [char]
    return "".join(text).encode()


# section names without line breaks: a name holding one is a known bug (see below)
names = st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=8)
documents = st.dictionaries(st.sampled_from(SECTIONS) | names, section_values(TrainConfig) | garbage, max_size=3).map(
    lambda tables: toml_document(tables).encode()
)


def test_config_text_is_parsed_or_refused_in_one_line(tmp_path, request):
    """Any text, mangled configs, random section layouts: sections of tables, or one line."""

    @maybe_seeded
    @fuzz_settings(300)
    @given(data=st.one_of(st.text().map(str.encode), mutated_config(), documents))
    def run(data):
        path = tmp_path / "fuzz.toml"
        path.write_bytes(data)
        try:
            sections = read_toml(path)
        except DivekitError as exc:
            assert_one_line(exc)
            counter.add("refused")
            return
        assert set(sections) <= set(SECTIONS) and all(isinstance(v, dict) for v in sections.values())
        counter.add("parsed")

    with Counter(request) as counter:
        run()
    assert sum(counter.counts.values()) > 0


@pytest.mark.parametrize(
    "section",
    [
        *CLASSES,
    ],
)
def test_config_values_of_any_type_are_valid_or_refused(tmp_path, section, request):
    """Each section: known and unknown keys with values of every type -> a valid config or one line."""

    @maybe_seeded
    @fuzz_settings(200)
    @given(values=section_values(CLASSES[section]))
    def run(values):
        check_config_text(tmp_path / "fuzz.toml", toml_document({section: values}).encode(), counter)

    with Counter(request) as counter:
        run()
    assert counter.counts.get("accepted", 0) > 0 and counter.counts.get("refused", 0) > 0


def test_config_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes("[model]\n# réglages\n".encode("latin-1"))
    with pytest.raises(DivekitError):
        read_toml(path)


def test_section_name_with_a_line_break_is_refused_in_one_line(tmp_path):
    path = tmp_path / "newline.toml"
    path.write_text('["a\\nb"]\nx = 1\n')
    with pytest.raises(DivekitError) as info:
        read_toml(path)
    assert_one_line(info.value)


# --------------------------------------------------------------------------------------------
# The video reader (divekit/video.py) on truncated and corrupted files
# --------------------------------------------------------------------------------------------

CASE_TIMEOUT_S = 20.0  # a clean case takes ~30 ms; anything near this is a hang

# Decoding runs in a worker process: a corrupt index used to abort the interpreter inside decord
# (std::bad_alloc, see video._check_frame_count), and a test must report that, not die of it.
WORKER = r"""
import json, resource, sys, traceback
import numpy as np
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))  # a runaway allocation fails, not the machine
from divekit.errors import DivekitError
from divekit.video import VideoReader

for line in sys.stdin:
    case = json.loads(line)
    out = {"read": 0}
    try:
        reader = VideoReader(case["path"], size=tuple(case["size"]) if case["size"] else None)
        info, times = reader.info, reader.timestamps
        out.update(frames=len(reader), width=info.width, height=info.height)
        out["times_ok"] = bool(len(times) == len(reader) and np.isfinite(times).all() and (np.diff(times) > 0).all())
        shapes = set()
        for idx, frames, t in reader.iter_batches(16):
            shapes.add((frames.shape[1:], str(frames.dtype), len(frames) == len(idx) == len(t)))
            out["read"] += len(frames)
        out["shapes"] = [list(map(str, s)) for s in sorted(shapes)]
        out["outcome"] = "frames"
    except DivekitError as exc:
        out.update(outcome="refused", message=str(exc))
    except BaseException as exc:
        out.update(outcome="exception", message="".join(traceback.format_exception(exc))[-2000:])
    print(json.dumps(out), flush=True)
"""


class DecodeWorker:
    """One long-lived python process that decodes the cases; restarted after a crash or a hang."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.started = 0

    def _start(self) -> subprocess.Popen:
        self.started += 1
        return subprocess.Popen(
            [sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip

    def run(self, path: Path, size: tuple[int, int] | None) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        self.proc.stdin.write(json.dumps({"path": str(path), "size": size}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], CASE_TIMEOUT_S)
        line = self.proc.stdout.readline() if ready else ""
        if line:
            return json.loads(line)
        if not ready:
            self.close()
            return {"outcome": "hang"}
        code = self.proc.wait()
        self.proc = None
        return {"outcome": "crash", "message": f"worker died with exit code {code}"}

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture(scope="module")
def worker():
    w = DecodeWorker()
    yield w
    w.close()


def faststart_copy(src: Path, dst: Path) -> Path:
    """The same packets with the index (moov) before the data, as phones and web tools write it."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    return dst


def top_level_boxes(data: bytes) -> dict[str, tuple[int, int]]:
    """MP4 top-level boxes: name -> (offset, end)."""
    boxes, pos = {}, 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        name = data[pos + 4 : pos + 8].decode("latin-1")
        if size < 8:
            break
        boxes[name] = (pos, min(pos + size, len(data)))
        pos += size
    return boxes


@pytest.fixture(scope="module")
def clean_clips(falling_square, tmp_path_factory) -> dict[str, bytes]:
    """The session clip as written (index last) and re-muxed with the index first."""
    folder = tmp_path_factory.mktemp("fuzz_clips")
    fast = faststart_copy(falling_square.path, folder / "fast.mp4")
    clips = {"index_last": falling_square.path.read_bytes(), "index_first": fast.read_bytes()}
    for data in clips.values():
        assert "moov" in top_level_boxes(data) and "mdat" in top_level_boxes(data)
    return clips


@st.composite
def corruptions(draw, clips: dict[str, bytes]):
    """(layout, cut or None, [(offset, xor)], size): a truncation and/or flipped bytes of one clip."""
    layout = draw(st.sampled_from(sorted(clips)))
    data = clips[layout]
    cut = draw(st.none() | st.integers(0, len(data) - 1))
    where = draw(st.sampled_from(["anywhere", "index", "frames"]))
    lo, hi = {
        "anywhere": (0, len(data)),
        "index": top_level_boxes(data)["moov"],
        "frames": top_level_boxes(data)["mdat"],
    }[where]
    flips = draw(st.lists(st.tuples(st.integers(lo, hi - 1), st.integers(1, 255)), max_size=8))
    size = draw(st.sampled_from([None, (32, 64)]))
    return layout, cut, flips, size


def corrupt(data: bytes, cut: int | None, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for offset, xor in flips:
        out[offset] ^= xor
    return bytes(out[:cut] if cut is not None else out)


def test_decode_worker_reads_the_clean_clips(worker, clean_clips, tmp_path):
    for layout, data in clean_clips.items():
        path = tmp_path / f"{layout}.mp4"
        path.write_bytes(data)
        result = worker.run(path, None)
        assert result["outcome"] == "frames" and result["read"] == 40 and result["times_ok"], result
        assert result["shapes"] == [["(128, 64, 3)", "uint8", "True"]]


def test_truncated_or_corrupted_video_is_read_or_refused(worker, clean_clips, tmp_path, request):
    path = tmp_path / "fuzz.mp4"

    @maybe_seeded
    @fuzz_settings(400)
    @given(case=corruptions(clean_clips))
    def run(case):
        layout, cut, flips, size = case
        path.write_bytes(corrupt(clean_clips[layout], cut, flips))
        result = worker.run(path, size)
        counter.add(result["outcome"])
        assert result["outcome"] in ("frames", "refused"), result.get("message", result)
        if result["outcome"] == "refused":
            assert result["message"].strip() and len(result["message"].splitlines()) == 1, result["message"]
            return
        # a partial read is fine, a wrong one is not: every frame it gives has the promised shape
        # and type, and times increase
        w, h = size or (result["width"], result["height"])
        assert result["read"] == result["frames"] > 0
        assert result["shapes"] == [[str((h, w, 3)), "uint8", "True"]], result
        assert result["times_ok"], result

    with Counter(request) as counter:
        run()


@pytest.mark.parametrize("bad_metadata", [False, True])
def test_corrupt_frame_count_is_refused_not_an_abort(worker, clean_clips, tmp_path, bad_metadata):
    """The aborts the fuzzer found: one byte of the stts box made the frame count 1.46e9 in 5 kB, and
    decord aborted (std::bad_alloc); with a stream name that is not UTF-8 as well, PyAV could not
    read the header either (sample_data clip, 1 case in 1000)."""
    data = bytearray(clean_clips["index_last"])
    stts = data.index(b"stts")  # type, version/flags, entry count, then (sample count, delta) pairs
    data[stts + 12 : stts + 16] = (0x57000000).to_bytes(4, "big")
    if bad_metadata:
        name = data.index(b"VideoHandler")
        data[name + 11] = 0xE3  # the first byte of a three-byte UTF-8 sequence, then the name ends
    path = tmp_path / "count.mp4"
    path.write_bytes(bytes(data))
    result = worker.run(path, None)
    assert result["outcome"] == "refused" and "impossible frame count" in result["message"], result


def test_repeated_timestamps_are_refused(tmp_path):
    """Non-increasing times (a corrupt stts) break time search and the free-fall fits: refused."""
    clip = tmp_path / "repeat.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(clip, 32, 32) as writer:
        for i in range(6):
            writer.write(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8), i / 30)
    data = bytearray(clip.read_bytes())
    stts = data.index(b"stts")
    count = int.from_bytes(data[stts + 8 : stts + 12], "big")
    assert count >= 1
    # the first entry: (sample count, sample delta); a delta of 0 stacks frames on one time
    data[stts + 16 : stts + 20] = (0).to_bytes(4, "big")
    clip.write_bytes(bytes(data))
    with pytest.raises(DivekitError, match="do not increase"):
        VideoReader(clip)


# --------------------------------------------------------------------------------------------
# The label CSV parser (divekit/labels.py) and the calibration file parser (calibration/calibfile.py)
# --------------------------------------------------------------------------------------------

LABEL_HEADER = "video,frame,joint,x,y,z,u,v"


def label_rows():
    """Mostly plausible rows, with every field sometimes replaced by something wrong."""
    from divekit.skeleton import JOINTS

    number = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
        st.integers(-5, 50).map(str),
        st.sampled_from(["", "nan", "x", "1e999", " "]),
    )
    return st.tuples(
        st.sampled_from(["a", "b.mp4", "", "c"]),
        st.one_of(st.integers(-2, 30).map(str), st.sampled_from(["1.5", "", "x"])),
        st.one_of(st.sampled_from(JOINTS), st.text(max_size=6)),
        number,
        number,
        number,
        number,
        number,
    ).map(lambda row: ",".join(_csv_cell(c) for c in row))


def _csv_cell(text: str) -> str:
    """Quote a cell the way a spreadsheet would, so the fuzz is about values, not broken quoting."""
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ',"\n\r') else text


@maybe_seeded
@fuzz_settings(300)
@given(
    header=st.one_of(st.just(LABEL_HEADER), st.sampled_from(["frame,joint,x,y,z", "video,frame,x,y,z", "a,b,c", ""])),
    rows=st.lists(label_rows(), max_size=30),
    full=st.booleans(),
)
def test_label_files_are_read_or_refused_in_one_line(tmp_path_factory, header, rows, full):
    from divekit.labels import read_labels
    from divekit.skeleton import JOINTS

    path = tmp_path_factory.mktemp("labels") / "fuzz.csv"
    if full:  # a complete valid frame, so some cases are accepted
        rows = [f"a,0,{j},0.1,0.2,3.0,10,20" for j in JOINTS] + rows
    path.write_text("\n".join([header, *rows]) + "\n")
    try:
        labels = read_labels([path])
    except DivekitError as exc:
        assert_one_line(exc)
        return
    for item in labels.values():
        assert item.xyz is None or (np.isfinite(item.xyz).all() and item.xyz.shape == (len(item.frames), 13, 3))
        assert (np.diff(item.frames) > 0).all() and (item.frames >= 0).all()


@maybe_seeded
@fuzz_settings(300)
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.lists(
            st.sampled_from(
                [
                    "[calibration]",
                    "[camera]",
                    "version = 1",
                    "version = 2",
                    "metres_per_pixel = 0.01",
                    "metres_per_pixel = -1",
                    "metres_per_pixel = 'a'",
                    "metres_per_pixel = nan",
                    "metres_per_pixel_uncertainty = 0.001",
                    "note = 'x'",
                    "fx = 500.0",
                    "fy = 500.0",
                    "cx = 128.0",
                    "cy = 256.0",
                    "width = 256",
                    "height = 512",
                    "width = 0",
                    "extra = 1",
                    "[other]",
                ]
            ),
            max_size=12,
        ).map("\n".join),
    )
)
def test_calibration_files_are_read_or_refused_in_one_line(tmp_path_factory, text):
    from divekit.calibration.calibfile import Calibration, load_calibration

    path = tmp_path_factory.mktemp("calib") / "cal.toml"
    path.write_bytes(text.encode("utf-8", errors="replace"))
    try:
        calibration = load_calibration(path)
    except DivekitError as exc:
        assert_one_line(exc)
        return
    assert isinstance(calibration, Calibration) and calibration.metres_per_pixel > 0
