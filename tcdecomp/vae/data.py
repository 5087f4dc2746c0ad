"""Data sets for the VAE layer: a procedural dSprites (the default: nothing to download)
and loaders for the real files a user already has.

Every factor-labelled data set follows one protocol, :class:`FactorDataset`:
``factor_names``, ``factor_sizes``, ``factor_values`` (the value of each class of
each factor), ``len()``, ``images(indices)`` (float tensors, N x C x H x W in [0, 1]),
``classes(indices)`` (N x F integer factor classes) and ``index_of(classes)``.
The metrics (MIG) use only this protocol.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import numpy as np
import torch

from .._checks import check_choice, check_positive_int
from ..files import describe_load_error, one_line

log = logging.getLogger(__name__)


class FactorDataset(torch.utils.data.Dataset):
    """Images indexed by a full grid of discrete factors, in row-major (last factor fastest) order."""

    factor_names: tuple[str, ...]
    factor_sizes: tuple[int, ...]
    factor_values: tuple[np.ndarray, ...]
    likelihood: str = "bernoulli"

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: int):
        return self.images(np.array([index]))[0], torch.as_tensor(self.classes(np.array([index]))[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """C x H x W (a data set that knows it without drawing an image sets ``_shape``)."""
        known = getattr(self, "_shape", None)
        return known if known is not None else tuple(self.images(np.array([0])).shape[1:])

    def classes(self, indices) -> np.ndarray:
        """Factor classes (N x F) of data-set rows ``indices``."""
        return self._grid_classes(self._rows(indices))

    def index_of(self, classes) -> np.ndarray:
        """Data-set rows holding the given factor classes (N x F); -1 where a class is outside a subset."""
        classes = np.asarray(classes, dtype=np.int64)
        return np.ravel_multi_index(tuple(classes.T), self._full_sizes)

    def sample_classes(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.classes(rng.integers(0, len(self), size=n))

    def sample_with_fixed_factor(self, factor: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """Rows of n examples that share one (random) class of ``factor``, every other factor drawn at random:
        the batches of the FactorVAE and beta-VAE scores."""
        check_positive_int(n, "n")
        if (
            isinstance(factor, bool)
            or not isinstance(factor, (int, np.integer))
            or not 0 <= factor < len(self.factor_sizes)
        ):
            raise ValueError(f"factor must be a factor index in 0..{len(self.factor_sizes) - 1}, got {factor!r}")
        classes = self.sample_classes(n, rng)
        classes[:, factor] = classes[0, factor]
        return self.index_of(classes)

    # -- subclasses provide the images and the grid ---------------------------------------------
    def images(self, indices, device=None) -> torch.Tensor:
        """Float images (N x C x H x W) of data-set rows ``indices``, made on ``device`` (default CPU)."""
        raise NotImplementedError

    def _grid_classes(self, rows) -> np.ndarray:
        raise NotImplementedError

    def _rows(self, indices) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise ValueError(f"indices must lie in 0..{len(self) - 1}")
        return indices


# -- procedural dSprites ----------------------------------------------------------------------------
DSPRITES_FACTORS = ("shape", "scale", "orientation", "posX", "posY")
#: A sprite's half-width at scale 1, as a fraction of the canvas: chosen so that the full grid's mean pixel
#: value, 0.0428 (20,000 random images), matches the official data set's 0.0425 (its published
#: normalisation statistics); 0.13 gave 0.028, sprites about 20% too small in linear size. The official
#: position range and heart outline could not be checked without the official file.
SPRITE_HALF_WIDTH = 0.16
DSPRITES_SIZES = (3, 6, 40, 32, 32)


def dsprites_factor_values() -> tuple[np.ndarray, ...]:
    """The official dSprites grid (Matthey et al. 2017)."""
    return (
        np.arange(1, 4, dtype=np.float64),  # shape 1..3: square, ellipse, heart
        np.linspace(0.5, 1.0, 6),
        np.linspace(0.0, 2 * np.pi, 40),
        np.linspace(0.0, 1.0, 32),
        np.linspace(0.0, 1.0, 32),
    )


def _inside(shape: int, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Whether local coordinates (u, v) (about [-1, 1], v up) fall inside one shape (0, 1, 2)."""
    if shape == 0:
        return torch.maximum(u.abs(), v.abs()) <= 1.0
    if shape == 1:
        return u**2 + (v / 0.55) ** 2 <= 1.0
    hu, hv = 1.15 * u, 1.15 * v + 0.15  # the classic heart curve (x^2 + y^2 - 1)^3 = x^2 y^3, centred
    return (hu**2 + hv**2 - 1.0) ** 3 - hu**2 * hv**3 <= 0.0


