"""The file system refuses (a read-only folder, a full disk): every command that writes says so in one line, and
what was on disk before stays consistent.

The errors are injected in-process (as root, a chmod would not stop the writer)."""

import errno
import os

import pytest

from tcdecomp import files as tio
from tcdecomp.cli import main
from tcdecomp.vae.checkpoint import CHECKPOINT, load_checkpoint

from ..test_cli_config_errors import TRAIN, sweep_file


def _refuse_locks(monkeypatch, code: int):
    real_open = os.open

    def fake_open(path, *args, **kwargs):
        if str(path).endswith(tio.LOCK_FILE):
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(tio.os, "open", fake_open)


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("code,words", [(errno.EROFS, "read-only"), (errno.EACCES, "permission denied")])
@pytest.mark.parametrize("command", ["train", "evaluate", "sweep", "demo"])
def test_an_unwritable_folder_is_one_line(command, code, words, tmp_path, monkeypatch, capsys):
    if command == "evaluate":
        assert main(TRAIN + ["--out-dir", str(tmp_path / "run")]) == 0
    argv = {
        "train": TRAIN + ["--out-dir", str(tmp_path / "out")],
        "evaluate": ["evaluate", str(tmp_path / "run"), "--out-dir", str(tmp_path / "ev")],
        "sweep": ["sweep", sweep_file(tmp_path), "--out-dir", str(tmp_path / "s"), "--quiet"],
        "demo": ["demo", "--steps", "1", "--quiet", "--out-dir", str(tmp_path / "demo")],
    }[command]
    capsys.readouterr()
    _refuse_locks(monkeypatch, code)
    assert main(argv) == 2
    err = _one_line(capsys)
    assert words in err and tio.LOCK_FILE in err, err


def test_a_full_disk_leaves_the_last_checkpoint_intact(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    assert main(TRAIN + ["--out-dir", str(out)]) == 0
    before = load_checkpoint(out)
    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out / CHECKPOINT))

    monkeypatch.setattr(tio.os, "fsync", full)
    capsys.readouterr()
    assert main(TRAIN + ["--out-dir", str(out), "--resume", "--set", "train.steps=4"]) == 2
    err = _one_line(capsys)
    assert "disk is full" in err and "intact" in err, err
    monkeypatch.setattr(tio.os, "fsync", real_fsync)
    after = load_checkpoint(out)
    assert after["step"] == before["step"] and after["sha256"] == before["sha256"]
    assert not list(out.glob(".*.tmp"))  # the unfinished temp file was removed
    assert main(TRAIN + ["--out-dir", str(out), "--resume", "--set", "train.steps=4"]) == 0  # and it resumes
    assert load_checkpoint(out)["step"] == 4
