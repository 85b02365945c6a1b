"""Image datasets: scikit-learn digits, MNIST/Fashion-MNIST (IDX), CIFAR-10 (python batches),
image folders, .npz files of uint8 images, and a synthetic `fake` set for tests."""
from __future__ import annotations

import gzip
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import GankitError
from ..registry import DATASETS
from . import Data

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
FASHION_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                   "ankle-boot"]
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _labelled(x: np.ndarray, y: np.ndarray | None, name: str, classes: list[str] | None) -> Data:
    yt = None if y is None else torch.from_numpy(np.asarray(y, dtype=np.int64))
    return Data(torch.from_numpy(np.ascontiguousarray(x)), yt, name=name,
                num_classes=len(classes) if classes else 0, class_names=classes)


@DATASETS.register("digits", help="scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes)",
                   splits=("train", "test", "all"))
def digits(cfg, split: str) -> Data:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[:, None]  # (N, 1, 8, 8), 16 grey levels
    y = d.target
    # A fixed split (scikit-learn ships none): 1,500 for training, 297 held out.
    order = np.random.RandomState(0).permutation(len(x))
    pick = {"train": order[:1500], "test": order[1500:], "all": np.arange(len(x))}[split]
    return _labelled(x[pick], y[pick], f"digits:{split}", [str(i) for i in range(10)])


# ----------------------------------------------------------------------------------------------
# IDX (MNIST, Fashion-MNIST)


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped): the format of MNIST and Fashion-MNIST."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise GankitError(f"cannot read {path}: {e}; the file is damaged, fetch it again")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise GankitError(f"{path} is not an IDX file of unsigned bytes; fetch the original file again")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:  # the header itself is cut short
        raise GankitError(f"{path} is truncated (its IDX header is incomplete); fetch it again")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise GankitError(f"{path} is truncated ({data.size} of {int(np.prod(dims))} values); fetch it again")
    return data.reshape(dims).copy()  # a writable array: frombuffer over bytes is read-only


def data_roots(cfg, name: str, torchvision_dir: str) -> list[Path]:
    """Where a named dataset is looked for, in order."""
    roots: list[Path] = []
    bases = [Path(cfg.root).expanduser()] if cfg.root else []
    if os.environ.get("GANKIT_DATA"):
        bases.append(Path(os.environ["GANKIT_DATA"]).expanduser())
    bases += [Path("data"), Path("~/.cache/gankit").expanduser()]
    for b in bases:
        roots += [b, b / name, b / torchvision_dir / "raw", b / torchvision_dir]
    roots.append(Path("/usr/share/datasets") / name)
    return roots


def _find(roots: list[Path], filename: str) -> Path | None:
    for r in roots:
        for candidate in (r / filename, r / (filename + ".gz")):
            if candidate.is_file():
                return candidate
    return None


def _idx_dataset(cfg, split: str, name: str, tv_dir: str, tv_class: str, classes, how: str) -> Data:
    prefix = "train" if split == "train" else "t10k"
    roots = data_roots(cfg, name, tv_dir)
    img = _find(roots, f"{prefix}-images-idx3-ubyte")
    lab = _find(roots, f"{prefix}-labels-idx1-ubyte")
    if (img is None or lab is None) and cfg.download:
        import torchvision.datasets as tvd

        root = Path(cfg.root or os.environ.get("GANKIT_DATA") or "~/.cache/gankit").expanduser()
        getattr(tvd, tv_class)(str(root), train=(split == "train"), download=True)
        img = _find([root / tv_dir / "raw"], f"{prefix}-images-idx3-ubyte")
        lab = _find([root / tv_dir / "raw"], f"{prefix}-labels-idx1-ubyte")
    if img is None or lab is None:
        looked = ", ".join(dict.fromkeys(str(r) for r in roots))
        raise GankitError(f"{name} ({prefix}-images-idx3-ubyte[.gz]) not found; looked in: {looked}. "
                          f"Get it with {how}, put the IDX files in $GANKIT_DATA/{name}, or add "
                          f"data.download=true when online")
    x, y = read_idx(img), read_idx(lab)
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise GankitError(f"{img} and {lab} do not match ({x.shape} images, {y.shape} labels); fetch them again")
    return _labelled(x[:, None], y, f"{name}:{split}", classes)


@DATASETS.register("mnist", help="MNIST 28x28 digits from the standard IDX files (60k train / 10k test)")
def mnist(cfg, split: str) -> Data:
    return _idx_dataset(cfg, split, "mnist", "MNIST", "MNIST", [str(i) for i in range(10)],
                        "`python -c 'import torchvision; torchvision.datasets.MNIST(\".\", download=True)'`")


@DATASETS.register("fashion-mnist", help="Fashion-MNIST 28x28 from the standard IDX files (60k/10k, 10 classes)")
def fashion_mnist(cfg, split: str) -> Data:
    return _idx_dataset(cfg, split, "fashion-mnist", "FashionMNIST", "FashionMNIST", FASHION_CLASSES,
                        "`apt-get install dataset-fashion-mnist` (Debian)")


# ----------------------------------------------------------------------------------------------
# CIFAR-10