def _check_classes(classes: np.ndarray) -> np.ndarray:
    classes = np.asarray(classes, dtype=np.int64)
    if classes.ndim != 2 or classes.shape[1] != 5:
        raise ValueError(f"classes must be N x 5 (shape, scale, orientation, posX, posY), got shape {classes.shape}")
    if (classes < 0).any() or (classes >= np.asarray(DSPRITES_SIZES)).any():
        raise ValueError(f"classes must lie below the factor sizes {DSPRITES_SIZES}")
    return classes


def render_dsprites_tensor(classes, size: int = 64, device=None) -> torch.Tensor:
    """:func:`render_dsprites` as a uint8 tensor drawn on ``device`` (a GPU draws a batch in a few ms).

    Float64 on every device; a pixel whose centre lies within rounding of a sprite's edge may
    differ between devices whose cos/sin differ in the last bit.
    """
    classes = _check_classes(classes)
    values = [
        torch.as_tensor(v[classes[:, f]], dtype=torch.float64, device=device)[:, None, None]
        for f, v in enumerate(dsprites_factor_values())
    ]
    _, scale, theta, pos_x, pos_y = values
    grid = (torch.arange(size, dtype=torch.float64, device=device) + 0.5) / size
    dx = grid[None, None, :] - (0.2 + 0.6 * pos_x)
    dy = (0.2 + 0.6 * pos_y) - grid[None, :, None]  # y up in local coordinates
    cos, sin = torch.cos(theta), torch.sin(theta)
    half = SPRITE_HALF_WIDTH * scale
    u = (cos * dx + sin * dy) / half
    v = (-sin * dx + cos * dy) / half
    out = torch.empty(u.shape, dtype=torch.uint8, device=device)
    for shape in np.unique(classes[:, 0]):  # each image tests its own shape only
        rows = torch.as_tensor(np.flatnonzero(classes[:, 0] == shape), device=device)
        out[rows] = _inside(int(shape), u[rows], v[rows]).to(torch.uint8)
    return out


def render_dsprites(classes: np.ndarray, size: int = 64) -> np.ndarray:
    """Binary size x size images (uint8) of dSprites factor classes (N x 5).

    The drawing: pixel centres sit at ((j + 0.5) / size, (i + 0.5) / size) on the unit
    canvas (x to the right, y down). A sprite is centred at (0.2 + 0.6 posX,
    0.2 + 0.6 posY), has half-width SPRITE_HALF_WIDTH * scale and is rotated counter-clockwise by
    the orientation; a pixel is on when its centre lies inside the shape (square,
    ellipse of axes 1 : 0.55, or heart curve) in the sprite's local coordinates.
    """
    return render_dsprites_tensor(classes, size).numpy()


