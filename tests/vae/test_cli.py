import json

import pytest

from tcdecomp.cli import main

from .runs import TINY_SUBSET
from .test_train import write_config


@pytest.mark.slow
def test_train_then_evaluate(tmp_path, capsys):
    cfg = write_config(tmp_path, "run", 30)
    assert main(["train", str(cfg), "--quiet"]) == 0
    assert main(["evaluate", str(tmp_path / "run"), "--num-samples", "500", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert {"decomposition", "mig_sampled", "mig_discrete", "omniscient_latents"} <= set(result)
    for picture in result["pictures"]:
        assert open(picture, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert main(["evaluate", str(tmp_path / "run"), "--num-samples", "500", "--overwrite"]) == 0
    report = capsys.readouterr().out
    assert "TC_groups" in report and "MIG sampled" in report


def test_missing_checkpoint_is_one_line(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nothing")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.slow
def test_demo_runs_end_to_end_on_a_tiny_subset(tmp_path, capsys, monkeypatch):
    from tcdecomp.vae import demo

    small = demo.demo_config
    monkeypatch.setattr(demo, "demo_config", lambda out_dir, steps: _tiny(small(out_dir, steps)))
    assert main(["demo", "--out-dir", str(tmp_path), "--steps", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "bottom-up TC decomposition" in out and "MIG" in out
    assert (tmp_path / "traversal.png").exists()


def _tiny(config):
    config.data.subset = dict(TINY_SUBSET)
    config.model.capacity = 4
    config.train.batch_size = 16
    return config
