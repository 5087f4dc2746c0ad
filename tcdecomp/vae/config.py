"""Training configuration: TOML file plus ``section.key=value`` overrides."""
from __future__ import annotations

import copy
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path


@dataclass
class ModelConfig:
    arch: str = "conv"
    latent_dim: int = 10
    capacity: int | None = None


@dataclass
class DataConfig:
    name: str = "dsprites"
    #: factor -> list of class indices, or an int k for every k-th class (procedural dSprites)
    subset: dict = field(default_factory=dict)
    path: str | None = None
    holdout: float = 0.1


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
    def from_dict(cls, data: dict) -> "Config":
        data = copy.deepcopy(data)
        unknown = set(data) - {"model", "loss", "data", "train"}
        if unknown:
            raise ValueError(f"unknown config sections {sorted(unknown)}; use model, loss, data, train")
        out = cls()
        for section, typ in (("model", ModelConfig), ("data", DataConfig), ("train", TrainConfig)):
            values = data.get(section, {})
            names = {f.name for f in fields(typ)}
            bad = set(values) - names
            if bad:
                raise ValueError(f"unknown keys {sorted(bad)} in [{section}]; known: {sorted(names)}")
            setattr(out, section, typ(**{**asdict(getattr(out, section)), **values}))
        if "loss" in data:
            out.loss = dict(data["loss"])
            if "name" not in out.loss:
                raise ValueError("[loss] needs a name, e.g. name = \"beta_stcvae\"")
        return out


def _parse_value(text: str):
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def load_config(path=None, overrides=()) -> Config:
    """A Config from a TOML file (or the defaults) with ``section.key=value`` overrides applied."""
    data = {}
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise ValueError(f"config file not found: {path}")
        with open(file, "rb") as fh:
            data = tomllib.load(fh)
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
