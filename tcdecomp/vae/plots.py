"""Image grids as PNG files (no plotting library needed for pictures of images)."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import torch

from ..files import atomic_write_bytes


def write_png(path, image: np.ndarray) -> None:
    """Write a uint8 H x W (grey) or H x W x 3 (RGB) array as a PNG file."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim == 2:
        colour = 0
    elif image.ndim == 3 and image.shape[2] == 3:
        colour = 2
    else:
        raise ValueError(f"image must be H x W or H x W x 3, got shape {image.shape}")
    h, w = image.shape[:2]
    raw = b"".join(b"\x00" + image[row].tobytes() for row in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    atomic_write_bytes(path, png)  # a kill leaves the old picture or the new one, never half of one


def image_grid(images: torch.Tensor, rows: int, pad: int = 2) -> np.ndarray:
    """Tile N x C x H x W images in [0, 1] into one uint8 picture with ``rows`` rows."""
    images = images.detach().float().clamp(0, 1).cpu()
    n, c, h, w = images.shape
    cols = -(-n // rows)
    grid = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, c), dtype=np.float32) * 0.5
    for i in range(n):
        r, q = divmod(i, cols)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + q * (w + pad) : pad + q * (w + pad) + w] = (
            images[i].permute(1, 2, 0).numpy()
        )
    grid = (grid * 255).round().astype(np.uint8)
    return grid[..., 0] if c == 1 else grid


@torch.no_grad()
def save_traversal(model, x: torch.Tensor, path, steps: int = 10, span: float = 2.5) -> None:
    """One row per latent dim: decode the posterior mean of ``x`` (one image) with that dim set to
    each of ``steps`` values in [-span, span]."""
    model.eval()
    mu, _ = model.encode(x[:1])
    D = mu.shape[1]
    values = torch.linspace(-span, span, steps)
    z = mu.repeat(D * steps, 1)
    for k in range(D):
        z[k * steps : (k + 1) * steps, k] = values
    images = model.mean_image(model.decode(z))
    write_png(path, image_grid(images, rows=D))


@torch.no_grad()
def save_reconstructions(model, x: torch.Tensor, path) -> None:
    """Originals on the top row, reconstructions from the posterior means below."""
    model.eval()
    mu, _ = model.encode(x)
    recon = model.mean_image(model.decode(mu))
    write_png(path, image_grid(torch.cat([x.cpu(), recon.cpu()]), rows=2))