class ProceduralDSprites(FactorDataset):
    """dSprites drawn on demand: 737,280 binary 64 x 64 images in the official index order
    (shape, scale, orientation, posX, posY; posY fastest), deterministic, nothing to download.

    ``subset`` keeps only some class indices of some factors, e.g.
    ``{"orientation": range(0, 40, 4), "posX": range(0, 32, 2)}``, for fast CPU runs.
    """

    factor_names = DSPRITES_FACTORS
    likelihood = "bernoulli"

    def __init__(self, subset: dict | None = None, size: int = 64):
        self._full_sizes = DSPRITES_SIZES
        self.size = check_positive_int(size, "size")
        self._shape = (1, self.size, self.size)
        self._kept = []
        subset = dict(subset or {})
        for name, n in zip(DSPRITES_FACTORS, DSPRITES_SIZES):
            keep = np.arange(n) if name not in subset else np.unique(np.asarray(list(subset.pop(name)), dtype=np.int64))
            if keep.size == 0 or keep.min() < 0 or keep.max() >= n:
                raise ValueError(f"subset[{name!r}] must hold class indices in 0..{n - 1}")
            self._kept.append(keep)
        if subset:
            raise ValueError(f"subset has unknown factors {sorted(subset)}; use {DSPRITES_FACTORS}")
        self.factor_sizes = tuple(len(k) for k in self._kept)
        self.factor_values = tuple(v[k] for v, k in zip(dsprites_factor_values(), self._kept))
        self._n = int(np.prod(self.factor_sizes))

    def _grid_classes(self, rows):
        # Classes in the full official grid, so they index the official factor values.
        local = np.stack(np.unravel_index(rows, self.factor_sizes), axis=1)
        return np.stack([k[local[:, f]] for f, k in enumerate(self._kept)], axis=1)

    def local_classes(self, indices) -> np.ndarray:
        """Classes within the subset (0..factor_sizes[f]-1), which the metrics use."""
        return np.stack(np.unravel_index(self._rows(indices), self.factor_sizes), axis=1)

    def index_of(self, classes) -> np.ndarray:
        classes = np.asarray(classes, dtype=np.int64)
        local = []
        for f, keep in enumerate(self._kept):
            pos = np.searchsorted(keep, classes[:, f])
            pos = np.clip(pos, 0, len(keep) - 1)
            local.append(np.where(keep[pos] == classes[:, f], pos, -1))
        local = np.stack(local, axis=1)
        ok = (local >= 0).all(1)
        out = np.full(len(classes), -1, dtype=np.int64)
        out[ok] = np.ravel_multi_index(tuple(local[ok].T), self.factor_sizes)
        return out

    def images(self, indices, device=None) -> torch.Tensor:
        return render_dsprites_tensor(self.classes(indices), self.size, device).float()[:, None]


class ImageDataset(FactorDataset):
    """Images without a factor grid (CelebA; MNIST, whose digit label is no grid of generative factors):
    training, the ELBO and TC work as for any data set; the factor metrics are skipped."""

    factor_names = ()
    factor_sizes = ()
    factor_values = ()

    def __init__(self, images: torch.Tensor, likelihood: str = "bernoulli"):
        if not isinstance(images, torch.Tensor) or images.dim() != 4 or len(images) < 2:
            raise ValueError("images must be an N x C x H x W tensor with N >= 2")
        self._images = images
        self.likelihood = likelihood
        self._n = len(images)

    def _grid_classes(self, rows) -> np.ndarray:
        return np.zeros((len(rows), 0), dtype=np.int64)

    def index_of(self, classes) -> np.ndarray:
        raise ValueError("this data set has no factors to index by")

    def images(self, indices, device=None) -> torch.Tensor:
        return self._images[torch.as_tensor(self._rows(indices))].to(device)


# -- the whole data set in accelerator memory -------------------------------------------------------
#: a data set is cached on an accelerator only when its images take at most this share of free memory.
CACHE_SHARE_OF_FREE_MEMORY = 0.25
CACHE_CHUNK_ROWS = 8192


