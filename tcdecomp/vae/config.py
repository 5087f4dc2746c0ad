"""Training configuration: TOML file plus ``section.key=value`` overrides, validated before anything runs.

Each section checks its own values when it is built (one line naming ``section.key`` and the
fix); :func:`check_config` adds the checks across sections. :func:`changed_keys` lists what
differs between two configs, for refusing a resume under a changed config.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass, field, fields

import torch

from .._checks import check_choice, check_positive_int
from ..files import read_toml, tomllib
from ..posterior_estimators import ESTIMATORS
from .data import DATASETS, DSPRITES_FACTORS, DSPRITES_SIZES
from .models import ARCHS

#: train keys that cannot change what a run computes: a resume may change them (steps, to extend it)
RESUMABLE_KEYS = ("train.steps", "train.log_every", "train.checkpoint_every", "train.out_dir")


def _check_number(
    value,
    name: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and (value >= high if high_open else value > high):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value!r}")
    return float(value)


def check_device_name(device, name: str = "train.device") -> str:
    """A device string torch can parse ("cpu", "cuda", "cuda:1", "mps")."""
    if not isinstance(device, str):
        raise ValueError(f"{name} must be a string such as 'cpu' or 'cuda', got {device!r}")
    try:
        torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"{name}={device!r} is not a device; use 'cpu', 'cuda' or 'cuda:N'") from None
    return device


def check_device_available(device: str, name: str = "train.device") -> None:
    """Refuse a device this machine's torch cannot use, before any work starts."""
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{name}={device!r} but this torch has no usable CUDA device "
                f"(torch {torch.__version__}); use {name}='cpu'"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{name}={device!r} but this machine has {torch.cuda.device_count()} CUDA devices")
    elif dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError(f"{name}={device!r} but MPS is not available here; use 'cpu'")


@dataclass
class ModelConfig:
    arch: str = "conv"
    latent_dim: int = 10
    capacity: int | None = None

    def __post_init__(self):
        check_choice(self.arch, ARCHS, "model.arch")
        check_positive_int(self.latent_dim, "model.latent_dim")
        if self.capacity is not None:
            check_positive_int(self.capacity, "model.capacity")


def _check_subset(subset) -> None:
    if not isinstance(subset, dict):
        raise ValueError(f"data.subset must be a table of factor = step or [class indices], got {subset!r}")
    sizes = dict(zip(DSPRITES_FACTORS, DSPRITES_SIZES))
    for factor, spec in subset.items():
        key = f"data.subset.{factor}"
        if factor not in sizes:
            raise ValueError(f"{key}: unknown factor; the factors are {DSPRITES_FACTORS}")
        if isinstance(spec, (list, tuple)):
            if not spec:
                raise ValueError(f"{key} is an empty list; keep at least one class")
            for c in spec:
                if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < sizes[factor]:
                    raise ValueError(f"{key} holds {c!r}; class indices of {factor} lie in 0..{sizes[factor] - 1}")
        elif isinstance(spec, bool) or not isinstance(spec, int) or spec < 1:
            raise ValueError(f"{key}={spec!r}: give a step k >= 1 (every k-th class) or a list of class indices")


@dataclass
class DataConfig:
    name: str = "dsprites"
    #: factor -> list of class indices, or an int k for every k-th class (procedural dSprites)
    subset: dict = field(default_factory=dict)
    path: str | None = None
    holdout: float = 0.1
    #: procedural dSprites' image side in pixels (the official images are 64 x 64)
    image_size: int = 64

    def __post_init__(self):
        check_choice(self.name, DATASETS, "data.name")
        check_positive_int(self.image_size, "data.image_size", minimum=8)
        if self.image_size != 64 and not (self.name == "dsprites" and self.path is None):
            raise ValueError(
                "data.image_size applies to procedural dSprites only (data.name='dsprites' without data.path)"
            )
        if self.path is not None and (not isinstance(self.path, str) or not self.path):
            raise ValueError(f"data.path must be a file or folder path, got {self.path!r}")
        _check_subset(self.subset)
        if self.subset and not (self.name == "dsprites" and self.path is None):
            raise ValueError("data.subset applies to procedural dSprites only (data.name='dsprites' without data.path)")
        if self.name != "dsprites" and self.path is None:
            raise ValueError(f"data.name={self.name!r} needs data.path to the file you have")
        _check_number(self.holdout, "data.holdout", 0.0, 1.0, high_open=True)


#: torch's generators take seeds below 2^64; numpy's any non-negative integer
MAX_SEED = 2**64 - 1


@dataclass
class TrainConfig:
    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    checkpoint_every: int = 500
    log_every: int = 50
    out_dir: str = "runs/default"
    device: str = "cpu"

    def __post_init__(self):
        for key in ("steps", "batch_size", "checkpoint_every", "log_every"):
            check_positive_int(getattr(self, key), f"train.{key}")
        check_positive_int(self.seed, "train.seed", minimum=0)
        if self.seed > MAX_SEED:
            raise ValueError(f"train.seed={self.seed} is beyond the largest seed torch takes, {MAX_SEED}")
        _check_number(self.lr, "train.lr", 0.0, low_open=True)
        if not isinstance(self.out_dir, str) or not self.out_dir:
            raise ValueError(f"train.out_dir must be a folder path, got {self.out_dir!r}")
        check_device_name(self.device)


