"""Two-domain datasets: pix2pix's A|B files, paired folders, CycleGAN's unpaired layout, the
Fashion-MNIST tasks, and clear errors for missing folders, mismatched pairs and wrong sizes.

Expected values come from the images the tests write themselves (or from Fashion-MNIST's own
files and scikit-image called directly), never from the loader under test."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.data import BatchStream, load_data
from gankit.data.images import FASHION_CLASSES
from gankit.data.translation import canny_edges, colour_map
from gankit.errors import GankitError

FASHION = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(not FASHION.is_dir(), reason="needs `apt-get install dataset-fashion-mnist`")
SIZES = (16, 32, 64)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))


def _img(seed: int, size=(8, 8), mode="RGB") -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size[1], size[0], 3 if mode == "RGB" else 1), dtype=np.uint8).squeeze()


def _save(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def load(spec, root, sizes=None, **kw):
    return load_data(DataConfig(spec=spec, root=str(root), **kw), sizes=sizes, log=lambda m: None)


def test_aligned_splits_each_file_into_its_a_and_b_halves(tmp_path):
    left, right = {}, {}
    for k in range(3):
        a, b = _img(k), _img(10 + k)
        left[k], right[k] = a, b
        _save(tmp_path / "train" / f"{k}.png", np.concatenate([a, b], axis=1))  # (8, 16, 3): A | B
    d = load("aligned:train", tmp_path, image_size=8)
    assert d.paired and d.x.shape == d.x2.shape == (3, 3, 8, 8)
    for k in range(3):  # files are read in sorted order: 0.png, 1.png, 2.png
        assert np.array_equal(d.x[k].permute(1, 2, 0).numpy(), left[k])
        assert np.array_equal(d.x2[k].permute(1, 2, 0).numpy(), right[k])


def test_aligned_errors(tmp_path):
    with pytest.raises(GankitError, match="add data.root=DIR"):
        load_data(DataConfig(spec="aligned:train"), sizes=SIZES)
    with pytest.raises(GankitError, match="no folder .*test"):
        (tmp_path / "train").mkdir()
        load("aligned:test", tmp_path)
    _save(tmp_path / "train" / "odd.png", _img(0, size=(15, 8)))
    with pytest.raises(GankitError, match=r"is 15x8 px.*width must be even"):
        load("aligned:train", tmp_path)


@pytest.mark.parametrize("layout", ["A/train", "trainA"])
def test_paired_folders_match_by_name(tmp_path, layout):
    fa = tmp_path / layout
    fb = tmp_path / layout.replace("A", "B")
    for k, name in enumerate(["b", "a", "c"]):
        _save(fa / f"{name}.png", _img(k, mode="L"))
        _save(fb / f"{name}.jpg" if name == "a" else fb / f"{name}.png", _img(100 + k))
    d = load("paired:train", tmp_path, image_size=8)
    assert d.paired and d.x.shape == (3, 1, 8, 8) and d.x2.shape == (3, 3, 8, 8)  # grey A, colour B
    assert np.array_equal(d.x[0, 0].numpy(), _img(1, mode="L"))  # sorted by name: a, b, c
    assert np.array_equal(d.x2[1].permute(1, 2, 0).numpy(), _img(100))  # b's partner


def test_paired_folders_errors(tmp_path):
    _save(tmp_path / "trainA" / "x.png", _img(0))
    with pytest.raises(GankitError, match="trainB is missing"):
        load("paired:train", tmp_path)
    _save(tmp_path / "trainB" / "y.png", _img(1))
    with pytest.raises(GankitError, match=r"mismatched pairs: 1 image\(s\) in .*trainA have no file of the same name"):
        load("paired:train", tmp_path)
    (tmp_path / "trainB" / "y.png").unlink()
    _save(tmp_path / "trainB" / "x.png", _img(1, size=(16, 16)))
    with pytest.raises(GankitError, match="pair x has different sizes: .* is 8x8 but .* is 16x16"):
        load("paired:train", tmp_path)
    with pytest.raises(GankitError, match="no test data"):
        load("paired:test", tmp_path)


def test_unpaired_layout_loads_two_independent_sets(tmp_path):
    for k in range(5):
        _save(tmp_path / "trainA" / f"{k}.png", _img(k))
    for k in range(3):
        _save(tmp_path / "trainB" / f"{k}.png", _img(50 + k))
    d = load("unpaired:train", tmp_path, image_size=16)
    assert not d.paired and d.x.shape == (5, 3, 16, 16) and d.x2.shape == (3, 3, 16, 16)
    with pytest.raises(GankitError, match="has no testA or testB folder; CycleGAN's layout"):
        load("unpaired:test", tmp_path)


def test_wrong_image_size_for_the_net_is_a_clear_error(tmp_path):
    for k in range(2):
        _save(tmp_path / "trainA" / f"{k}.png", _img(k))
        _save(tmp_path / "trainB" / f"{k}.png", _img(k))
    with pytest.raises(GankitError, match="image size 50 does not fit the net"):
        load("unpaired:train", tmp_path, sizes=SIZES, image_size=50)


def test_fake_pairs_are_an_exact_colour_mapping():
    d = load_data(DataConfig(spec="fake-pairs"), sizes=None)
    assert d.paired and torch.equal(d.x2, 255 - d.x[:, [1, 2, 0]])
    u = load_data(DataConfig(spec="fake-unpaired"), sizes=None)
    assert not u.paired and len(u.x) == len(u.x2) == 512
    assert torch.equal(colour_map(colour_map(u.x)), u.x[:, [2, 0, 1]])


def test_paired_batches_stay_aligned():
    d = load_data(DataConfig(spec="fake-pairs"), sizes=None)
    b = BatchStream(d, 16, seed=0, device=torch.device("cpu")).next()
    torch.testing.assert_close(b.x2, -b.x[:, [1, 2, 0]])  # 255 - v maps to -(v / 127.5 - 1)


def test_canny_mosaic_equals_canny_of_each_padded_image():
    from skimage.feature import canny

    rng = np.random.default_rng(0)
    images = np.zeros((70, 28, 28), dtype=np.uint8)
    for im in images:  # random bright rectangles, some touching the frame
        r0, c0 = rng.integers(0, 20, 2)
        im[r0:r0 + rng.integers(5, 12), c0:c0 + rng.integers(5, 12)] = rng.integers(100, 256)
    got = canny_edges(images, chunk=32)  # several mosaics, the last one partly empty
    want = np.stack([canny(np.pad(im, 20), sigma=1.0)[20:-20, 20:-20] for im in images])  # far from any border
    assert got.any() and np.array_equal(got, want)


@needs_fashion
def test_edges2fashion_pairs_edges_with_their_garments():
    from skimage.feature import canny

    d = load_data(DataConfig(spec="edges2fashion:test"), sizes=None)  # natural 28 px
    f = load_data(DataConfig(spec="fashion-mnist:test"), sizes=None)
    assert d.paired and d.x.shape == (10000, 1, 28, 28) and torch.equal(d.x2, f.x) and torch.equal(d.y, f.y)
    assert set(d.x.unique().tolist()) == {0, 255}
    for i in (0, 1234):
        assert np.array_equal(d.x[i, 0].numpy() > 0, canny(np.pad(f.x[i, 0].numpy(), 20), sigma=1.0)[20:-20, 20:-20])
    again = load_data(DataConfig(spec="edges2fashion:test"), sizes=None)  # from the cache
    assert torch.equal(again.x, d.x)


@needs_fashion
def test_sneaker2boot_domains_are_the_two_classes():
    d = load_data(DataConfig(spec="sneaker2boot:test"), sizes=None)
    f = load_data(DataConfig(spec="fashion-mnist:test"), sizes=None)
    assert not d.paired
    assert torch.equal(d.x, f.x[f.y == FASHION_CLASSES.index("sneaker")])
    assert torch.equal(d.x2, f.x[f.y == FASHION_CLASSES.index("ankle-boot")])