class DeviceImageCache:
    """Every image of a data set, made once into accelerator memory, then indexed per batch.

    Images whose pixels are multiples of 1/255 (binary dSprites, 8-bit files) are held as uint8,
    one byte a pixel (full dSprites: 3 GiB); others as float32. A training step then reads its
    batch from device memory instead of drawing or copying it.
    """

    def __init__(self, dataset: FactorDataset, device):
        self.device = torch.device(device)
        # Each chunk is made uint8 as it is drawn: the float images of the whole set (12 GiB for
        # dSprites) never exist at once, so the peak stays near the cache's own size.
        parts, self.eight_bit = [], True
        for start in range(0, len(dataset), CACHE_CHUNK_ROWS):
            chunk = dataset.images(np.arange(start, min(len(dataset), start + CACHE_CHUNK_ROWS)), device=self.device)
            if self.eight_bit:
                scaled = torch.round(chunk * 255)
                if torch.equal(scaled / 255, chunk):
                    parts.append(scaled.to(torch.uint8))
                    continue
                self.eight_bit = False  # exact: every earlier chunk was k / 255
                parts = [part.float() / 255 for part in parts]
            parts.append(chunk.float())
        self._images = torch.cat(parts)

    @staticmethod
    def fits(dataset: FactorDataset, device) -> bool:
        """Whether the data set's images (at one byte a pixel) fit the cache's share of ``device``'s free memory."""
        device = torch.device(device)
        if device.type != "cuda":
            return False
        free, _ = torch.cuda.mem_get_info(device)
        return len(dataset) * int(np.prod(dataset.image_shape)) <= CACHE_SHARE_OF_FREE_MEMORY * free

    def images(self, indices, device=None) -> torch.Tensor:
        rows = torch.as_tensor(np.asarray(indices, dtype=np.int64), device=self.device)
        batch = self._images[rows]
        return (batch.float() / 255 if self.eight_bit else batch).to(device or self.device)


# -- loaders for real files --------------------------------------------------------------------------
def _require(path, what: str, where: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{what} not found at {path}. tcdecomp downloads nothing: get it from {where} and pass its path"
        )
    return path


class ArrayFactorDataset(FactorDataset):
    """A factor grid held in memory: images (N x C x H x W, uint8 or float) in grid order."""

    def __init__(self, images, factor_names, factor_sizes, factor_values=None, likelihood="bernoulli"):
        self._images = images
        self.factor_names = tuple(factor_names)
        self.factor_sizes = tuple(int(s) for s in factor_sizes)
        self._full_sizes = self.factor_sizes
        self.factor_values = (
            tuple(factor_values) if factor_values is not None else tuple(np.arange(s) for s in self.factor_sizes)
        )
        self.likelihood = likelihood
        self._n = int(np.prod(self.factor_sizes))
        if len(images) != self._n:
            raise ValueError(f"images has {len(images)} rows but the factor grid {self.factor_sizes} has {self._n}")

    def _grid_classes(self, rows):
        return np.stack(np.unravel_index(rows, self.factor_sizes), axis=1)

    def images(self, indices, device=None) -> torch.Tensor:
        batch = torch.from_numpy(np.asarray(self._images[np.asarray(indices)])).to(device)
        if batch.dtype == torch.uint8:
            batch = batch.float() / (255.0 if batch.max() > 1 else 1.0)
        return batch.float()


def load_dsprites_npz(path) -> ArrayFactorDataset:
    """The official file ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz``.

    Keys imgs, latents_values, latents_classes."""
    path = _require(path, "dSprites npz", "https://github.com/deepmind/dsprites-dataset")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError("it holds one array, not the npz archive of imgs, latents_values, latents_classes")
            missing = {"imgs", "latents_classes"} - set(data.files)
            if missing:
                raise ValueError(f"it lacks keys {sorted(missing)}")
            imgs = data["imgs"][:, None]
    except Exception as exc:  # not a zip, truncated, pickled objects (refused), or the wrong arrays
        raise ValueError(f"{path} is not the official dSprites npz ({describe_load_error(exc)})") from None
    return ArrayFactorDataset(imgs, DSPRITES_FACTORS, DSPRITES_SIZES, dsprites_factor_values())


#: 3dshapes' factor grid (floor hue, wall hue, object hue, scale, shape, orientation) and image size
SHAPES3D_SIZES = (10, 10, 10, 8, 4, 15)


