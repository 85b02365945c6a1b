"""Dataset loading: digits, IDX (MNIST/Fashion-MNIST), CIFAR-10 batches, image folders, .npz, toy 2D, fake.

Expected values come from the inputs the tests write themselves (or from the original files /
scikit-learn), never from the loader under test.
"""
from __future__ import annotations

import gzip
import math
import pickle
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.config import DataConfig
from gankit.data import images as images_mod
from gankit.data import load_data
from gankit.errors import GankitError

FASHION_DEBIAN = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $GANKIT_DATA, no ./data, no ~/.cache/gankit from the machine running the tests."""
    monkeypatch.delenv("GANKIT_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def cfg(spec, **kw) -> DataConfig:
    return DataConfig(spec=str(spec), **kw)


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg, f"GankitError messages are one line: {msg!r}"
    return msg


# ----------------------------------------------------------------------------------------------
# digits


def _digits_reference():
    """scikit-learn's digits, mapped from 0..16 to 0..255, as (N, 64) uint8 rows + labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return np.round(d.images * (255.0 / 16.0)).astype(np.uint8).reshape(len(d.images), 64), d.target


def _rows(data) -> list[bytes]:
    """Each example as bytes (image then label), for multiset comparisons."""
    x = data.x.reshape(len(data), -1).numpy()
    return sorted(x[i].tobytes() + bytes([int(data.y[i])]) for i in range(len(data)))


def test_digits_natural_shape_range_and_labels():
    data = load_data(cfg("digits"), log=lambda *_: None)
    assert data.x.dtype == torch.uint8 and data.y.dtype == torch.int64
    assert data.shape == (1, 8, 8)
    assert len(data) == 1500
    # The 17 grey levels of scikit-learn's digits span the whole uint8 range.
    assert int(data.x.min()) == 0 and int(data.x.max()) == 255
    assert set(data.y.tolist()) == set(range(10))
    assert data.num_classes == 10


def test_digits_all_matches_scikit_learn():
    ref_x, ref_y = _digits_reference()
    data = load_data(cfg("digits:all"))
    np.testing.assert_array_equal(data.x.reshape(len(data), 64).numpy(), ref_x)
    np.testing.assert_array_equal(data.y.numpy(), ref_y)


def test_digits_train_test_partition_all():
    train, test, every = (load_data(cfg(f"digits:{s}")) for s in ("train", "test", "all"))
    assert (len(train), len(test)) == (1500, 297)
    assert len(train) + len(test) == len(every)
    # train + test is exactly `all` as a multiset: nothing shared, nothing lost.
    assert sorted(_rows(train) + _rows(test)) == _rows(every)
    # and the split is a fixed one: loading again gives the same examples in the same order
    torch.testing.assert_close(load_data(cfg("digits:test")).x, test.x)


@pytest.mark.parametrize("size", [28, 32])
def test_digits_resized_to_image_size(size):
    natural = load_data(cfg("digits:test"))
    data = load_data(cfg("digits:test", image_size=size))
    assert data.shape == (1, size, size) and data.x.dtype == torch.uint8
    torch.testing.assert_close(data.y, natural.y)
    # Resizing keeps each image: pooled back to 8x8 it correlates with its own original far more
    # than with its neighbour's (a shuffle or transpose would break this).
    back = torch.nn.functional.adaptive_avg_pool2d(data.x.float(), 8).flatten()
    own = torch.corrcoef(torch.stack([back, natural.x.float().flatten()]))[0, 1]
    other = torch.corrcoef(torch.stack([back, natural.x.float().roll(1, 0).flatten()]))[0, 1]
    transposed = torch.corrcoef(torch.stack([back, natural.x.float().transpose(2, 3).flatten()]))[0, 1]
    assert own > 0.9 and other < 0.7 and transposed < 0.8, (own, other, transposed)


def test_digits_bogus_split_lists_splits():
    with pytest.raises(GankitError) as e:
        load_data(cfg("digits:bogus"))
    msg = one_line(e)
    assert "bogus" in msg
    for split in ("train", "test", "all"):
        assert split in msg


def test_unknown_dataset_lists_names():
    with pytest.raises(GankitError) as e:
        load_data(cfg("fashon-mnist"))
    msg = one_line(e)
    assert "fashion-mnist" in msg and "digits" in msg


