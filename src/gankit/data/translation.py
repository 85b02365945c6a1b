"""Two-domain image data for image-to-image translation.

A translation dataset is a `Data` whose x holds domain A and x2 domain B: aligned (x[i] <-> x2[i])
when `paired`, two independent sets otherwise. Formats:

- `aligned`   pix2pix's A|B files: data.root/SPLIT/*.png, each image A and B side by side;
- `paired`    two folders with matching file names: data.root/A/SPLIT + data.root/B/SPLIT
              (pix2pix's layout before combining) or data.root/SPLITA + data.root/SPLITB;
- `unpaired`  CycleGAN's layout: data.root/trainA, trainB, testA, testB;
- built in, from Fashion-MNIST, no download: `edges2fashion` (paired: Canny edges -> image) and
  unpaired class pairs such as `sneaker2boot`;
- `fake-pairs`, `fake-unpaired`: synthetic colour mappings, for tests.

Folder images are fitted (short side resized, centre crop) to data.image_size (default 64 px, as
for single image folders), and grey when every file of a domain is grey.
"""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
import torch

from ..errors import GankitError
from ..registry import DATASETS
from . import Data
from .images import FASHION_CLASSES, IMAGE_EXTENSIONS, fake, fashion_mnist, load_folder

EDGE_SIGMA = 1.0  # Canny's Gaussian: 1 px keeps the garments' outlines and main folds at 28 px
EDGE_PAD = 8  # black border: more than Canny reaches (4-sigma Gaussian + Sobel + non-max suppression = 6 px)
DEFAULT_SIZE = 64


def _cache_dir() -> Path:
    return Path(os.environ.get("GANKIT_CACHE") or "~/.cache/gankit").expanduser() / "translation"


# ----------------------------------------------------------------------------------------------
# edges2fashion


def canny_edges(images: np.ndarray, sigma: float = EDGE_SIGMA, chunk: int = 1024) -> np.ndarray:
    """Canny edge maps (scikit-image) of grey uint8 images (N, H, W) -> bool (N, H, W).

    Each image is treated as lying on a black canvas, so garments that touch the frame get edges
    there too. Calling canny once per 28 px image costs ~0.6 ms of Python overhead, so images are
    tiled into mosaics with black gutters of 2 * EDGE_PAD px and each mosaic is processed in one
    call: nothing Canny computes reaches further than 6 px (4-sigma Gaussian, Sobel, non-maximum
    suppression), so every tile's edges are exactly those of canny(np.pad(image, p)) for any p >= 8.
    """
    from skimage.feature import canny

    n, h, w = images.shape
    H, W, cols = h + 2 * EDGE_PAD, w + 2 * EDGE_PAD, 32
    out = np.empty((n, h, w), dtype=bool)
    for s in range(0, n, chunk):
        part = images[s:s + chunk]
        rows = -(-len(part) // cols)
        canvas = np.zeros((rows * cols, H, W), dtype=np.uint8)
        canvas[: len(part), EDGE_PAD:EDGE_PAD + h, EDGE_PAD:EDGE_PAD + w] = part
        mosaic = canvas.reshape(rows, cols, H, W).transpose(0, 2, 1, 3).reshape(rows * H, cols * W)
        edges = canny(mosaic, sigma=sigma).reshape(rows, H, cols, W).transpose(0, 2, 1, 3).reshape(-1, H, W)
        out[s:s + len(part)] = edges[: len(part), EDGE_PAD:EDGE_PAD + h, EDGE_PAD:EDGE_PAD + w]
    return out


def cached_edges(images: np.ndarray, sigma: float = EDGE_SIGMA) -> np.ndarray:
    """canny_edges, cached on disk ($GANKIT_CACHE/translation) under a hash of the images and settings."""
    from ..training.checkpoint import atomic_write_bytes

    h = hashlib.sha256(f"canny-v1 sigma={sigma} pad={EDGE_PAD} {images.shape}".encode())
    h.update(np.ascontiguousarray(images).tobytes())
    path = _cache_dir() / f"edges-{h.hexdigest()[:24]}.npy"
    if path.is_file():
        try:
            edges = np.load(path)
            if edges.shape == images.shape and edges.dtype == bool:
                return edges
        except (OSError, ValueError):
            pass  # damaged: compute again and overwrite
    edges = canny_edges(images, sigma)
    buf = io.BytesIO()
    np.save(buf, edges)
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError:
        pass  # a read-only cache only costs time
    return edges


@DATASETS.register("edges2fashion", help="paired: Canny edge maps -> Fashion-MNIST images (60k/10k, 28 px, labels)",
                   splits=("train", "test"))
def edges2fashion(cfg, split: str) -> Data:
    d = fashion_mnist(cfg, split)
    edges = cached_edges(d.x[:, 0].numpy())
    a = torch.from_numpy(edges.astype(np.uint8) * 255)[:, None]  # (N, 1, 28, 28): white edges on black
    return Data(a, d.y, name=f"edges2fashion:{split}", num_classes=d.num_classes, class_names=d.class_names,
                x2=d.x, paired=True)


# ----------------------------------------------------------------------------------------------
# Fashion-MNIST class pairs (unpaired)

FASHION_PAIRS = {  # name -> (class of A, class of B), names as in FASHION_CLASSES
    "sneaker2boot": ("sneaker", "ankle-boot"),
    "tshirt2shirt": ("t-shirt", "shirt"),
    "pullover2coat": ("pullover", "coat"),
    "sandal2sneaker": ("sandal", "sneaker"),
}


def _fashion_pair(name: str, a: str, b: str):
    def load(cfg, split: str) -> Data:
        d = fashion_mnist(cfg, split)
        xa, xb = d.x[d.y == FASHION_CLASSES.index(a)], d.x[d.y == FASHION_CLASSES.index(b)]
        return Data(xa, None, name=f"{name}:{split}", x2=xb, paired=False, meta={"domains": [a, b]})

    DATASETS.register(name, help=f"unpaired Fashion-MNIST {a} (A) <-> {b} (B), 6,000/1,000 of each, 28 px",
                      splits=("train", "test"))(load)


for _name, (_a, _b) in FASHION_PAIRS.items():
    _fashion_pair(_name, _a, _b)


# ----------------------------------------------------------------------------------------------
# folders


def image_files(folder: Path) -> list[Path]:
    """Image files below `folder`, sorted, hidden folders skipped (the rule of single image folders)."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def open_image(path: Path):
    """A PIL image, loaded (or a one-line error naming the file)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            return im.copy()
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as e:
        raise GankitError(f"cannot read image {path} ({type(e).__name__}); remove or replace it")


def fit_pil(images: list, size: int) -> torch.Tensor:
    """PIL images -> uint8 (N, C, size, size): short side resized, centre crop; C = 1 if all are grey."""
    from PIL import Image, ImageOps

    grey = all(im.mode in ("L", "1", "I;16", "I") for im in images)
    arrays = [np.asarray(ImageOps.fit(im.convert("L" if grey else "RGB"), (size, size), Image.Resampling.BICUBIC))
              for im in images]
    x = np.stack(arrays)
    x = x[:, None] if grey else x.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(x))