def load_3dshapes(path) -> ArrayFactorDataset:
    """``3dshapes.h5`` (keys images, labels; factors floor hue, wall hue, object hue, scale, shape, orientation)."""
    path = _require(path, "3dshapes.h5", "https://github.com/deepmind/3d-shapes")
    try:
        import h5py
    except ImportError:
        raise ImportError("reading 3dshapes.h5 needs h5py: pip install h5py") from None
    if not path.is_file():
        raise ValueError(f"{path} is a folder; data.path must be the 3dshapes.h5 file")
    try:
        with h5py.File(path, "r") as f:
            if "images" not in f:
                raise ValueError(f"it has no 'images' dataset (it holds {sorted(f.keys())})")
            images = np.asarray(f["images"])
    except (OSError, ValueError, KeyError) as exc:  # not HDF5 (bad signature), truncated, or the wrong contents
        raise ValueError(f"{path} is not the official 3dshapes.h5: {one_line(exc)}") from None
    expected = int(np.prod(SHAPES3D_SIZES))
    if images.ndim != 4 or images.shape[0] != expected or images.shape[3] != 3:
        raise ValueError(
            f"{path}: its images have shape {images.shape}, not {expected} x H x W x 3 (the official file's grid)"
        )
    names = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
    return ArrayFactorDataset(images.transpose(0, 3, 1, 2), names, SHAPES3D_SIZES, likelihood="gaussian")


#: an idx file's header: two zero bytes, the element type (0x08: unsigned byte), the number of dims
IDX_UBYTE = 0x08