def test_digits_channels_and_limit():
    data = load_data(cfg("digits:test", channels=3, limit=10))
    assert data.shape == (3, 8, 8) and len(data) == 10 and len(data.y) == 10
    grey = load_data(cfg("digits:test")).x[:10]
    for c in range(3):
        torch.testing.assert_close(data.x[:, c: c + 1], grey)


def test_natural_size_not_fitting_the_net_is_resized_with_a_message():
    logs = []
    data = load_data(cfg("digits:test"), sizes=(28, 32, 64), log=logs.append)
    assert data.shape == (1, 28, 28)  # the smallest size the net makes that is not below 8
    assert any("resiz" in m and "28" in m for m in logs), logs


def test_natural_size_fitting_the_net_is_kept_silently():
    logs = []
    data = load_data(cfg("digits:test"), sizes=(8, 16), log=logs.append)
    assert data.shape == (1, 8, 8)
    assert logs == []


def test_image_size_the_net_cannot_make_is_an_error():
    with pytest.raises(GankitError) as e:
        load_data(cfg("digits:test", image_size=50), sizes=(28, 32, 64))
    msg = one_line(e)
    for s in ("50", "28", "32", "64"):
        assert s in msg


# ----------------------------------------------------------------------------------------------
# IDX files (MNIST / Fashion-MNIST)