SECTIONS = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    #: ``name`` picks the loss; every other key is passed to it (beta, group_size, estimator, ...)
    loss: dict = field(default_factory=lambda: {"name": "beta_stcvae", "beta": 6.0, "group_size": 2})
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Config:
        if not isinstance(data, dict):
            raise ValueError(f"a config is a table of sections, got {type(data).__name__}")
        data = copy.deepcopy(data)
        unknown = set(data) - {"model", "loss", "data", "train"}
        if unknown:
            raise ValueError(f"unknown config sections {sorted(unknown)}; use model, loss, data, train")
        values = {}
        for section, typ in SECTIONS.items():
            given = data.get(section, {})
            if not isinstance(given, dict):
                raise ValueError(f"[{section}] must be a table, got {given!r}")
            names = {f.name for f in fields(typ)}
            bad = set(given) - names
            if bad:
                raise ValueError(f"unknown keys {sorted(bad)} in [{section}]; known: {sorted(names)}")
            values[section] = typ(**{**asdict(typ()), **given})
        loss = data.get("loss", asdict(cls())["loss"])
        if not isinstance(loss, dict) or "name" not in loss:
            raise ValueError('[loss] needs a name, e.g. name = "beta_stcvae"')
        return cls(model=values["model"], loss=dict(loss), data=values["data"], train=values["train"])


def check_config(config: Config, dataset_size: int | None = None):
    """The checks across sections, before any work: the loss and its parameters, the grouping, and with
    ``dataset_size`` (training images) the batch and the bank against the data. Returns the loss built on the
    way (for ``dataset_size`` training images; a placeholder size without it)."""
    from .losses import build_loss

    if dataset_size == 0:
        raise ValueError(
            f"data.holdout={config.data.holdout} leaves no image for training; lower data.holdout (0.1 holds out 10%)"
        )
    params = {k: v for k, v in config.loss.items() if k != "name"}
    size = dataset_size if dataset_size is not None else 2**62
    loss = build_loss(config.loss["name"], dataset_size=size, latent_dim=config.model.latent_dim, **params)
    group_size, latent_dim = getattr(loss, "group_size", 1), config.model.latent_dim
    if latent_dim % group_size:
        divisors = [i for i in range(1, latent_dim + 1) if latent_dim % i == 0]
        raise ValueError(
            f"loss.group_size={group_size} must divide model.latent_dim={latent_dim}; choose one of {divisors}"
        )
    if hasattr(loss, "sets"):
        loss.sets(latent_dim)  # the loss's own checks of its grouping
    batch = config.train.batch_size
    estimator = ESTIMATORS.get(getattr(loss, "estimator", None))
    if estimator is not None and batch < estimator.min_rows:
        raise ValueError(
            f"train.batch_size={batch}: the {estimator.name} estimator needs at least {estimator.min_rows} examples "
            "per batch"
        )
    if dataset_size is None:
        return loss
    if batch > dataset_size:
        raise ValueError(
            f"train.batch_size={batch} exceeds the {dataset_size} training images left by "
            f"data.holdout={config.data.holdout}; lower train.batch_size or data.holdout"
        )
    bank = getattr(loss, "bank", None)
    if bank is not None and bank.capacity + batch > dataset_size:
        raise ValueError(
            f"loss.bank_capacity={bank.capacity} plus train.batch_size={batch} exceed the "
            f"{dataset_size} training images; lower loss.bank_capacity below {dataset_size - batch + 1}"
        )
    return loss


def _flatten(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict) and not (prefix and key == "subset"):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def resolved(config: dict) -> dict:
    """A config dict with every default written out (the loss's parameters, the architecture's capacity), so
    that two configs that build the same run compare equal however much of it they spell out."""
    from .losses import loss_defaults
    from .models import DEFAULT_CAPACITY

    out = json.loads(json.dumps(config))
    loss = out.get("loss", {})
    if isinstance(loss, dict) and loss.get("name") is not None:
        out["loss"] = {"name": loss["name"], **loss_defaults(loss["name"]), **loss}
    model = out.get("model", {})
    if isinstance(model, dict) and model.get("capacity") is None and model.get("arch") in DEFAULT_CAPACITY:
        model["capacity"] = DEFAULT_CAPACITY[model["arch"]]
    return out


def changed_keys(old: dict, new: dict, allowed=RESUMABLE_KEYS) -> list[str]:
    """``section.key (old -> new)`` for every value that differs, except the ``allowed`` keys."""
    a, b = _flatten(old), _flatten(new)
    return [
        f"{k} ({a.get(k, '<unset>')!r} -> {b.get(k, '<unset>')!r})"
        for k in sorted(set(a) | set(b))
        if k not in allowed and a.get(k) != b.get(k)
    ]


def _parse_value(text: str):
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def load_config(path=None, overrides=()) -> Config:
    """A Config from a TOML file (or the defaults) with ``section.key=value`` overrides applied."""
    data = {} if path is None else read_toml(path, "config file")
    base = Config.from_dict(data).to_dict()
    for item in overrides:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ValueError(f"override {item!r} must look like section.key=value, e.g. train.steps=100")
        key, value = item.split("=", 1)
        section, name = key.split(".", 1)
        if section not in base:
            raise ValueError(f"override {item!r}: unknown section {section!r}")
        base[section][name] = _parse_value(value)
    return Config.from_dict(base)