@DATASETS.register("cifar10", help="CIFAR-10 32x32 RGB from the standard python batches (50k/10k, 10 classes)")
def cifar10(cfg, split: str) -> Data:
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    roots = data_roots(cfg, "cifar10", "cifar-10-batches-py")
    roots = [r / "cifar-10-batches-py" for r in roots] + roots
    folder = next((r for r in roots if (r / names[0]).is_file()), None)
    if folder is None and cfg.download:
        import torchvision.datasets as tvd

        root = Path(cfg.root or os.environ.get("GANKIT_DATA") or "~/.cache/gankit").expanduser()
        tvd.CIFAR10(str(root), train=(split == "train"), download=True)
        folder = root / "cifar-10-batches-py"
    if folder is None:
        looked = ", ".join(dict.fromkeys(str(r) for r in roots))
        raise GankitError(f"cifar10 (cifar-10-batches-py/{names[0]}) not found; looked in: {looked}. Unpack "
                          f"cifar-10-python.tar.gz into $GANKIT_DATA, or add data.download=true when online")
    xs, ys = [], []
    for n in names:
        try:
            with open(folder / n, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            xs.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(batch[b"labels"], dtype=np.int64))
        except (OSError, pickle.UnpicklingError, KeyError, ValueError, EOFError) as e:
            raise GankitError(f"cannot read CIFAR-10 batch {folder / n} ({e}); unpack the archive again")
    return _labelled(np.concatenate(xs), np.concatenate(ys), f"cifar10:{split}", CIFAR_CLASSES)


# ----------------------------------------------------------------------------------------------
# image folders and .npz


def load_folder(root: Path, cfg, sizes) -> Data:
    """Every image under `root` (recursively), resized on its short side and centre-cropped.

    Images in first-level sub-folders get the sub-folder as their class label (ImageFolder's rule).
    Unreadable files are skipped with a count (data.on_corrupt=skip) or stop the run (=fail).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))  # no hidden dirs
    if not files:
        raise GankitError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) found under {root}")
    size = cfg.image_size or (64 if sizes is None or 64 in sizes else max(sizes))
    if sizes is not None and size not in sizes:
        raise GankitError(f"image size {size} does not fit the net (it makes {', '.join(map(str, sizes))} px); "
                          f"set data.image_size to one of those")
    classes = sorted({p.relative_to(root).parts[0] for p in files if len(p.relative_to(root).parts) > 1})
    labelled = bool(classes) and all(len(p.relative_to(root).parts) > 1 for p in files)
    images, labels, bad, modes = [], [], [], set()
    for p in files:
        try:
            with Image.open(p) as im:
                im.load()
                modes.add("L" if im.mode in ("L", "1", "I;16", "I") else "RGB")
                images.append(ImageOps.fit(im.convert("RGB"), (size, size), Image.Resampling.BICUBIC))
                if labelled:
                    labels.append(classes.index(p.relative_to(root).parts[0]))
        except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as e:
            if cfg.on_corrupt == "fail":
                raise GankitError(f"cannot read image {p} ({type(e).__name__}); remove it or set "
                                  f"data.on_corrupt=skip")
            bad.append(p)
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable image(s) under {root}, e.g. {bad[0]} "
                      f"(set data.on_corrupt=fail to stop instead)", stacklevel=2)
    if not images:
        raise GankitError(f"none of the {len(files)} image files under {root} could be read")
    x = np.stack([np.asarray(im) for im in images]).transpose(0, 3, 1, 2)  # (N, 3, H, W)
    if modes == {"L"} and cfg.channels != 3:
        x = x[:, :1]  # grey images were expanded to equal R, G, B (colour: fit_images makes grey)
    data = _labelled(x, np.array(labels) if labelled else None, str(root), classes if labelled else None)
    data.meta["skipped"] = len(bad)
    return data


def load_npz(path: Path) -> Data:
    """An .npz with uint8 images under 'images' (N, H, W, C) or (N, H, W), optional 'labels'."""
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise GankitError(f"cannot read {path} as .npz ({e})")
    key = next((k for k in ("images", "x", "arr_0") if k in z.files), None)
    if key is None:
        raise GankitError(f"{path} has no 'images' array (it has: {', '.join(z.files)}); save images under "
                          f"'images' as uint8 (N, H, W, C)")
    try:
        x = z[key]
        y = z["labels"] if "labels" in z.files else None
    except (OSError, ValueError) as e:  # e.g. object arrays, which need pickle
        raise GankitError(f"cannot read {path} ({e}); save plain uint8 images (and integer labels)")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.dtype != np.uint8 or x.shape[-1] not in (1, 3):
        raise GankitError(f"{path}: 'images' must be uint8 (N, H, W, C) with C in (1, 3), got {x.dtype} "
                          f"{x.shape}")
    if y is not None and (y.ndim != 1 or len(y) != len(x) or y.dtype.kind not in "iu" or (len(y) and y.min() < 0)):
        raise GankitError(f"{path}: 'labels' must be non-negative integers of shape ({len(x)},), got {y.dtype} "
                          f"{y.shape}; fix the labels or drop them")
    n_cls = int(y.max()) + 1 if y is not None and len(y) else 0
    return _labelled(x.transpose(0, 3, 1, 2), y, str(path), [str(i) for i in range(n_cls)] or None)


# ----------------------------------------------------------------------------------------------


@DATASETS.register("fake", help="synthetic labelled images for tests: 10 classes of bright squares, 32x32 RGB",
                   splits=("train", "test"))
def fake(cfg, split: str) -> Data:
    """1,024 (train) / 256 (test) images; class k puts a bright square at grid cell k, plus noise."""
    n = 1024 if split == "train" else 256
    g = torch.Generator().manual_seed(1234 if split == "train" else 4321)
    y = torch.randint(0, 10, (n,), generator=g)
    x = torch.rand(n, 3, 32, 32, generator=g) * 60
    for k in range(10):
        r, c = divmod(k, 4)
        x[y == k, :, 2 + 8 * r: 8 + 8 * r, 2 + 8 * c: 8 + 8 * c] += 180
    return Data(x.to(torch.uint8), y, name=f"fake:{split}", num_classes=10, class_names=[str(i) for i in range(10)])
