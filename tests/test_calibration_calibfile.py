import tomllib

import pytest

from divekit.calibration.calibfile import Calibration, Intrinsics, load_calibration, save_calibration
from divekit.errors import DivekitError

GOOD = """\
version = 1

[calibration]
metres_per_pixel = 0.016
metres_per_pixel_uncertainty = 0.0002

[camera]
fx = 560.5
fy = 560.5
cx = 128.0
cy = 256.0
width = 256
height = 512
"""


def write(tmp_path, text: str):
    path = tmp_path / "cal.toml"
    path.write_text(text)
    return path


def one_line_error(path) -> str:
    with pytest.raises(DivekitError) as info:
        load_calibration(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_round_trip_with_camera_and_a_hostile_note(tmp_path):
    cal = Calibration(
        metres_per_pixel=0.0160301984754,
        metres_per_pixel_uncertainty=1e-05,
        camera=Intrinsics(fx=560.2877688684175, fy=560.0, cx=130.5, cy=251.1, width=256, height=512),
        note='pool "B"\\ side\n\tline two \x7f é 🌊',
    )
    path = tmp_path / "cal.toml"
    save_calibration(path, cal, source="fitted from dive.mp4\nsecond line")
    text = path.read_text()
    assert text.startswith("# divekit calibration")
    assert "# Source: fitted from dive.mp4 second line" in text
    assert load_calibration(path) == cal
    assert list(tmp_path.iterdir()) == [path]  # atomic: no temporary file left behind
    cam = load_calibration(path).camera.to_camera()
    assert cam.fx == 560.2877688684175 and cam.width == 256


def test_minimal_file(tmp_path):
    path = write(tmp_path, "[calibration]\nmetres_per_pixel = 1\n")
    assert load_calibration(path) == Calibration(metres_per_pixel=1.0)
    save_calibration(path, Calibration(metres_per_pixel=0.02))
    assert tomllib.loads(path.read_text()) == {"version": 1, "calibration": {"metres_per_pixel": 0.02}}


def test_good_file(tmp_path):
    cal = load_calibration(write(tmp_path, GOOD))
    assert cal.metres_per_pixel == 0.016 and cal.metres_per_pixel_uncertainty == 0.0002
    assert cal.camera == Intrinsics(560.5, 560.5, 128.0, 256.0, 256, 512)


def test_missing_file(tmp_path):
    assert "does not exist" in one_line_error(tmp_path / "nope.toml")


def test_invalid_toml_names_the_line(tmp_path):
    message = one_line_error(write(tmp_path, "[calibration]\nmetres_per_pixel = 0.016\nfx = = 3\n"))
    assert "not valid TOML" in message and "line 3" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "missing table [calibration]"),
        ("[calibration]\nnote = 'x'\n", "missing [calibration] metres_per_pixel"),
        (GOOD.replace("cy = 256.0\n", "").replace("width = 256\n", ""), "missing [camera] cy, width"),
        (GOOD.replace("0.016", '"0.016"'), "metres_per_pixel must be a number, got str"),
        (GOOD.replace("width = 256", "width = 256.0"), "width must be an integer, got float"),
        (GOOD.replace("fx = 560.5", "fx = true"), "fx must be a number, got bool"),
        (GOOD.replace("0.016", "-0.016"), "metres_per_pixel must be positive"),
        (GOOD.replace("0.016", "0"), "metres_per_pixel must be positive"),
        (GOOD.replace("0.016", "inf"), "metres_per_pixel must be positive and finite"),
        (GOOD.replace("0.016", "nan"), "metres_per_pixel must be positive and finite"),
        (GOOD.replace("0.0002", "-1e-3"), "metres_per_pixel_uncertainty must be >= 0"),
        (GOOD.replace("height = 512", "height = 0"), "height must be positive"),
        (GOOD + "colour = 3\n", "unknown key colour"),
        (GOOD.replace("[camera]", "[camera]\nk1 = 0.1\nk2 = 0.0"), "unknown keys k1, k2"),
        ("scale = 2\n" + GOOD, "unknown key scale"),
        (GOOD.replace("version = 1", "version = 2"), "version must be 1"),
        ("calibration = 3\n", "calibration must be a table"),
        (GOOD.replace("metres_per_pixel_uncertainty = 0.0002", "note = 5"), "note must be a string"),
    ],
)
def test_bad_files_give_one_clear_line(tmp_path, text, expected):
    assert expected in one_line_error(write(tmp_path, text))


def test_not_utf8_and_folder(tmp_path):
    path = tmp_path / "cal.toml"
    path.write_bytes(b"\xff\xfe[calibration]")
    assert "UTF-8" in one_line_error(path)
    assert "folder" in one_line_error(tmp_path)


def test_save_refuses_bad_values_and_missing_folders(tmp_path):
    with pytest.raises(DivekitError, match="metres_per_pixel must be positive"):
        save_calibration(tmp_path / "a.toml", Calibration(metres_per_pixel=-1.0))
    with pytest.raises(DivekitError, match="cannot write"):
        save_calibration(tmp_path / "no" / "such" / "a.toml", Calibration(metres_per_pixel=1.0))
    assert list(tmp_path.iterdir()) == []
