"""A calibration file to save a known camera and reuse it with ``--calibration FILE``.

TOML, written by hand (no dependency) and read with the standard library's ``tomllib``::

    # divekit calibration (header comments say where it came from and the units)
    version = 1

    [calibration]
    metres_per_pixel = 0.016            # metres per pixel on the dive plane (required, > 0)
    metres_per_pixel_uncertainty = 0.0002  # 1-sigma, metres per pixel (optional, >= 0)
    note = "fitted from dive.mp4"       # free text (optional)

    [camera]                            # optional; all six keys when present
    fx = 560.3                          # focal lengths, pixels
    fy = 560.3
    cx = 128.0                          # principal point, pixels from the top-left corner
    cy = 256.0
    width = 256                         # image size, pixels (integers)
    height = 512

Every problem with a file is a :class:`divekit.errors.DivekitError` of one line that names the
file and the key.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from divekit.calibration.camera import Camera
from divekit.errors import DivekitError
from divekit.io import write_text_atomic

VERSION = 1
_CAMERA_FLOATS = ("fx", "fy", "cx", "cy")
_CAMERA_INTS = ("width", "height")


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels (see :class:`divekit.calibration.camera.Camera`)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def to_camera(self) -> Camera:
        """A :class:`Camera` with these intrinsics at the origin (identity pose)."""
        return Camera(fx=self.fx, fy=self.fy, cx=self.cx, cy=self.cy, width=self.width, height=self.height)


@dataclass(frozen=True)
class Calibration:
    """What a calibration file holds: the dive plane's scale and optionally the camera intrinsics."""

    metres_per_pixel: float  # metres per pixel on the dive plane
    metres_per_pixel_uncertainty: float | None = None  # 1-sigma, metres per pixel
    camera: Intrinsics | None = None
    note: str | None = None


