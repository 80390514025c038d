"""A full disk or a read-only folder: one clear line, and everything written before is intact."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import pytest
from test_cli import assert_one_line_error, run

import divekit.io


def fail_writes_after(monkeypatch, count: int, code: int) -> None:
    """Let ``count`` atomic writes succeed, then fail every later one as the OS would with ``code``."""
    real = divekit.io.tempfile.mkstemp
    calls = {"n": 0}

    def mkstemp(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > count:
            raise OSError(code, os.strerror(code), kwargs.get("dir"))
        return real(*args, **kwargs)

    monkeypatch.setattr(divekit.io.tempfile, "mkstemp", mkstemp)


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_background_keeps_the_earlier_image(tmp_path, falling_square, monkeypatch, code):
    out = tmp_path / "bg"
    assert run("background", falling_square.path, "-o", out).exit_code == 0
    before = snapshot(out)
    fail_writes_after(monkeypatch, 0, code)
    result = run("background", falling_square.path, "-o", out, "--force")
    assert_one_line_error(result, os.strerror(code))
    assert snapshot(out) == before


def test_resumed_training_keeps_its_checkpoint_when_the_disk_fills(tmp_path, dive_folder, tiny_config, monkeypatch):
    out = tmp_path / "run"
    assert run("pretrain-gravity", dive_folder, "-o", out, "--config", tiny_config, "--steps", 2).exit_code == 0
    before = snapshot(out)
    fail_writes_after(monkeypatch, 0, errno.ENOSPC)
    result = run("pretrain-gravity", dive_folder, "-o", out, "--steps", 4, "--resume")
    assert_one_line_error(result, "No space left on device")
    assert snapshot(out) == before


def test_analyze_keeps_the_old_report_when_the_disk_fills(tmp_path, dive_folder, tiny_pose_model, monkeypatch):
    out = tmp_path / "reports"
    assert run("analyze", dive_folder / "dive0.mp4", "--model", tiny_pose_model, "-o", out).exit_code == 0
    before = snapshot(out)
    fail_writes_after(monkeypatch, 2, errno.ENOSPC)  # the new report fails part-way through
    result = run("analyze", dive_folder / "dive0.mp4", "--model", tiny_pose_model, "-o", out, "--force")
    assert_one_line_error(result, "No space left on device")
    assert snapshot(out) == before
    assert [p.name for p in out.iterdir()] == ["dive0"]  # no half-built report left beside it


def test_remove_leftovers_takes_only_what_a_killed_write_left(tmp_path):
    from divekit.io import atomic_path, remove_leftovers, staging_dir

    with atomic_path(tmp_path / "losses.csv") as tmp:  # the names a write in progress has
        ours = [tmp]
    with staging_dir(tmp_path) as stage:  # and a staging folder
        ours += [tmp_path / ".checkpoint.pt.ab_12xyz.part.pt", stage]
    (tmp_path / "losses.csv").unlink()
    for p in ours[:2]:
        p.write_text("half")
    ours[2].mkdir()
    (ours[2] / "boxes.csv").write_text("half")
    mine = ["checkpoint.pt", ".notes.part", ".hidden.part.txt", "data.abcdefgh.part.csv", ".x.abcdefghi.part.pt"]
    for name in mine:
        (tmp_path / name).write_text("mine")

    assert sorted(remove_leftovers(tmp_path)) == sorted(ours)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(mine)
    assert all((tmp_path / name).read_text() == "mine" for name in mine)


def test_outputs_get_the_permissions_a_plain_write_would_give(tmp_path):
    """mkstemp and mkdtemp make private files (0600) and folders (0700); renamed into place as they
    are, a report would be unreadable to anyone else the umask lets read it."""
    import stat

    from divekit.io import replace_dir, write_text_atomic

    def mode(p):
        return stat.S_IMODE(p.stat().st_mode)

    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "new.csv", "a\n")
        assert mode(tmp_path / "new.csv") == 0o644
        kept = tmp_path / "private.csv"
        kept.write_text("old\n")
        kept.chmod(0o600)
        write_text_atomic(kept, "new\n")  # replacing a file keeps its permissions
        assert mode(kept) == 0o600 and kept.read_text() == "new\n"
        built = Path(tempfile.mkdtemp(dir=tmp_path))
        replace_dir(built, tmp_path / "report")
        assert mode(tmp_path / "report") == 0o755
        os.umask(0o077)
        write_text_atomic(tmp_path / "secret.csv", "a\n")
        assert mode(tmp_path / "secret.csv") == 0o600
    finally:
        os.umask(old)