def read_idx(file: Path, ndim: int) -> np.ndarray:
    """An MNIST idx file of unsigned bytes with ``ndim`` dims (``.gz`` or plain), its header checked: a wrong
    magic number, type, dim count or length is one line naming the file, never misread pixels."""
    opener = gzip.open if file.name.endswith(".gz") else open
    try:
        with opener(file, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:  # a fake or truncated .gz, a folder named like the file
        raise ValueError(f"{file} could not be read: {one_line(exc)}") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != IDX_UBYTE or raw[3] != ndim:
        magic = raw[:4].hex() if len(raw) >= 4 else "missing"
        raise ValueError(
            f"{file} is not an idx file of unsigned bytes with {ndim} dims (magic number {magic}, expected "
            f"0000{IDX_UBYTE:02x}{ndim:02x})"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{file} is truncated inside its header")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if len(raw) != header + int(np.prod(dims)):
        raise ValueError(
            f"{file} holds {len(raw) - header} bytes of data, not the {int(np.prod(dims))} its header says"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist(folder, split: str = "train"):
    """MNIST idx files (``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``) as (images, labels)."""
    check_choice(split, ("train", "test"), "split")
    folder = _require(folder, "MNIST folder", "http://yann.lecun.com/exdb/mnist/")
    prefix = "train" if split == "train" else "t10k"

    def read(stem, ndim):
        for name in (stem, stem + ".gz"):
            file = folder / name
            if file.exists():
                return read_idx(file, ndim)
        raise FileNotFoundError(
            f"{folder / stem}[.gz] not found; MNIST idx files come from http://yann.lecun.com/exdb/mnist/"
        )

    images = read(f"{prefix}-images-idx3-ubyte", 3)
    labels = read(f"{prefix}-labels-idx1-ubyte", 1)
    if len(images) != len(labels):
        raise ValueError(f"{folder}: {len(images)} MNIST images but {len(labels)} labels")
    return torch.from_numpy(images.copy()).float()[:, None] / 255.0, torch.from_numpy(labels.astype(np.int64))


def _read_image(path, size: int, crop: int | None):
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ImportError("reading image folders needs Pillow: pip install pillow") from None
    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            if crop:
                w, h = img.size
                left, top = (w - crop) // 2, (h - crop) // 2
                img = img.crop((left, top, left + crop, top + crop))
            img = img.resize((size, size), Image.BILINEAR)
            return np.asarray(img).transpose(2, 0, 1)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:  # corrupt or truncated files
        raise ValueError(f"{path} is not a readable image: {one_line(exc)}; remove or replace it") from None


def load_image_folder(folder, size: int = 64, crop: int | None = 148, limit: int | None = None) -> torch.Tensor:
    """CelebA-style folder of JPEG/PNG files: centre-crop to ``crop``, resize to ``size`` (N x 3 x size x size)."""
    folder = _require(folder, "image folder", "the data set's site (CelebA: the aligned-and-cropped images)")
    if not folder.is_dir():
        raise ValueError(f"{folder} is a file; data.path must be the folder of images")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.is_file())
    files = files[:limit]
    if not files:
        raise FileNotFoundError(f"no .jpg/.png files in {folder}")
    return torch.from_numpy(np.stack([_read_image(f, size, crop) for f in files])).float() / 255.0


#: Cars3D's views per car: 4 elevations x 24 azimuths, each file's ``im`` array H x W x 3 x 24 x 4
CARS3D_VIEWS = (24, 4)


def _read_car(file: Path, size: int) -> torch.Tensor:
    from scipy.io import loadmat

    try:
        im = loadmat(file)["im"]  # H x W x 3 x azimuth x elevation
    except KeyError:
        raise ValueError(f"{file} has no 'im' array; it is not a Cars3D .mat file") from None
    except Exception as exc:  # scipy's MatReadError, a truncated or foreign file
        raise ValueError(f"{file} could not be read as a .mat file: {one_line(exc)}") from None
    if im.ndim != 5 or im.shape[2] != 3 or im.shape[3:] != CARS3D_VIEWS:
        raise ValueError(f"{file}: 'im' has shape {im.shape}, not H x W x 3 x 24 x 4 (a Cars3D car)")
    im = torch.from_numpy(np.ascontiguousarray(im.transpose(4, 3, 2, 0, 1))).float() / 255.0
    im = torch.nn.functional.interpolate(
        im.reshape(-1, 3, im.shape[-2], im.shape[-1]), size=(size, size), mode="bilinear", align_corners=False
    )
    return im.reshape(4, 24, 3, size, size)


def load_cars3d(folder, size: int = 64) -> ArrayFactorDataset:
    """Cars3D (Reed et al. 2015) as the ``*.mat`` files of its ``data/cars`` folder: 183 cars x
    4 elevations x 24 azimuths, each file holding ``im`` (128 x 128 x 3 x 24 x 4)."""
    folder = _require(folder, "Cars3D folder", "http://www.scottreed.info/files/nips2015-analogy-data.tar.gz")
    if not folder.is_dir():
        raise ValueError(f"{folder} is a file; data.path must be the folder of Cars3D .mat files")
    files = sorted(f for f in folder.glob("*.mat") if f.is_file())
    if not files:
        raise FileNotFoundError(f"no Cars3D .mat files in {folder}")
    images = torch.stack([_read_car(f, size) for f in files], dim=0).reshape(-1, 3, size, size).numpy()
    names = ("car", "elevation", "azimuth")
    return ArrayFactorDataset(images, names, (len(files), 4, 24), likelihood="gaussian")


def load_mnist_images(folder) -> ImageDataset:
    """MNIST's training images (idx files, see :func:`load_mnist`), 28 x 28 grey in [0, 1]: use arch = "mlp"."""
    return ImageDataset(load_mnist(folder, "train")[0], likelihood="bernoulli")


def load_celeba(folder) -> ImageDataset:
    """CelebA's aligned-and-cropped images (a folder of .jpg/.png), centre-cropped to 148 and resized to 64."""
    return ImageDataset(load_image_folder(folder), likelihood="gaussian")


#: ``data.name`` values that training accepts, and their file loaders (procedural dSprites needs none).
#: dsprites: the official .npz; 3dshapes: 3dshapes.h5; cars3d: the folder of car_*.mat files;
#: mnist: the folder of train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]; celeba: an image folder.
LOADERS = {
    "dsprites": load_dsprites_npz,
    "3dshapes": load_3dshapes,
    "cars3d": load_cars3d,
    "mnist": load_mnist_images,
    "celeba": load_celeba,
}
DATASETS = tuple(LOADERS)


def build_dataset(cfg) -> FactorDataset:
    """The data set a :class:`~tcdecomp.vae.config.DataConfig` names (validated there)."""
    if cfg.name == "dsprites" and cfg.path is None:
        sizes = dict(zip(DSPRITES_FACTORS, DSPRITES_SIZES))
        subset = {f: range(0, sizes[f], spec) if isinstance(spec, int) else spec for f, spec in cfg.subset.items()}
        return ProceduralDSprites(subset, size=cfg.image_size)
    try:
        return LOADERS[cfg.name](cfg.path)
    except FileNotFoundError as exc:
        raise ValueError(f"data.path: {exc}") from None