def _root(cfg, name: str, layout: str) -> Path:
    if not cfg.root:
        raise GankitError(f"dataset {name} reads {layout} below data.root; add data.root=DIR")
    root = Path(cfg.root).expanduser()
    if not root.is_dir():
        raise GankitError(f"data.root {root} is not a folder; point it at the folder holding {layout}")
    return root


def _folder(path: Path, what: str) -> list[Path]:
    files = image_files(path)
    if not files:
        raise GankitError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) found in {path} ({what})")
    return files


@DATASETS.register("aligned", help="paired, pix2pix's format: data.root/SPLIT/ holds A|B images side by side",
                   splits=("train", "val", "test"))
def aligned(cfg, split: str) -> Data:
    root = _root(cfg, "aligned", "SPLIT/ folders of A|B images (pix2pix's format)")
    folder = root / split
    if not folder.is_dir():
        raise GankitError(f"no folder {folder}: the aligned format keeps A|B images in {root}/train, /val, /test")
    size = cfg.image_size or DEFAULT_SIZE
    left, right = [], []
    for p in _folder(folder, "A|B pairs"):
        im = open_image(p)
        w, h = im.size
        if w % 2:
            raise GankitError(f"{p} is {w}x{h} px: an A|B pair is two equal images side by side, so its width must "
                              f"be even; fix or remove it")
        left.append(im.crop((0, 0, w // 2, h)))
        right.append(im.crop((w // 2, 0, w, h)))
    return Data(fit_pil(left, size), name=f"aligned:{split}", x2=fit_pil(right, size), paired=True,
                meta={"files": len(left)})


def _two_folders(root: Path, split: str) -> tuple[Path, Path]:
    for a, b in ((root / "A" / split, root / "B" / split), (root / f"{split}A", root / f"{split}B")):
        if a.is_dir() or b.is_dir():
            missing = [str(p) for p in (a, b) if not p.is_dir()]
            if missing:
                raise GankitError(f"folder {missing[0]} is missing: two-domain data needs both {a} and {b}")
            return a, b
    raise GankitError(f"no {split} data in {root}: put the domains in {root}/{split}A and {root}/{split}B "
                      f"(or {root}/A/{split} and {root}/B/{split})")


@DATASETS.register("paired", help="paired, two folders with matching file names: data.root/{A,B}/SPLIT or "
                                  "data.root/SPLIT{A,B}", splits=("train", "val", "test"))
def paired(cfg, split: str) -> Data:
    root = _root(cfg, "paired", "A/SPLIT and B/SPLIT (or SPLITA and SPLITB) with matching file names")
    fa, fb = _two_folders(root, split)
    files_a, files_b = _folder(fa, "domain A"), _folder(fb, "domain B")
    key = lambda p, base: str(p.relative_to(base).with_suffix(""))  # noqa: E731  (a.png matches a.jpg)
    names_a, names_b = {key(p, fa): p for p in files_a}, {key(p, fb): p for p in files_b}
    only_a, only_b = sorted(set(names_a) - set(names_b)), sorted(set(names_b) - set(names_a))
    if only_a or only_b:
        side, odd, other = (fa, only_a, fb) if only_a else (fb, only_b, fa)
        raise GankitError(f"mismatched pairs: {len(odd)} image(s) in {side} have no file of the same name in "
                          f"{other}, e.g. {odd[0]}; paired folders need one partner per name (or use the "
                          f"unpaired dataset)")
    ims_a, ims_b = [], []
    for name in sorted(names_a):
        a, b = open_image(names_a[name]), open_image(names_b[name])
        if a.size != b.size:
            raise GankitError(f"pair {name} has different sizes: {names_a[name]} is {a.size[0]}x{a.size[1]} but "
                              f"{names_b[name]} is {b.size[0]}x{b.size[1]}; paired images must be the same size")
        ims_a.append(a)
        ims_b.append(b)
    size = cfg.image_size or DEFAULT_SIZE
    return Data(fit_pil(ims_a, size), name=f"paired:{split}", x2=fit_pil(ims_b, size), paired=True)


@DATASETS.register("unpaired", help="unpaired, CycleGAN's layout: data.root/trainA, trainB, testA, testB",
                   splits=("train", "test"))
def unpaired(cfg, split: str) -> Data:
    root = _root(cfg, "unpaired", "trainA, trainB, testA, testB (CycleGAN's layout)")
    fa, fb = root / f"{split}A", root / f"{split}B"
    missing = [p.name for p in (fa, fb) if not p.is_dir()]
    if missing:
        raise GankitError(f"unpaired data in {root} has no {' or '.join(missing)} folder; CycleGAN's layout is "
                          f"trainA/ trainB/ testA/ testB/ (one folder of images per domain and split)")
    a, b = load_folder(fa, cfg, None), load_folder(fb, cfg, None)  # both fitted to data.image_size (default 64)
    return Data(a.x, name=f"unpaired:{split}", x2=b.x, paired=False, meta={"skipped": [a.meta.get("skipped", 0),
                                                                                       b.meta.get("skipped", 0)]})


# ----------------------------------------------------------------------------------------------
# synthetic, for tests


def colour_map(x: torch.Tensor) -> torch.Tensor:
    """The synthetic B of an A image: channels rotated and inverted, 255 - x[:, (1, 2, 0)]."""
    return 255 - x[:, [1, 2, 0]] if x.shape[1] == 3 else 255 - x


@DATASETS.register("fake-pairs", help="synthetic paired data for tests: fake images -> inverted, channel-rotated",
                   splits=("train", "test"))
def fake_pairs(cfg, split: str) -> Data:
    d = fake(cfg, split)
    return Data(d.x, d.y, name=f"fake-pairs:{split}", num_classes=d.num_classes, class_names=d.class_names,
                x2=colour_map(d.x), paired=True)


@DATASETS.register("fake-unpaired", help="synthetic unpaired data for tests: fake images (A) and colour-mapped "
                                         "others (B)", splits=("train", "test"))
def fake_unpaired(cfg, split: str) -> Data:
    d = fake(cfg, split)
    half = len(d) // 2
    return Data(d.x[:half], name=f"fake-unpaired:{split}", x2=colour_map(d.x[half:]), paired=False)


# ----------------------------------------------------------------------------------------------


def held_out_examples(cfg, n: int, seed: int, device) -> dict:
    """{'A': (n, C_A, H, W), 'B': (n, C_B, H, W)} floats in [-1, 1] on `device`: a seeded choice from the
    test split when the dataset has one (else from the training data), aligned when the data are paired.
    Loaded at the size training uses, for sample grids and `gankit sample`."""
    from dataclasses import replace

    from ..registry import NETS
    from . import load_data, parse_spec, to_float

    name, _ = parse_spec(cfg.data.spec)
    specs = [cfg.data.spec]
    if name in DATASETS and "test" in DATASETS.entry(name).meta.get("splits", ()):
        specs.insert(0, f"{name}:test")
    sizes = NETS.entry(cfg.net.name).meta.get("sizes")
    for i, spec in enumerate(specs):
        try:
            data = load_data(replace(cfg.data, spec=spec, limit=None), sizes, log=lambda msg: None)
            break
        except GankitError:
            if i == len(specs) - 1:
                raise  # a folder dataset without a test split falls back to the training data
    g = torch.Generator().manual_seed(seed)
    ia = torch.randperm(len(data.x), generator=g)[:n]
    ib = ia if data.paired else torch.randperm(len(data.x2), generator=g)[:n]
    return {"A": to_float(data.x[ia]).to(device), "B": to_float(data.x2[ib]).to(device)}
