import numpy as np
import pytest
import torch

from tcdecomp.vae.data import (
    ProceduralDSprites,
    load_3dshapes,
    load_cars3d,
    load_dsprites_npz,
    load_image_folder,
    load_mnist,
    render_dsprites,
)
from tcdecomp.vae.plots import write_png


def test_official_grid_and_index_order():
    data = ProceduralDSprites()
    assert len(data) == 737280 and data.factor_sizes == (3, 6, 40, 32, 32)
    assert data.classes([0, 1, 32, 1024, 40960, 245760]).tolist() == [
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 1, 0],
        [0, 0, 1, 0, 0],
        [0, 1, 0, 0, 0],
        [1, 0, 0, 0, 0],
    ]
    np.testing.assert_allclose(data.factor_values[1], np.linspace(0.5, 1, 6))
    np.testing.assert_allclose(data.factor_values[2], np.linspace(0, 2 * np.pi, 40))


def test_images_are_binary_deterministic_and_follow_the_factors():
    data = ProceduralDSprites()
    first = data.images([12345, 600000])
    assert first.shape == (2, 1, 64, 64) and set(first.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(first, data.images([12345, 600000]))

    def centroid(classes):
        img = render_dsprites(np.array([classes]))[0].astype(float)
        ys, xs = np.nonzero(img)
        return xs.mean(), ys.mean(), img.sum()

    x0, y0, a0 = centroid([0, 5, 0, 5, 5])
    x1, _, _ = centroid([0, 5, 0, 25, 5])
    _, y1, _ = centroid([0, 5, 0, 5, 25])
    _, _, small = centroid([0, 0, 0, 5, 5])
    assert x1 > x0 + 20 and y1 > y0 + 20  # posX moves right, posY moves down
    assert a0 > 2.5 * small  # area grows with scale squared (0.5 -> 1)
    shapes = [render_dsprites(np.array([[s, 5, 3, 16, 16]]))[0] for s in range(3)]
    assert not np.array_equal(shapes[0], shapes[1]) and not np.array_equal(shapes[1], shapes[2])


def test_subset_and_index_round_trip():
    data = ProceduralDSprites({"orientation": range(0, 40, 10), "posX": [0, 31], "posY": [3]})
    assert data.factor_sizes == (3, 6, 4, 2, 1) and len(data) == 144
    rows = np.arange(len(data))
    np.testing.assert_array_equal(data.index_of(data.classes(rows)), rows)
    assert data.index_of([[0, 0, 1, 0, 3]])[0] == -1  # orientation class 1 is not in the subset
    full = ProceduralDSprites()
    np.testing.assert_array_equal(data.images([7]), full.images(full.index_of(data.classes([7]))))
    with pytest.raises(ValueError, match="subset"):
        ProceduralDSprites({"colour": [0]})


@pytest.mark.parametrize("loader", [load_dsprites_npz, load_3dshapes, load_cars3d, load_mnist, load_image_folder])
def test_loaders_say_which_file_and_where_from(loader, tmp_path):
    with pytest.raises(FileNotFoundError, match="downloads nothing|not found"):
        loader(tmp_path / "missing")


def test_mnist_idx_reader(tmp_path):
    import gzip

    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    header = bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") + (28).to_bytes(4, "big")
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as fh:
        fh.write(header + images.tobytes())
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + (2).to_bytes(4, "big") + bytes([3, 7]))
    x, y = load_mnist(tmp_path)
    assert x.shape == (2, 1, 28, 28) and y.tolist() == [3, 7]
    assert float(x[0, 0, 0, 5]) == pytest.approx(5 / 255)


def test_image_folder_centre_crop_and_resize(tmp_path):
    pytest.importorskip("PIL")
    img = np.zeros((218, 178, 3), dtype=np.uint8)
    img[109 - 74 : 109 + 74, 89 - 74 : 89 + 74] = 200  # the centre 148 x 148 square
    write_png(tmp_path / "a.png", img)
    x = load_image_folder(tmp_path)
    assert x.shape == (1, 3, 64, 64)
    assert float(x.min()) == pytest.approx(200 / 255, abs=0.02)


def test_render_rejects_bad_classes():
    with pytest.raises(ValueError, match="N x 5"):
        render_dsprites(np.zeros((2, 4), dtype=int))
    with pytest.raises(ValueError, match="factor sizes"):
        render_dsprites(np.array([[3, 0, 0, 0, 0]]))


def test_device_image_cache_returns_the_data_sets_own_images():
    # The cache is for accelerators (fits() is False on the CPU), but its indexing is the same anywhere.
    from tcdecomp.vae.data import ArrayFactorDataset, DeviceImageCache

    data = ProceduralDSprites(subset={"orientation": [0, 7, 13], "posX": [0, 31], "posY": [3, 30]})
    cache = DeviceImageCache(data, "cpu")
    rows = np.random.default_rng(0).integers(0, len(data), 50)
    assert cache.eight_bit and cache._images.dtype == torch.uint8
    assert torch.equal(cache.images(rows), data.images(rows))
    assert not DeviceImageCache.fits(data, "cpu")
    grey = torch.rand(12, 1, 4, 4, generator=torch.Generator().manual_seed(0))  # not multiples of 1/255
    arrays = ArrayFactorDataset(grey.numpy(), ["a", "b"], [3, 4])
    cache = DeviceImageCache(arrays, "cpu")
    assert not cache.eight_bit
    assert torch.equal(cache.images([11, 0, 5]), grey[[11, 0, 5]])


def test_device_image_cache_turns_float_when_a_later_chunk_is_not_eight_bit(monkeypatch):
    # Chunks are quantised as they are drawn; one that is not k / 255 turns the whole cache float, exactly.
    from tcdecomp.vae import data as data_module

    monkeypatch.setattr(data_module, "CACHE_CHUNK_ROWS", 4)
    images = torch.round(torch.rand(12, 1, 3, 3, generator=torch.Generator().manual_seed(1)) * 255) / 255
    images[9, 0, 1, 1] = 0.5  # not a multiple of 1/255, in the third chunk
    cache = data_module.DeviceImageCache(data_module.ArrayFactorDataset(images.numpy(), ["a", "b"], [3, 4]), "cpu")
    assert not cache.eight_bit and cache._images.dtype == torch.float32
    assert torch.equal(cache.images(range(12)), images)


def test_procedural_dsprites_matches_the_official_mean_pixel_value():
    # The official dSprites images average 0.042494 lit (the normalisation statistics published with
    # loaders such as disent's); the procedural sprites are sized to match it.
    data = ProceduralDSprites()
    rows = np.random.default_rng(1).integers(0, len(data), 4000)
    assert float(data.images(rows).mean()) == pytest.approx(0.042494, rel=0.04)
