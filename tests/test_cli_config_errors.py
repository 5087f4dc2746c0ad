"""User mistakes get one line that names the argument, before any work starts.

Each case is one row: the command line (or call) and a fragment the one-line error must contain."""

import math

import numpy as np
import pytest
import torch

from tcdecomp.cli import main
from tcdecomp.vae.checkpoint import CHECKPOINT
from tcdecomp.vae.config import load_config
from tcdecomp.vae.losses import build_loss

from .vae.runs import TINY_SUBSET_TOML

SMALL_DATA = "data.subset={orientation=20,scale=3,posX=8,posY=8}"  # 3 x 2 x 2 x 4 x 4 = 192 images
TRAIN = [
    "train",
    "--quiet",
    "--set",
    "model.arch='mlp'",
    "--set",
    "model.capacity=8",
    "--set",
    "model.latent_dim=4",
    "--set",
    SMALL_DATA,
    "--set",
    "train.steps=2",
    "--set",
    "train.batch_size=8",
]

SWEEP_BASE = """
name = "s"
{top}
[base.model]
arch = "mlp"
capacity = 8
latent_dim = 2
[base.loss]
name = "beta_tcvae"
[base.data]
subset = {subset}
[base.train]
steps = 2
batch_size = 8
[grid]
{grid}
{rest}
"""
SWEEP_BASE = SWEEP_BASE.replace("{subset}", TINY_SUBSET_TOML.replace("{", "{{").replace("}", "}}"))  # .format()ed later


def sweep_file(tmp_path, top="", grid='"train.seed" = [0]', rest="", name="s"):
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP_BASE.format(top=top, grid=grid, rest=rest).replace('name = "s"', f'name = "{name}"'))
    return str(path)


def real_checkpoint(tmp_path):
    out = tmp_path / "real"
    assert main(TRAIN + ["--out-dir", str(out)]) == 0
    return out / CHECKPOINT


def files(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "text.pt").write_text("not a checkpoint\n")
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    (tmp_path / "afile").write_text("x")
    (tmp_path / "fake.npz").write_text("this is no zip")
    np.savez(tmp_path / "samples.npz", x=np.random.default_rng(0).standard_normal((200, 3)))
    np.savez(tmp_path / "post.npz", mu=np.zeros((20, 3)), logvar=np.zeros((20, 3)))
    (tmp_path / "resume").mkdir()
    (tmp_path / "resume" / CHECKPOINT).write_bytes(b"PK\x03\x04garbage")