def idx_bytes(arr: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes, header written by hand: magic 0x0000080N, then N big-endian dims."""
    assert arr.dtype == np.uint8
    magic = {1: 0x00000801, 3: 0x00000803}[arr.ndim]
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in arr.shape) + arr.tobytes()


def write_idx(folder: Path, stem: str, arr: np.ndarray, gz: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if gz:
        path = folder / (stem + ".gz")
        with gzip.open(path, "wb") as f:
            f.write(idx_bytes(arr))
    else:
        path = folder / stem
        path.write_bytes(idx_bytes(arr))
    return path


def make_idx_set(folder: Path, gz: bool, seed: int = 0):
    """Small train (12) and t10k (7) sets of 28x28 images; returns {split: (x, y)}."""
    rng = np.random.RandomState(seed)
    out = {}
    for split, prefix, n in (("train", "train", 12), ("test", "t10k", 7)):
        x = rng.randint(0, 256, size=(n, 28, 28)).astype(np.uint8)
        y = rng.randint(0, 10, size=n).astype(np.uint8)
        write_idx(folder, f"{prefix}-images-idx3-ubyte", x, gz)
        write_idx(folder, f"{prefix}-labels-idx1-ubyte", y, gz)
        out[split] = (x, y)
    return out


def test_idx_header_is_the_standard_one():
    """Guard the helper itself: the bytes the tests write are what the MNIST page documents."""
    b = idx_bytes(np.zeros((2, 28, 28), np.uint8))
    assert b[:16] == bytes.fromhex("00000803" "00000002" "0000001c" "0000001c")
    assert idx_bytes(np.zeros(5, np.uint8))[:8] == bytes.fromhex("00000801" "00000005")


def _check_idx(data, expected, name):
    x, y = expected
    assert data.shape == (1, 28, 28) and data.x.dtype == torch.uint8
    np.testing.assert_array_equal(data.x[:, 0].numpy(), x)
    np.testing.assert_array_equal(data.y.numpy(), y.astype(np.int64))
    assert data.y.dtype == torch.int64
    assert data.num_classes == 10 and name in data.name


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("layout", ["root", "torchvision", "gankit_data"])
def test_idx_round_trip(isolated, monkeypatch, gz, layout):
    base = isolated / "store"
    if layout == "root":
        sets = make_idx_set(base, gz)
        kw = {"root": str(base)}
    elif layout == "torchvision":
        sets = make_idx_set(base / "FashionMNIST" / "raw", gz)
        kw = {"root": str(base)}
    else:
        sets = make_idx_set(base / "fashion-mnist", gz)
        monkeypatch.setenv("GANKIT_DATA", str(base))
        kw = {}
    _check_idx(load_data(cfg("fashion-mnist", **kw)), sets["train"], "fashion-mnist")
    _check_idx(load_data(cfg("fashion-mnist:test", **kw)), sets["test"], "fashion-mnist")


def test_mnist_torchvision_layout(isolated):
    sets = make_idx_set(isolated / "r" / "MNIST" / "raw", gz=True, seed=3)
    _check_idx(load_data(cfg("mnist:test", root=str(isolated / "r"))), sets["test"], "mnist")


def test_data_root_wins_over_gankit_data(isolated, monkeypatch):
    first = make_idx_set(isolated / "a", gz=False, seed=1)
    make_idx_set(isolated / "b" / "fashion-mnist", gz=False, seed=2)
    monkeypatch.setenv("GANKIT_DATA", str(isolated / "b"))
    _check_idx(load_data(cfg("fashion-mnist", root=str(isolated / "a"))), first["train"], "fashion-mnist")


def test_read_idx_gives_a_writable_array(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path, "t-images-idx3-ubyte", arr, gz=False)
    out = images_mod.read_idx(path)
    np.testing.assert_array_equal(out, arr)
    # torch.from_numpy over a read-only buffer warns and makes writes undefined behaviour
    assert out.flags.writeable


def test_idx_truncated_data(isolated):
    root = isolated / "r"
    make_idx_set(root, gz=False)
    img = root / "train-images-idx3-ubyte"
    img.write_bytes(img.read_bytes()[:-100])
    with pytest.raises(GankitError) as e:
        load_data(cfg("fashion-mnist", root=str(root)))
    msg = one_line(e)
    assert str(img) in msg and "truncated" in msg


def test_idx_truncated_header(isolated):
    root = isolated / "r"
    make_idx_set(root, gz=False)
    img = root / "train-images-idx3-ubyte"
    img.write_bytes(img.read_bytes()[:6])  # magic and half of the first dimension
    with pytest.raises(GankitError) as e:
        load_data(cfg("fashion-mnist", root=str(root)))
    assert str(img) in one_line(e)


def test_idx_truncated_gzip(isolated):
    root = isolated / "r"
    make_idx_set(root, gz=True)
    img = root / "train-images-idx3-ubyte.gz"
    img.write_bytes(img.read_bytes()[: img.stat().st_size // 2])
    with pytest.raises(GankitError) as e:
        load_data(cfg("fashion-mnist", root=str(root)))
    assert str(img) in one_line(e)


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_not_an_idx_file(isolated, gz):
    root = isolated / "r"
    make_idx_set(root, gz=gz)
    lab = root / ("train-labels-idx1-ubyte" + (".gz" if gz else ""))
    payload = b"<html>404 Not Found</html>\n" * 10
    lab.write_bytes(gzip.compress(payload) if gz else payload)
    with pytest.raises(GankitError) as e:
        load_data(cfg("fashion-mnist", root=str(root)))
    msg = one_line(e)
    assert str(lab) in msg and "IDX" in msg


def test_gz_name_but_not_gzip(isolated):
    root = isolated / "r"
    make_idx_set(root, gz=True)
    img = root / "train-images-idx3-ubyte.gz"
    img.write_bytes(idx_bytes(np.zeros((12, 28, 28), np.uint8)))  # plain IDX under a .gz name
    with pytest.raises(GankitError) as e:
        load_data(cfg("fashion-mnist", root=str(root)))
    assert str(img) in one_line(e)


def test_idx_images_and_labels_disagree(isolated):
    root = isolated / "r"
    make_idx_set(root, gz=False)
    write_idx(root, "train-labels-idx1-ubyte", np.zeros(5, np.uint8), gz=False)  # 5 labels for 12 images
    with pytest.raises(GankitError) as e:
        load_data(cfg("fashion-mnist", root=str(root)))
    assert "match" in one_line(e)


def test_missing_mnist_says_where_it_looked(isolated):
    root = isolated / "nothing-here"
    root.mkdir()
    with pytest.raises(GankitError) as e:
        load_data(cfg("mnist", root=str(root)))
    msg = one_line(e)
    assert str(root) in msg and "looked in" in msg
    assert "download" in msg  # how to get it


def test_missing_only_the_requested_split(isolated):
    root = isolated / "r"
    rng = np.random.RandomState(0)
    write_idx(root, "train-images-idx3-ubyte", rng.randint(0, 256, (3, 28, 28)).astype(np.uint8), gz=False)
    write_idx(root, "train-labels-idx1-ubyte", np.zeros(3, np.uint8), gz=False)
    assert len(load_data(cfg("mnist", root=str(root)))) == 3
    with pytest.raises(GankitError) as e:
        load_data(cfg("mnist:test", root=str(root)))
    assert "t10k" in one_line(e)


def test_missing_fashion_mnist_mentions_apt_get(isolated, monkeypatch):
    # Hide the Debian package's folder, which the test machine may well have.
    real = images_mod.data_roots
    monkeypatch.setattr(images_mod, "data_roots",
                        lambda *a: [r for r in real(*a) if not str(r).startswith("/usr/share/datasets")])
    root = isolated / "empty"
    root.mkdir()
    with pytest.raises(GankitError) as e:
        load_data(cfg("fashion-mnist", root=str(root)))
    msg = one_line(e)
    assert str(root) in msg and str(root / "FashionMNIST" / "raw") in msg
    assert "apt-get install dataset-fashion-mnist" in msg


@pytest.mark.skipif(not FASHION_DEBIAN.is_dir(), reason="needs `apt-get install dataset-fashion-mnist`")
def test_fashion_mnist_from_debian(isolated):
    data = load_data(cfg("fashion-mnist:test"))
    assert data.x.shape == (10_000, 1, 28, 28) and data.x.dtype == torch.uint8
    assert torch.bincount(data.y, minlength=10).tolist() == [1000] * 10
    assert data.num_classes == 10 and len(data.class_names) == 10
    # Compared with the original files, read here by hand (16- and 8-byte headers).
    with gzip.open(FASHION_DEBIAN / "t10k-labels-idx1-ubyte.gz", "rb") as f:
        labels = np.frombuffer(f.read()[8:], np.uint8)
    with gzip.open(FASHION_DEBIAN / "t10k-images-idx3-ubyte.gz", "rb") as f:
        first = np.frombuffer(f.read(16 + 3 * 784)[16:], np.uint8).reshape(3, 28, 28)
    np.testing.assert_array_equal(data.y.numpy(), labels)
    np.testing.assert_array_equal(data.x[:3, 0].numpy(), first)


# ----------------------------------------------------------------------------------------------
# CIFAR-10 python batches


def make_cifar(folder: Path, n: int = 4):
    """data_batch_1..5 and test_batch with n images each; returns {batch name: (HWC images, labels)}."""
    folder.mkdir(parents=True)
    rng = np.random.RandomState(0)
    out = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        hwc = rng.randint(0, 256, size=(n, 32, 32, 3)).astype(np.uint8)
        labels = rng.randint(0, 10, size=n).tolist()
        # The CIFAR layout: each row is the 1024 red values, then 1024 green, then 1024 blue.
        rows = np.concatenate([hwc[..., c].reshape(n, 1024) for c in range(3)], axis=1)
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": rows}, f)
        out[name] = (hwc, labels, rows)
    return out


def test_cifar10_train_and_test(isolated):
    batches = make_cifar(isolated / "cifar-10-batches-py")
    train = load_data(cfg("cifar10", root=str(isolated)))
    test = load_data(cfg("cifar10:test", root=str(isolated)))
    names = [f"data_batch_{i}" for i in range(1, 6)]
    assert train.shape == (3, 32, 32) and len(train) == 20 and len(test) == 4
    assert train.x.dtype == torch.uint8 and train.num_classes == 10
    hwc = np.concatenate([batches[n][0] for n in names])
    np.testing.assert_array_equal(train.x.permute(0, 2, 3, 1).numpy(), hwc)  # channels in R, G, B order
    np.testing.assert_array_equal(train.y.numpy(), sum((batches[n][1] for n in names), []))
    rows = batches["test_batch"][2]
    np.testing.assert_array_equal(test.x[:, 0].reshape(4, -1).numpy(), rows[:, :1024])  # red plane first
    np.testing.assert_array_equal(test.x[:, 2].reshape(4, -1).numpy(), rows[:, 2048:])
    np.testing.assert_array_equal(test.y.numpy(), batches["test_batch"][1])


def test_cifar10_missing(isolated):
    with pytest.raises(GankitError) as e:
        load_data(cfg("cifar10", root=str(isolated / "nope")))
    msg = one_line(e)
    assert "cifar-10-batches-py" in msg and str(isolated / "nope") in msg


def test_cifar10_damaged_batch(isolated):
    make_cifar(isolated / "cifar-10-batches-py")
    bad = isolated / "cifar-10-batches-py" / "data_batch_3"
    bad.write_bytes(bad.read_bytes()[:100])
    with pytest.raises(GankitError) as e:
        load_data(cfg("cifar10", root=str(isolated)))
    assert str(bad) in one_line(e)


# ----------------------------------------------------------------------------------------------
# image folders


def save(path: Path, mode: str, size: tuple[int, int], colour) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)


def test_folder_mixed_sizes_resized_and_centre_cropped(tmp_path):
    from PIL import Image

    # 64x32 (W x H): red | green | green | blue quarters; the centre square is all green.
    a = np.zeros((32, 64, 3), np.uint8)
    a[:, :16, 0] = 255
    a[:, 16:48, 1] = 255
    a[:, 48:, 2] = 255
    Image.fromarray(a).save(tmp_path / "a_wide.png")
    save(tmp_path / "b_tall.png", "RGB", (20, 50), (10, 20, 30))
    save(tmp_path / "c_grey.png", "L", (16, 16), 99)
    data = load_data(cfg(tmp_path, image_size=16))
    assert data.x.shape == (3, 3, 16, 16) and data.x.dtype == torch.uint8
    assert data.y is None
    wide = data.x[0, :, :, 1:-1].float()  # away from the crop edges, where bicubic may ring
    assert wide[1].min() > 240 and wide[0].max() < 15 and wide[2].max() < 15
    assert (data.x[1] == torch.tensor([10, 20, 30], dtype=torch.uint8)[:, None, None]).all()
    assert (data.x[2] == 99).all()  # grey in a colour set: three equal planes


def test_folder_default_size_fits_the_net(tmp_path):
    save(tmp_path / "a.png", "RGB", (40, 40), (1, 2, 3))
    assert load_data(cfg(tmp_path), sizes=(28, 32)).shape == (3, 32, 32)
    assert load_data(cfg(tmp_path), sizes=(32, 64, 128)).shape == (3, 64, 64)


def test_folder_grayscale_only_is_one_channel(tmp_path):
    save(tmp_path / "a.png", "L", (12, 12), 77)
    save(tmp_path / "b.png", "L", (30, 20), 200)
    data = load_data(cfg(tmp_path, image_size=8))
    assert data.shape == (1, 8, 8)
    assert (data.x[0] == 77).all() and (data.x[1] == 200).all()


def test_folder_rgb_to_one_channel_is_luminance(tmp_path):
    save(tmp_path / "red.png", "RGB", (10, 10), (255, 0, 0))
    data = load_data(cfg(tmp_path, image_size=8, channels=1))
    assert data.shape == (1, 8, 8)
    # ITU-R 601 luma of pure red is 0.299 * 255 = 76, not the red plane's 255.
    assert (data.x.float() - 0.299 * 255).abs().max() <= 2


def test_folder_grey_to_three_channels(tmp_path):
    save(tmp_path / "a.png", "L", (8, 8), 50)
    data = load_data(cfg(tmp_path, image_size=8, channels=3))
    assert data.shape == (3, 8, 8) and (data.x == 50).all()


def test_folder_class_subfolders(tmp_path):
    colours = {"cat": (200, 0, 0), "ant": (0, 200, 0), "bee": (0, 0, 200)}
    counts = {"cat": 1, "ant": 3, "bee": 2}
    for cls, n in counts.items():
        for i in range(n):
            save(tmp_path / cls / f"{i}.png", "RGB", (9 + i, 12), colours[cls])
    data = load_data(cfg(tmp_path, image_size=8))
    assert data.class_names == ["ant", "bee", "cat"] and data.num_classes == 3
    assert data.y.dtype == torch.int64 and len(data) == 6
    for i in range(len(data)):
        cls = data.class_names[int(data.y[i])]
        assert data.x[i, :, 0, 0].tolist() == list(colours[cls])
    assert torch.bincount(data.y).tolist() == [counts["ant"], counts["bee"], counts["cat"]]


@pytest.mark.parametrize("n_bad", [1, 2])
def test_folder_corrupt_skipped_with_count(tmp_path, n_bad):
    for i in range(3):
        save(tmp_path / f"ok{i}.png", "RGB", (10, 10), (i, i, i))
    rng = np.random.RandomState(0)
    for i in range(n_bad):
        (tmp_path / ("x.png" if i == 0 else f"y{i}.png")).write_bytes(rng.bytes(300))
    with pytest.warns(UserWarning, match=rf"skipped {n_bad} unreadable"):
        data = load_data(cfg(tmp_path, image_size=8, on_corrupt="skip"))
    assert len(data) == 3
    assert data.meta["skipped"] == n_bad


def test_folder_corrupt_fails_naming_the_file(tmp_path):
    save(tmp_path / "ok.png", "RGB", (10, 10), (1, 1, 1))
    (tmp_path / "x.png").write_bytes(np.random.RandomState(1).bytes(300))
    with pytest.raises(GankitError) as e:
        load_data(cfg(tmp_path, image_size=8, on_corrupt="fail"))
    assert str(tmp_path / "x.png") in one_line(e)


def test_folder_all_corrupt(tmp_path):
    (tmp_path / "x.png").write_bytes(b"not an image")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(GankitError):
            load_data(cfg(tmp_path, image_size=8))


def test_folder_empty(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(GankitError) as e:
        load_data(cfg(tmp_path))
    msg = one_line(e)
    assert str(tmp_path) in msg and ".png" in msg


def test_folder_image_size_the_net_cannot_make(tmp_path):
    save(tmp_path / "a.png", "RGB", (10, 10), (1, 1, 1))
    with pytest.raises(GankitError) as e:
        load_data(cfg(tmp_path, image_size=50), sizes=(28, 32, 64))
    msg = one_line(e)
    for s in ("50", "28", "32", "64"):
        assert s in msg


def test_missing_path(tmp_path):
    with pytest.raises(GankitError) as e:
        load_data(cfg(tmp_path / "no" / "such"))
    assert str(tmp_path / "no" / "such") in one_line(e)


# ----------------------------------------------------------------------------------------------
# .npz


def test_npz_round_trip_rgb_with_labels(tmp_path):
    rng = np.random.RandomState(0)
    x = rng.randint(0, 256, size=(5, 16, 16, 3)).astype(np.uint8)
    y = np.array([3, 0, 1, 3, 2])
    np.savez(tmp_path / "d.npz", images=x, labels=y)
    data = load_data(cfg(tmp_path / "d.npz"))
    np.testing.assert_array_equal(data.x.permute(0, 2, 3, 1).numpy(), x)
    np.testing.assert_array_equal(data.y.numpy(), y)
    assert data.y.dtype == torch.int64 and data.num_classes == 4


def test_npz_grey_without_labels(tmp_path):
    x = np.random.RandomState(1).randint(0, 256, size=(4, 8, 8)).astype(np.uint8)
    np.savez_compressed(tmp_path / "g.npz", images=x)
    data = load_data(cfg(tmp_path / "g.npz"))
    assert data.shape == (1, 8, 8) and data.y is None
    np.testing.assert_array_equal(data.x[:, 0].numpy(), x)


def test_npz_resized_for_the_net(tmp_path):
    np.savez(tmp_path / "d.npz", images=np.full((2, 8, 8, 3), 40, np.uint8))
    data = load_data(cfg(tmp_path / "d.npz"), sizes=(16, 32), log=lambda *_: None)
    assert data.shape == (3, 16, 16) and (data.x == 40).all()


@pytest.mark.parametrize("bad", [
    np.zeros((2, 8, 8, 3), np.float32),
    np.zeros((2, 8, 8, 3), np.int64),
    np.zeros((2, 8, 8, 4), np.uint8),
    np.zeros((8, 8), np.uint8),
], ids=["float32", "int64", "4-channels", "2-dims"])
def test_npz_wrong_images(tmp_path, bad):
    np.savez(tmp_path / "d.npz", images=bad)
    with pytest.raises(GankitError) as e:
        load_data(cfg(tmp_path / "d.npz"))
    msg = one_line(e)
    assert "uint8" in msg and "d.npz" in msg


def test_npz_missing_images_key(tmp_path):
    np.savez(tmp_path / "d.npz", pictures=np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(GankitError) as e:
        load_data(cfg(tmp_path / "d.npz"))
    msg = one_line(e)
    assert "'images'" in msg and "pictures" in msg


@pytest.mark.parametrize("labels", [np.array([0, 1]), np.array([0.5, 1, 2, 3]), np.array([0, -1, 2, 3]),
                                    np.zeros((4, 2), np.int64)], ids=["short", "float", "negative", "2-dims"])
def test_npz_bad_labels(tmp_path, labels):
    np.savez(tmp_path / "d.npz", images=np.zeros((4, 8, 8, 3), np.uint8), labels=labels)
    with pytest.raises(GankitError) as e:
        load_data(cfg(tmp_path / "d.npz"))
    assert "labels" in one_line(e)


def test_npz_not_an_npz(tmp_path):
    (tmp_path / "d.npz").write_bytes(b"hello, not a zip")
    with pytest.raises(GankitError) as e:
        load_data(cfg(tmp_path / "d.npz"))
    assert "d.npz" in one_line(e)


# ----------------------------------------------------------------------------------------------
# toy 2D mixtures


def ring8_expected() -> np.ndarray:
    return np.array([[math.cos(k * math.pi / 4), math.sin(k * math.pi / 4)] for k in range(8)])


def grid25_expected() -> np.ndarray:
    return np.array([[a, b] for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)], dtype=float)


@pytest.mark.parametrize("name,centres,std", [("ring8", ring8_expected(), 0.01),
                                              ("grid25", grid25_expected(), 0.05)])
def test_toy_mixture(name, centres, std):
    data = load_data(cfg(name))
    k = len(centres)
    x, y = data.x.numpy().astype(np.float64), data.y.numpy()
    assert data.x.dtype == torch.float32 and data.shape == (2,) and data.y.dtype == torch.int64
    assert data.num_classes == k
    meta = np.array(data.meta["centres"])
    # Same set of centres (order free), and the labels index into meta's order.
    assert sorted(map(tuple, np.round(meta, 6))) == sorted(map(tuple, np.round(centres, 6)))
    assert set(y.tolist()) == set(range(k))
    counts = np.bincount(y, minlength=k)
    assert counts.min() > 0.8 * len(y) / k and counts.max() < 1.2 * len(y) / k
    # Each point sits by its own centre: the label is its nearest centre ...
    nearest = np.argmin(((x[:, None, :] - meta[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(nearest, y)
    # ... with the stated spread in each coordinate. The brief asks for "within 20%"; with 50k
    # points the estimate is good to ~0.5%, so 10% is still far from flaky and catches more.
    dev = x - meta[y]
    emp = dev.std(axis=0)
    assert np.all(np.abs(emp - std) < 0.1 * std), emp
    assert np.all(np.abs(dev.mean(axis=0)) < 0.1 * std)


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_toy_deterministic_and_splits_differ(name):
    a, b = load_data(cfg(name)), load_data(cfg(name))
    torch.testing.assert_close(a.x, b.x)
    torch.testing.assert_close(a.y, b.y)
    test = load_data(cfg(f"{name}:test"))
    n = min(len(a), len(test))
    assert not torch.equal(a.x[:n], test.x[:n])
    assert not torch.equal(a.y[:n], test.y[:n])  # an independent draw, not a prefix of the train one
    # no test point is a copy of a train point
    assert not (a.x[:2000, None] == test.x[None, :2000]).all(-1).any()


# ----------------------------------------------------------------------------------------------
# fake


def test_fake_images():
    a, b = load_data(cfg("fake")), load_data(cfg("fake"))
    torch.testing.assert_close(a.x, b.x)
    torch.testing.assert_close(a.y, b.y)
    assert a.shape == (3, 32, 32) and a.x.dtype == torch.uint8
    assert a.num_classes == 10 and set(a.y.tolist()) == set(range(10))
    test = load_data(cfg("fake:test"))
    assert test.shape == (3, 32, 32) and not torch.equal(a.x[: len(test)], test.x)
    # class k is a bright square in cell k of a 4-wide grid of 8x8 cells: it is the brightest cell
    cells = a.x.float().mean(1).unfold(1, 8, 8).unfold(2, 8, 8).mean((-1, -2)).reshape(len(a), 16)
    np.testing.assert_array_equal(cells.argmax(1).numpy(), a.y.numpy())


def test_fake_one_channel():
    rgb = load_data(cfg("fake:test"))
    grey = load_data(cfg("fake:test", channels=1))
    assert grey.shape == (1, 32, 32) and grey.x.dtype == torch.uint8
    luma = (rgb.x.float() * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(1, keepdim=True)
    assert (grey.x.float() - luma).abs().max() <= 1.5