def _toml_string(text: str) -> str:
    """A TOML basic string: escapes quotes, backslashes and every control character."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(ch, f"\\u{ord(ch):04X}"))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _float(x: float) -> str:
    return repr(float(x))  # shortest round-trip form, valid TOML (e.g. 0.016, 1e-05)


def _check_positive(where: str, value: object, *, integer: bool = False, allow_zero: bool = False) -> None:
    """Raise DivekitError unless ``value`` is a finite positive number (an int if ``integer``)."""
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise DivekitError(f"{where} must be {kind}, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise DivekitError(f"{where} must be {'>= 0' if allow_zero else 'positive'} and finite, got {value!r}")


def _validate(cal: Calibration, where: str) -> None:
    _check_positive(f"{where}[calibration] metres_per_pixel", cal.metres_per_pixel)
    if cal.metres_per_pixel_uncertainty is not None:
        _check_positive(
            f"{where}[calibration] metres_per_pixel_uncertainty", cal.metres_per_pixel_uncertainty, allow_zero=True
        )
    if cal.note is not None and not isinstance(cal.note, str):
        raise DivekitError(f"{where}[calibration] note must be a string, got {type(cal.note).__name__}")
    if cal.camera is not None:
        for key in _CAMERA_FLOATS:
            _check_positive(f"{where}[camera] {key}", getattr(cal.camera, key))
        for key in _CAMERA_INTS:
            _check_positive(f"{where}[camera] {key}", getattr(cal.camera, key), integer=True)


def save_calibration(path: Path, calibration: Calibration, *, source: str | None = None) -> None:
    """Write ``calibration`` to ``path`` as TOML, atomically; ``source`` goes into the header comment."""
    path = Path(path)
    _validate(calibration, "cannot save calibration: ")
    lines = [
        "# divekit calibration file: reuse it with `divekit analyze VIDEO --calibration FILE`.",
        "# Units: metres_per_pixel and its 1-sigma uncertainty in metres per pixel on the dive plane;",
        "# [camera] fx, fy (focal lengths), cx, cy (principal point) and width, height in pixels.",
    ]
    if source:
        lines.append("# Source: " + " ".join(source.split()))
    lines += ["", f"version = {VERSION}", "", "[calibration]"]
    lines.append(f"metres_per_pixel = {_float(calibration.metres_per_pixel)}")
    if calibration.metres_per_pixel_uncertainty is not None:
        lines.append(f"metres_per_pixel_uncertainty = {_float(calibration.metres_per_pixel_uncertainty)}")
    if calibration.note is not None:
        lines.append(f"note = {_toml_string(calibration.note)}")
    if calibration.camera is not None:
        cam = calibration.camera
        lines += ["", "[camera]"]
        lines += [f"{k} = {_float(getattr(cam, k))}" for k in _CAMERA_FLOATS]
        lines += [f"{k} = {int(getattr(cam, k))}" for k in _CAMERA_INTS]
    try:
        write_text_atomic(path, "\n".join(lines) + "\n")
    except OSError as exc:
        raise DivekitError(f"cannot write calibration file {path}: {exc.strerror or exc}") from None


def _unknown(where: str, table_name: str, table: dict, allowed: tuple[str, ...]) -> None:
    extra = sorted(set(table) - set(allowed))
    if extra:
        keys = f"key{'s' if len(extra) > 1 else ''} {', '.join(extra)}"
        raise DivekitError(f"{where}: unknown {keys} in {table_name} (allowed: {', '.join(allowed)})")


def _table(where: str, data: dict, name: str) -> dict | None:
    value = data.get(name)
    if value is not None and not isinstance(value, dict):
        raise DivekitError(f"{where}: {name} must be a table [{name}], got {type(value).__name__}")
    return value


def load_calibration(path: Path) -> Calibration:
    """Read a calibration file; a DivekitError of one line for any problem with it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DivekitError(f"calibration file {path} does not exist") from None
    except IsADirectoryError:
        raise DivekitError(f"calibration file {path} is a folder") from None
    except UnicodeDecodeError:
        raise DivekitError(f"calibration file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise DivekitError(f"cannot read calibration file {path}: {exc.strerror or exc}") from None
    where = f"calibration file {path}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # the message names the line and column, e.g. "Invalid value (at line 3, column 20)"
        raise DivekitError(f"{where} is not valid TOML: {' '.join(str(exc).split())}") from None

    _unknown(where, "the top level", data, ("version", "calibration", "camera"))
    version = data.get("version", VERSION)
    if isinstance(version, bool) or version != VERSION:
        raise DivekitError(f"{where}: version must be {VERSION}, got {version!r}")
    cal = _table(where, data, "calibration")
    if cal is None:
        raise DivekitError(f"{where}: missing table [calibration] with metres_per_pixel")
    _unknown(where, "[calibration]", cal, ("metres_per_pixel", "metres_per_pixel_uncertainty", "note"))
    if "metres_per_pixel" not in cal:
        raise DivekitError(f"{where}: missing [calibration] metres_per_pixel")
    intrinsics = None
    cam = _table(where, data, "camera")
    if cam is not None:
        keys = _CAMERA_FLOATS + _CAMERA_INTS
        _unknown(where, "[camera]", cam, keys)
        missing = [k for k in keys if k not in cam]
        if missing:
            raise DivekitError(f"{where}: missing [camera] {', '.join(missing)}")
        for key in _CAMERA_FLOATS:
            _check_positive(f"{where}: [camera] {key}", cam[key])
        for key in _CAMERA_INTS:
            _check_positive(f"{where}: [camera] {key}", cam[key], integer=True)
        intrinsics = Intrinsics(**{k: float(cam[k]) for k in _CAMERA_FLOATS}, **{k: cam[k] for k in _CAMERA_INTS})
    mpp = cal["metres_per_pixel"]
    unc = cal.get("metres_per_pixel_uncertainty")
    note = cal.get("note")
    _check_positive(f"{where}: [calibration] metres_per_pixel", mpp)
    if unc is not None:
        _check_positive(f"{where}: [calibration] metres_per_pixel_uncertainty", unc, allow_zero=True)
    if note is not None and not isinstance(note, str):
        raise DivekitError(f"{where}: [calibration] note must be a string, got {type(note).__name__}")
    return Calibration(
        metres_per_pixel=float(mpp),
        metres_per_pixel_uncertainty=None if unc is None else float(unc),
        camera=intrinsics,
        note=note,
    )