def truncated_checkpoint(tmp_path):
    data = real_checkpoint(tmp_path).read_bytes()
    path = tmp_path / "truncated.pt"
    path.write_bytes(data[: len(data) // 2])
    return str(path)


def trained_run(tmp_path, name="run"):
    """A folder holding a trained (2-step) run."""
    assert main(TRAIN + ["--out-dir", str(tmp_path / name)]) == 0
    return str(tmp_path / name)


def evaluated_run(tmp_path):
    folder = trained_run(tmp_path)
    assert main(["evaluate", folder, "--num-samples", "20", "--mig-points", "50"]) == 0
    return folder


def crafted_checkpoint(tmp_path, **fields):
    """A real run whose checkpoint has ``fields`` replaced and its digest recomputed (valid, but wrong)."""
    from tcdecomp.vae.checkpoint import DIGEST, content_digest

    folder = tmp_path / "real"
    real_checkpoint(tmp_path)
    state = torch.load(folder / CHECKPOINT, weights_only=True)
    state.update(fields)
    state[DIGEST] = content_digest(state)
    torch.save(state, folder / CHECKPOINT)
    return str(folder)


def mnist_folder(tmp_path, images: bytes, name="train-images-idx3-ubyte"):
    """An MNIST folder with the given images file and a valid labels file of 2 labels."""
    folder = tmp_path / "mnist"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(images)
    (folder / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + (2).to_bytes(4, "big") + bytes(2))
    return str(folder)


def idx_images(magic=b"\x00\x00\x08\x03", count=2, drop=0):
    header = magic + b"".join(v.to_bytes(4, "big") for v in (count, 28, 28))
    return (header + bytes(count * 28 * 28))[: len(header) + count * 28 * 28 - drop]


def h5_file(tmp_path, **datasets):
    import h5py

    path = tmp_path / "shapes.h5"
    with h5py.File(path, "w") as f:
        for key, value in datasets.items():
            f[key] = value
    return str(path)


def mat_folder(tmp_path, **arrays):
    from scipy.io import savemat

    folder = tmp_path / "cars"
    folder.mkdir(exist_ok=True)
    savemat(folder / "car_001.mat", arrays)
    return str(folder)


def image_folder(tmp_path, corrupt=False, folder_named_jpg=False):
    from PIL import Image

    folder = tmp_path / "faces"
    folder.mkdir(exist_ok=True)
    Image.new("RGB", (70, 70)).save(folder / "a.jpg")
    if corrupt:
        (folder / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    if folder_named_jpg:
        (folder / "c.jpg").mkdir()
    return str(folder)


def data(name, path):
    return TRAIN + ["--set", f"data.name='{name}'", "--set", "data.subset={}", "--set", f"data.path='{path}'"]


#: cases that train a real checkpoint before the mistake
TRAIN_FIRST = {
    "evaluate a truncated checkpoint",
    "evaluate one sample",
    "train into a folder holding a run",
    "train into a folder holding a run, other config",
    "evaluate into a folder holding an evaluation",
    "sweep into a training run's folder",
    "checkpoint step not an integer",
    "checkpoint step negative",
    "checkpoint cpu_threads zero",
    "checkpoint step beyond its config",
    "checkpoint pos beyond its order",
    "checkpoint order not int64",
    "evaluate --mig-points 1",
    "evaluate out_dir below a file",
}

CASES = {
    # sweep files: unknown keys and values, empty or ill-formed grids
    "sweep wokers": (lambda t: ["sweep", sweep_file(t, top="wokers = 1")], "wokers"),
    "sweep evaluate num_sample": (
        lambda t: ["sweep", sweep_file(t, rest="[evaluate]\nnum_sample = 200")],
        "num_sample",
    ),
    "sweep evaluate mig not bool": (lambda t: ["sweep", sweep_file(t, rest="[evaluate]\nmig = 1")], "evaluate.mig"),
    "sweep kind typo": (lambda t: ["sweep", sweep_file(t, top='kind = "capacity-grouping"')], "kind"),
    "sweep backend typo": (lambda t: ["sweep", sweep_file(t, top='backend = "slurm"')], "backend"),
    "sweep workers 0 in file": (lambda t: ["sweep", sweep_file(t, top="workers = 0")], "workers"),
    "sweep name with a slash": (lambda t: ["sweep", sweep_file(t, name="../x")], "name"),
    "sweep empty grid": (lambda t: ["sweep", sweep_file(t, grid="")], "grid"),
    "sweep empty list": (lambda t: ["sweep", sweep_file(t, grid='"train.seed" = []')], "train.seed"),
    "sweep scalar grid value": (lambda t: ["sweep", sweep_file(t, grid='"train.seed" = 3')], "train.seed"),
    "sweep grid key without section": (lambda t: ["sweep", sweep_file(t, grid='"seed" = [0]')], "seed"),
    "sweep grid unknown config key": (lambda t: ["sweep", sweep_file(t, grid='"train.sed" = [0]')], "sed"),
    "sweep grid bad value": (lambda t: ["sweep", sweep_file(t, grid='"train.steps" = [10, 0]')], "train.steps"),
    "sweep divisors elsewhere": (
        lambda t: ["sweep", sweep_file(t, grid='"model.latent_dim" = "divisors"')],
        "divisors",
    ),
    "sweep variant without label": (
        lambda t: ["sweep", sweep_file(t, rest='[[variants]]\n"loss.beta" = 2.0')],
        "label",
    ),
    "sweep bad loss parameter": (
        lambda t: ["sweep", sweep_file(t, rest='[[variants]]\nlabel = "a"\n"loss.bta" = 2.0')],
        "loss.bta is not a parameter",
    ),
    "sweep --workers 0": (lambda t: ["sweep", sweep_file(t), "--workers", "0"], "--workers"),
    "sweep missing file": (lambda t: ["sweep", str(t / "nope.toml")], "nope.toml"),
    "sweep not toml": (lambda t: ["sweep", str(t / "afile")], "TOML"),
    # training configs: validated before the first step
    "steps 0": (lambda t: TRAIN + ["--set", "train.steps=0"], "train.steps"),
    "steps negative": (lambda t: TRAIN + ["--set", "train.steps=-5"], "train.steps"),
    "steps 1.5": (lambda t: TRAIN + ["--set", "train.steps=1.5"], "train.steps"),
    "checkpoint_every 0": (lambda t: TRAIN + ["--set", "train.checkpoint_every=0"], "train.checkpoint_every"),
    "log_every 0": (lambda t: TRAIN + ["--set", "train.log_every=0"], "train.log_every"),
    "batch_size 0": (lambda t: TRAIN + ["--set", "train.batch_size=0"], "train.batch_size"),
    "batch_size above the data": (lambda t: TRAIN + ["--set", "train.batch_size=1000"], "train.batch_size"),
    "mss batch of one": (lambda t: TRAIN + ["--set", "train.batch_size=1"], "train.batch_size"),
    "lr 0": (lambda t: TRAIN + ["--set", "train.lr=0"], "train.lr"),
    "lr nan": (lambda t: TRAIN + ["--set", "train.lr=nan"], "train.lr"),
    "seed negative": (lambda t: TRAIN + ["--set", "train.seed=-1"], "train.seed"),
    "device cuda on a CPU build": (lambda t: TRAIN + ["--set", "train.device='cuda'"], "train.device"),
    "device typo": (lambda t: TRAIN + ["--set", "train.device='gpu'"], "train.device"),
    "subset posX 0": (lambda t: ["train", "--set", "data.subset={posX=0}"], "data.subset.posX"),
    "subset unknown factor": (lambda t: ["train", "--set", "data.subset={posZ=2}"], "posZ"),
    "subset class out of range": (lambda t: ["train", "--set", "data.subset={posX=[40]}"], "data.subset.posX"),
    "subset not a table": (lambda t: ["train", "--set", "data.subset=4"], "data.subset"),
    "holdout 1": (lambda t: TRAIN + ["--set", "data.holdout=1.0"], "data.holdout"),
    "image_size 4": (lambda t: TRAIN + ["--set", "data.image_size=4"], "data.image_size"),
    "image_size with a file": (
        lambda t: TRAIN + ["--set", "data.image_size=32", "--set", "data.subset={}", "--set", "data.path='x.npz'"],
        "data.image_size",
    ),
    "image_size with the conv nets": (
        lambda t: TRAIN + ["--set", "data.image_size=32", "--set", "model.arch='conv'"],
        "arch='mlp'",
    ),
    "unknown data set": (lambda t: TRAIN + ["--set", "data.name='imagenet'"], "data.name"),
    "3dshapes without a path": (
        lambda t: TRAIN + ["--set", "data.name='3dshapes'", "--set", "data.subset={}"],
        "data.path",
    ),
    "latent_dim 0": (lambda t: TRAIN + ["--set", "model.latent_dim=0"], "model.latent_dim"),
    "arch unknown": (lambda t: TRAIN + ["--set", "model.arch='resnet'"], "model.arch"),
    "capacity 0": (lambda t: TRAIN + ["--set", "model.capacity=0"], "model.capacity"),
    "group_size not dividing": (lambda t: TRAIN + ["--set", "loss.group_size=3"], "loss.group_size"),
    "group_size equal to latent_dim": (lambda t: TRAIN + ["--set", "loss.group_size=4"], "TC_groups is identically 0"),
    "beta not a number": (lambda t: TRAIN + ["--set", "loss.beta='abc'"], "loss.beta"),
    "beta negative": (lambda t: TRAIN + ["--set", "loss.beta=-1"], "loss.beta"),
    "loss name typo": (lambda t: TRAIN + ["--set", "loss.name='beta_tcave'"], "loss.name"),
    "bank larger than the data": (
        lambda t: TRAIN + ["--set", "loss.estimator='bank'", "--set", "loss.bank_capacity=500"],
        "loss.bank_capacity",
    ),
    "bank_capacity without bank": (lambda t: TRAIN + ["--set", "loss.bank_capacity=16"], "loss.bank_capacity"),
    "unknown section": (lambda t: TRAIN + ["--set", "optim.lr=1"], "optim"),
    "override without section": (lambda t: TRAIN + ["--set", "steps=3"], "section.key=value"),
    "nproc 0": (lambda t: TRAIN + ["--nproc", "0"], "--nproc"),
    "out_dir is a file": (lambda t: TRAIN + ["--out-dir", str(t / "afile")], "is a file"),
    "config file missing": (lambda t: ["train", str(t / "nope.toml")], "nope.toml"),
    "config file not toml": (lambda t: ["train", str(t / "fake.npz")], "TOML"),
    "demo --steps 0": (lambda t: ["demo", "--steps", "0", "--out-dir", str(t / "demo")], "--steps"),
    # files that are not what they claim
    "evaluate an empty file": (lambda t: ["evaluate", str(t / "empty.pt")], "checkpoint"),
    "evaluate a text file": (lambda t: ["evaluate", str(t / "text.pt")], "checkpoint"),
    "evaluate a plain tensor": (lambda t: ["evaluate", str(t / "tensor.pt")], "not a tcdecomp checkpoint"),
    "evaluate a truncated checkpoint": (lambda t: ["evaluate", truncated_checkpoint(t)], "corrupted"),
    "evaluate a missing file": (lambda t: ["evaluate", str(t / "missing.pt")], "no checkpoint"),
    "resume from garbage": (lambda t: TRAIN + ["--resume", "--out-dir", str(t / "resume")], "corrupted"),
    "dSprites file not a zip": (
        lambda t: TRAIN + ["--set", "data.subset={}", "--set", f"data.path='{t / 'fake.npz'}'"],
        "dSprites npz",
    ),
    "dSprites file missing": (
        lambda t: TRAIN + ["--set", "data.subset={}", "--set", f"data.path='{t / 'no.npz'}'"],
        "data.path",
    ),
    # options that do not apply
    "--method with posteriors": (lambda t: ["estimate", str(t / "post.npz"), "--method", "knn"], "--method"),
    "-k with posteriors": (lambda t: ["estimate", str(t / "post.npz"), "-k", "5"], "-k"),
    "--estimator with samples": (lambda t: ["estimate", str(t / "samples.npz"), "--estimator", "mss"], "--estimator"),
    "--dataset-size with samples": (
        lambda t: ["estimate", str(t / "samples.npz"), "--dataset-size", "9"],
        "--dataset-size",
    ),
    "--num-samples with samples": (
        lambda t: ["estimate", str(t / "samples.npz"), "--num-samples", "9"],
        "--num-samples",
    ),
    "--num-samples with mss": (
        lambda t: [
            "estimate",
            str(t / "post.npz"),
            "--estimator",
            "mss",
            "--dataset-size",
            "100",
            "--num-samples",
            "9",
        ],
        "--num-samples",
    ),
    "--group-size without grouped": (
        lambda t: ["estimate", str(t / "samples.npz"), "--group-size", "1"],
        "--group-size",
    ),
    "--levels with line": (
        lambda t: ["estimate", str(t / "samples.npz"), "--path", "line", "--levels", "1"],
        "--levels",
    ),
    "-k without knn": (lambda t: ["estimate", str(t / "samples.npz"), "-k", "5"], "-k"),
    "--n-example without --example": (
        lambda t: ["estimate", str(t / "samples.npz"), "--n-example", "10"],
        "--n-example",
    ),
    "--estimator with --example": (lambda t: ["estimate", "--example", "--estimator", "mss"], "--estimator"),
    "estimate a text file": (lambda t: ["estimate", str(t / "text.pt")], "text.pt"),
    "negative seed": (lambda t: ["estimate", "--example", "--seed", "-1"], "--seed"),
    "k not an integer": (lambda t: ["estimate", "--example", "--method", "knn", "-k", "2.5"], "-k"),
    "unknown subcommand": (lambda t: ["estmate"], "estmate"),
    "sweep ray option typo": (lambda t: ["sweep", sweep_file(t, rest="[ray]\nadress = 'auto'")], "adress"),
    "sweep local options": (lambda t: ["sweep", sweep_file(t, rest="[local]\nworkers = 2")], "[local]"),
    "sweep variants that change nothing": (
        lambda t: ["sweep", sweep_file(t, rest='[[variants]]\nlabel = "a"\n[[variants]]\nlabel = "b"')],
        "same config",
    ),
    "evaluate one sample": (lambda t: ["evaluate", str(real_checkpoint(t)), "--num-samples", "1"], "--num-samples"),
    "evaluate --mig-points 1": (lambda t: ["evaluate", str(real_checkpoint(t)), "--mig-points", "1"], "--mig-points"),
    # nothing is overwritten unless asked
    "train into a folder holding a run": (lambda t: TRAIN + ["--out-dir", trained_run(t)], "--overwrite"),
    "train into a folder holding a run, other config": (
        lambda t: TRAIN + ["--out-dir", trained_run(t), "--set", "train.lr=0.01"],
        "--resume",
    ),
    "evaluate into a folder holding an evaluation": (lambda t: ["evaluate", evaluated_run(t)], "--overwrite"),
    "train --resume and --overwrite": (
        lambda t: TRAIN + ["--resume", "--overwrite", "--out-dir", str(t / "x")],
        "--resume",
    ),
    "sweep into a training run's folder": (
        lambda t: ["sweep", sweep_file(t), "--out-dir", trained_run(t)],
        "holds a training run",
    ),
    "train into a sweep's store": (
        lambda t: TRAIN + ["--out-dir", str(_sweep_store(t))],
        "sweep's store",
    ),
    # the file system refuses: one line naming the path
    "out_dir below a file": (lambda t: TRAIN + ["--out-dir", str(t / "afile" / "run")], "not a folder"),
    "evaluate out_dir below a file": (
        lambda t: ["evaluate", str(real_checkpoint(t)), "--out-dir", str(t / "afile" / "ev")],
        "not a folder",
    ),
    "sweep out_dir below a file": (lambda t: ["sweep", sweep_file(t), "--out-dir", str(t / "afile" / "s")], "afile"),
    # inputs that are not what they claim
    "estimate a folder": (lambda t: ["estimate", str(t / "resume")], "is a folder"),
    "estimate random bytes as npy": (lambda t: ["estimate", _write(t, "r.npy", bytes(range(256)))], "not a .npy"),
    "estimate JSON as npz": (lambda t: ["estimate", _write(t, "j.npz", b'{"x": [1, 2]}')], "JSON"),
    "estimate a pickle as npy": (lambda t: ["estimate", _write(t, "p.npy", b"\x80\x04K\x01.")], "pickle"),
    "estimate x beside mu and logvar": (lambda t: ["estimate", _both(t)], "both x"),
    # sizes without bounds are refused before allocating
    "capacity 1e9": (lambda t: TRAIN + ["--set", "model.capacity=1000000000"], "model.capacity"),
    "capacity 1e5": (lambda t: TRAIN + ["--set", "model.capacity=100000"], "model.capacity"),
    "image_size 100000": (lambda t: TRAIN + ["--set", "data.image_size=100000"], "data.image_size"),
    "batch of huge images": (
        lambda t: TRAIN + ["--set", "data.image_size=20000", "--set", "train.batch_size=128", "--set", SMALL_DATA],
        "train.batch_size",
    ),
    # config messages name the right thing
    "holdout leaves one image": (lambda t: TRAIN + ["--set", "data.holdout=0.999999"], "data.holdout"),
    "seed beyond torch's": (lambda t: TRAIN + ["--set", "train.seed=100000000000000000000000"], "train.seed"),
    # checkpoints with a valid digest but fields of the wrong type or range
    "checkpoint step not an integer": (
        lambda t: TRAIN + ["--resume", "--out-dir", crafted_checkpoint(t, step="abc")],
        "step",
    ),
    "checkpoint step negative": (lambda t: TRAIN + ["--resume", "--out-dir", crafted_checkpoint(t, step=-7)], "step"),
    "checkpoint step beyond its config": (
        lambda t: ["evaluate", crafted_checkpoint(t, step=10**6)],
        "train.steps",
    ),
    "checkpoint pos beyond its order": (lambda t: ["evaluate", crafted_checkpoint(t, pos=10**6)], "pos"),
    "checkpoint cpu_threads zero": (
        lambda t: TRAIN + ["--resume", "--out-dir", crafted_checkpoint(t, cpu_threads=0)],
        "cpu_threads",
    ),
    "checkpoint order not int64": (
        lambda t: ["evaluate", crafted_checkpoint(t, order=torch.zeros(3))],
        "order",
    ),
    # damaged data files: one line naming the file
    "mnist wrong magic": (lambda t: data("mnist", mnist_folder(t, idx_images(magic=b"\x00\x00\x08\x01"))), "magic"),
    "mnist float type": (lambda t: data("mnist", mnist_folder(t, idx_images(magic=b"\x00\x00\x0d\x03"))), "magic"),
    "mnist truncated": (lambda t: data("mnist", mnist_folder(t, idx_images(drop=100))), "bytes of data"),
    "mnist header cut": (lambda t: data("mnist", mnist_folder(t, b"\x00\x00\x08\x03\x00")), "truncated"),
    "mnist fake gz": (
        lambda t: data("mnist", mnist_folder(t, idx_images(), name="train-images-idx3-ubyte.gz")),
        "could not be read",
    ),
    "3dshapes not HDF5": (lambda t: data("3dshapes", _write(t, "s.h5", b"not an hdf5 file at all")), "3dshapes.h5"),
    "3dshapes without images": (lambda t: data("3dshapes", h5_file(t, labels=np.zeros(3))), "images"),
    "3dshapes wrong shape": (lambda t: data("3dshapes", h5_file(t, images=np.zeros((4, 8, 8, 3)))), "shape"),
    "3dshapes a folder": (lambda t: data("3dshapes", str(t / "resume")), "is a folder"),
    "cars3d unreadable": (lambda t: data("cars3d", _mat_garbage(t)), "could not be read"),
    "cars3d without im": (lambda t: data("cars3d", mat_folder(t, other=np.zeros(3))), "'im'"),
    "cars3d wrong shape": (lambda t: data("cars3d", mat_folder(t, im=np.zeros((8, 8, 3, 5, 4)))), "shape"),
    "celeba corrupt jpg": (lambda t: data("celeba", image_folder(t, corrupt=True)), "b.jpg"),
    "celeba a file": (lambda t: data("celeba", str(t / "afile")), "is a file"),
}


def _write(tmp_path, name: str, content: bytes) -> str:
    (tmp_path / name).write_bytes(content)
    return str(tmp_path / name)


def _both(tmp_path) -> str:
    np.savez(tmp_path / "both.npz", x=np.zeros((40, 3)), mu=np.zeros((40, 3)), logvar=np.zeros((40, 3)))
    return str(tmp_path / "both.npz")


def _mat_garbage(tmp_path) -> str:
    folder = tmp_path / "cars"
    folder.mkdir(exist_ok=True)
    (folder / "car_001.mat").write_bytes(b"MATLAB garbage" * 20)
    return str(folder)


def _sweep_store(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "results.jsonl").write_text("")
    return store


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_line_naming_the_argument(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files(tmp_path)
    argv, fragment = CASES[case]
    argv = argv(tmp_path)
    capsys.readouterr()
    assert main(argv) == 2, case
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert fragment in err, err
    # Nothing was trained: the error came before the first step.
    assert not list(tmp_path.rglob("metrics.jsonl")) or case in TRAIN_FIRST


API_CASES = {
    "build_loss beta string": (lambda: build_loss("beta_vae", dataset_size=10, latent_dim=2, beta="x"), "loss.beta"),
    "build_loss gamma inf": (lambda: build_loss("hfvae", dataset_size=10, latent_dim=2, gamma=math.inf), "loss.gamma"),
    "build_loss unknown parameter": (lambda: build_loss("beta_tcvae", dataset_size=10, latent_dim=2, bta=1), "bta"),
    "factorvae hidden 0": (lambda: build_loss("factorvae", dataset_size=10, latent_dim=2, hidden=0), "loss.hidden"),
    "load_config train.steps 1.5": (lambda: load_config(None, ["train.steps=1.5"]), "train.steps"),
}


@pytest.mark.parametrize("case", sorted(API_CASES))
def test_api_errors_name_the_argument(case):
    call, fragment = API_CASES[case]
    with pytest.raises(ValueError, match=fragment):
        call()
