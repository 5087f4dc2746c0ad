"""Every data.name trains and evaluates end to end on a small synthetic file in the real format; data sets
without factors (mnist, celeba) report the ELBO and TC and skip the factor metrics with a note."""

import gzip
import json

import numpy as np
import pytest

from tcdecomp.cli import main
from tcdecomp.vae.plots import write_png

CONFIG = """
[model]
arch = "{arch}"
latent_dim = 4
capacity = {capacity}
[loss]
name = "beta_stcvae"
group_size = 2
[data]
name = "{name}"
path = "{path}"
holdout = 0.25
[train]
steps = 3
batch_size = 8
checkpoint_every = 3
log_every = 1
out_dir = "{out}"
"""


def _idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def write_mnist(folder):
    rng = np.random.default_rng(0)
    folder.mkdir()
    _idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (40, 28, 28)))
    _idx(folder / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, 40))
    return folder


def write_celeba(folder):
    rng = np.random.default_rng(1)
    folder.mkdir()
    for i in range(16):  # the aligned-and-cropped CelebA size, 178 wide x 218 high
        write_png(folder / f"{i:06d}.png", rng.integers(0, 256, (218, 178, 3)).astype(np.uint8))
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("name, arch, capacity", [("mnist", "mlp", 16), ("celeba", "conv", 4)])
def test_factorless_data_sets_train_and_evaluate(tmp_path, capsys, name, arch, capacity):
    if name == "celeba":
        pytest.importorskip("PIL")
    data = write_mnist(tmp_path / "mnist") if name == "mnist" else write_celeba(tmp_path / "celeba")
    out = tmp_path / "run"
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(arch=arch, capacity=capacity, name=name, path=data.as_posix(), out=out.as_posix()))
    assert main(["train", str(cfg), "--quiet"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["evaluate", str(out), "--num-samples", "50", "--json", "--metrics", "dci"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert np.isfinite(result["decomposition"]["elbo"]["value"]) and np.isfinite(result["decomposition"]["tc"]["value"])
    assert "mig_sampled" not in result and "dci" not in result
    assert result["notes"] == [f"{name} has no factors: MIG and the metric suite are skipped"]
    assert main(["evaluate", str(out), "--num-samples", "50", "--overwrite"]) == 0
    assert "note: " + result["notes"][0] in capsys.readouterr().out


def test_mnist_needs_the_mlp_architecture(tmp_path, capsys):
    data = write_mnist(tmp_path / "mnist")
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(arch="conv", capacity=4, name="mnist", path=data.as_posix(), out=tmp_path / "o"))
    assert main(["train", str(cfg), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "arch='mlp'" in err


IMAGE_SHAPES = {"dsprites": (1, 64, 64), "3dshapes": (3, 64, 64), "cars3d": (3, 64, 64), "mnist": (1, 28, 28)}
IMAGE_SHAPES["celeba"] = (3, 64, 64)


def test_shipped_configs_load_and_state_their_parameter_count():
    import re
    from pathlib import Path

    from tcdecomp.vae.config import load_config
    from tcdecomp.vae.data import DATASETS
    from tcdecomp.vae.models import build_vae

    folder = Path(__file__).resolve().parents[2] / "configs"
    shipped = {p.stem: p for p in folder.glob("*_*.toml")}
    assert {f"{name}_mlp" for name in DATASETS} <= set(shipped)  # an MLP config for every data set
    assert {f"{name}_conv" for name in DATASETS if name != "mnist"} <= set(shipped)
    for path in shipped.values():
        config = load_config(path)
        stated = int(re.search(r"here ([\d,]+) parameters", path.read_text()).group(1).replace(",", ""))
        m = config.model
        vae = build_vae(m.arch, m.latent_dim, m.capacity, image_shape=IMAGE_SHAPES[config.data.name])
        assert sum(p.numel() for p in vae.parameters()) == stated, path.name
