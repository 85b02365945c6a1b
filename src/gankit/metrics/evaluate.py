"""`gankit eval`: measure a generator (or saved samples) against a reference dataset.

    evaluate("runs/digits", "digits:test", ["fid", "kid", "modes"], n=1000, extractor="domain")
    -> {"metrics": {"fid_domain": ..., "kid_domain": ..., "kid_domain_std": ..., ...},
        "provenance": {"extractor": ..., "weights_hash": ..., "n_generated": ..., ...}}

The source is a run directory or checkpoint (n samples drawn with a fixed seed, quantised to uint8
exactly as `gankit sample` would save them), an .npz written by `gankit sample` (uint8 'images'
(N, H, W, C), or float 'samples' (N, D) for 2D toy data), or a folder of images. The reference is a
dataset spec (NAME[:SPLIT], a folder, an .npz), loaded at the source's image size and channels
(as training saw it) and subsampled with a fixed permutation; its features are cached
(gankit.metrics.cache).

Metric keys say what measured them: Inception numbers have plain names (fid, kid, precision ...),
domain-classifier numbers end in `_domain`, raw 2D-coordinate numbers in `_raw`; the toy mode
metrics (modes, high_quality, reverse_kl) use the mixture's centres directly.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import GankitError
from ..registry import EXTRACTORS, METRICS
from .cache import StatsCache, reference_stats
from .distances import bootstrap_fid, feature_stats, frechet_distance, kid
from .scores import class_coverage, density_coverage, inception_score, precision_recall, toy_modes

DEFAULT_METRICS = ("fid",)
REF_SUBSET_SEED = 0  # the reference subset does not follow --seed, so its cached features are reused


@dataclass
class Ctx:
    """What a metric function sees."""
    gen_x: torch.Tensor  # uint8 images (N, C, H, W) or float vectors (N, D)
    ref_data: object  # gankit.data.Data of the (subsampled) reference
    suffix: str  # '' (Inception), '_domain' or '_raw'
    seed: int
    fid_ci: int  # bootstrap replicates for the FID interval (0: none)
    gen_feats: np.ndarray | None = None  # (N, D)
    ref: dict = field(default_factory=dict)  # reference arrays: features, mu, sigma[, probs]
    gen_probs: np.ndarray | None = None  # (N, K)
    ref_probs: np.ndarray | None = None  # (N_ref, K)
    classifier_probs: tuple | None = None  # (gen (N, K), ref (N_ref, K)) of the domain classifier, for 'modes'


# ----------------------------------------------------------------------------------------------
# metrics: each takes a Ctx and returns {key: number}; `needs` says what evaluate must prepare


@METRICS.register("fid", help="Frechet distance of feature Gaussians (Heusel 2017); --fid-ci adds a bootstrap interval",
                  needs="features")
def _fid(c: Ctx) -> dict:
    mu, sigma = feature_stats(c.gen_feats)
    out = {f"fid{c.suffix}": frechet_distance(c.ref["mu"], c.ref["sigma"], mu, sigma)}
    if c.fid_ci:
        lo, hi = bootstrap_fid(c.ref["features"], c.gen_feats, n_boot=c.fid_ci, seed=c.seed)
        out[f"fid{c.suffix}_ci95_low"], out[f"fid{c.suffix}_ci95_high"] = lo, hi
    return out


@METRICS.register("kid", help="kernel distance, unbiased MMD^2 with a cubic kernel (Binkowski 2018): mean and std "
                              "over 100 subsets", needs="features")
def _kid(c: Ctx) -> dict:
    mean, std = kid(c.ref["features"], c.gen_feats, subsets=100, subset_size=1000, seed=c.seed)
    return {f"kid{c.suffix}": mean, f"kid{c.suffix}_std": std}


@METRICS.register("is", help="Inception Score over 10 splits (Salimans 2016); here from the domain classifier",
                  needs="probs")
def _is(c: Ctx) -> dict:
    mean, std = inception_score(c.gen_probs, splits=min(10, len(c.gen_probs)))
    return {f"is{c.suffix}": mean, f"is{c.suffix}_std": std}


@METRICS.register("pr", help="improved precision and recall, k=3 (Kynkaanniemi 2019)", needs="features")
def _pr(c: Ctx) -> dict:
    r = precision_recall(c.ref["features"], c.gen_feats, k=3)
    return {f"precision{c.suffix}": r["precision"], f"recall{c.suffix}": r["recall"]}


@METRICS.register("dc", help="density and coverage, k=5 (Naeem 2020)", needs="features")
def _dc(c: Ctx) -> dict:
    r = density_coverage(c.ref["features"], c.gen_feats, k=5)
    return {f"density{c.suffix}": r["density"], f"coverage{c.suffix}": r["coverage"]}


@METRICS.register("modes", help="mode coverage: toy mixtures (modes, high-quality %, reverse KL, PacGAN protocol); "
                                "labelled images (classes covered, class-histogram KL, via the domain classifier)",
                  needs="modes")
def _modes(c: Ctx) -> dict:
    meta = c.ref_data.meta
    if not c.ref_data.is_image:
        return toy_modes(c.gen_x, np.asarray(meta["centres"], dtype=np.float64), float(meta["std"]))
    gen_p, ref_p = c.classifier_probs
    k = gen_p.shape[1]
    r = class_coverage(gen_p.argmax(1), k, ref_labels=ref_p.argmax(1))
    return {"classes_covered_domain": r["classes_covered"], "class_kl_domain": r["kl_to_ref"]}


# ----------------------------------------------------------------------------------------------
# sources


def _resolve_device(device) -> torch.device:
    if isinstance(device, torch.device):
        return device
    from ..training.loop import resolve_device

    return resolve_device(str(device))


def _is_run_or_checkpoint(p: Path) -> bool:
    if p.is_file():
        return p.suffix == ".safetensors"
    return p.is_dir() and ((p / "checkpoints").is_dir() or (p / "config.json").is_file())


def load_samples(source: str | Path, n: int | None = None) -> tuple[torch.Tensor, dict]:
    """Saved samples: an .npz from `gankit sample` or a folder of images -> (uint8 (N, C, H, W) images
    or float (N, D) vectors, info), at most n of them (the first n)."""
    from ..config import DataConfig
    from ..data.images import IMAGE_EXTENSIONS, load_folder, load_npz

    p = Path(source).expanduser()
    if not p.exists():
        raise GankitError(f"{p} does not exist; pass a run directory, a .safetensors checkpoint, an .npz of samples "
                          f"(gankit sample --out FILE.npz) or a folder of images")
    if p.is_file() and p.suffix == ".npz":
        try:
            with np.load(p, allow_pickle=False) as z:
                files = list(z.files)
                vectors = z["samples"] if "samples" in files and not {"images", "x", "arr_0"} & set(files) else None
        except (OSError, ValueError) as e:
            raise GankitError(f"cannot read {p} as .npz ({e})")
        if vectors is not None:
            if vectors.ndim != 2 or vectors.dtype.kind != "f" or not np.isfinite(vectors).all():
                raise GankitError(f"{p}: 'samples' must be finite float vectors (N, D), got {vectors.dtype} "
                                  f"{vectors.shape}")
            x, kind = torch.from_numpy(np.array(vectors, dtype=np.float32)), "npz"
        else:
            x, kind = load_npz(p).x, "npz"  # errors name the missing 'images' array
    elif p.is_dir():
        first = next((f for f in sorted(p.rglob("*")) if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file()), None)
        if first is None:
            raise GankitError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) found under {p}")
        from PIL import Image

        with Image.open(first) as im:
            size = max(im.size)  # keep the samples' own size (load_folder would make 64 px)
        x, kind = load_folder(p, DataConfig(spec=str(p), image_size=size), None).x, "folder"
    else:
        raise GankitError(f"cannot evaluate {p}: pass a run directory, a .safetensors checkpoint, an .npz of samples "
                          f"or a folder of images")
    if n is not None:
        x = x[:n]
    if len(x) < 2:
        raise GankitError(f"{p} holds {len(x)} sample(s); metrics need at least 2")
    return x, {"source": str(p), "source_kind": kind}


def _generate(source: str | Path, n: int, seed: int, device) -> tuple[torch.Tensor, dict]:
    from ..data import to_uint8
    from ..model import Generator

    g = Generator.load(source, device=str(device))
    x = g.sample(n, seed=seed)
    info = {"source": str(source), "source_kind": "checkpoint", "checkpoint": g.meta.get("checkpoint"),
            "step": g.meta.get("step"), "trained_on": g.cfg.data.spec}
    return (to_uint8(x) if x.dim() == 4 else x.float()), info


# ----------------------------------------------------------------------------------------------
# the reference


def load_reference(ref: str, like: torch.Tensor, n_ref: int | None):
    """The reference dataset at the samples' image size and channels, subsampled to n_ref with a
    fixed permutation. Returns (Data, resolved spec such as 'digits:test')."""
    from ..config import DataConfig
    from ..data import load_data, parse_spec
    from ..registry import DATASETS

    name, split = parse_spec(ref)
    spec = ref
    if name in DATASETS and split is None:
        spec = f"{name}:{DATASETS.entry(name).meta.get('splits', ('train', 'test'))[0]}"
    if like.dim() == 4:
        cfg = DataConfig(spec=spec, image_size=int(like.shape[-1]), channels=int(like.shape[1]))
        if like.shape[-1] != like.shape[-2]:
            raise GankitError(f"the samples are {like.shape[-2]}x{like.shape[-1]}; gankit eval takes square images")
    else:
        cfg = DataConfig(spec=spec)
    data = load_data(cfg, None, lambda msg: None)
    if data.is_image != (like.dim() == 4):
        what = "images" if like.dim() == 4 else f"{like.shape[1]}-d vectors"
        raise GankitError(f"the samples are {what} but the reference {spec} holds "
                          f"{'images' if data.is_image else 'vectors'}; pass a matching --ref")
    if not data.is_image and data.shape != tuple(like.shape[1:]):
        raise GankitError(f"the samples are {like.shape[1]}-d but the reference {spec} is {data.shape[0]}-d")
    if n_ref is not None and n_ref < len(data):
        idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(REF_SUBSET_SEED))[:n_ref]
        idx = idx.sort().values
        data.x = data.x[idx]
        data.y = None if data.y is None else data.y[idx]
    return data, spec


# ----------------------------------------------------------------------------------------------


def _check_metrics(metrics) -> list[str]:
    if isinstance(metrics, str):
        metrics = [m for m in metrics.split(",")]
    names = [m.strip().lower() for m in metrics if m and m.strip()]
    if not names:
        raise GankitError(f"no metrics asked for; choose from: {', '.join(METRICS.names())}")
    for m in names:
        METRICS.entry(m)  # unknown names: an error listing the choices
    return list(dict.fromkeys(names))


def evaluate(source, ref: str, metrics=DEFAULT_METRICS, n: int = 1000, extractor=None,
             device: str | torch.device = "cpu", seed: int = 0, n_ref: int | None = None, fid_ci: int = 0,
             batch_size: int = 32, inception_path=None, download: bool = False, domain_data: str | None = None,
             cache: bool | str | Path = True, log: Callable[[str], None] | None = None) -> dict:
    """Metrics of a generator or of saved samples against a reference dataset, with provenance.

    Args:
        source: a run directory or .safetensors checkpoint (n samples drawn with `seed`), an .npz
            written by `gankit sample`, or a folder of images (their first n).
        ref: the reference spec, NAME[:SPLIT] (default split: the dataset's first, e.g. train),
            an image folder or an .npz.
        metrics: names from the METRICS registry (fid, kid, is, pr, dc, modes), a list or 'fid,kid'.
        n: generated samples.
        extractor: 'inception' (default for images), 'domain', or a built extractor object; None
            for 2D vectors (raw coordinates).
        n_ref: reference samples (a fixed random subset); default: n, or all when fewer.
        fid_ci: bootstrap replicates for a 95% FID interval (0: none).
        inception_path / download: where the Inception weights are / allow fetching them.
        domain_data: train the domain classifier on this labelled spec instead of the reference's dataset.
        cache: True (default folder), a folder, or False (no reference-statistics cache).

    Returns:
        {"metrics": {name: float}, "provenance": {...}}.
    """
    names = _check_metrics(metrics)
    if n is None or int(n) < 2:
        raise GankitError(f"--n must be at least 2, got {n}")
    dev = _resolve_device(device)
    p = Path(str(source)).expanduser()
    if _is_run_or_checkpoint(p):
        t0 = time.time()
        x, info = _generate(p, int(n), seed, dev)
        info["sample_seconds"] = round(time.time() - t0, 2)
    else:
        x, info = load_samples(p, int(n))
    return _evaluate_samples(x, info, ref, names, extractor, dev, seed, n_ref, fid_ci, batch_size, inception_path,
                             download, domain_data, cache, log)


def evaluate_generator(generate: Callable[[int], torch.Tensor], ref: str, metrics=DEFAULT_METRICS, n: int = 1000,
                       extractor=None, device: str | torch.device = "cpu", seed: int = 0, n_ref: int | None = None,
                       fid_ci: int = 0, batch_size: int = 32, inception_path=None, download: bool = False,
                       domain_data: str | None = None, cache: bool | str | Path = True,
                       log: Callable[[str], None] | None = None) -> dict:
    """Like `evaluate`, for a callable: generate(n) -> n float images (n, C, H, W) in [-1, 1] or
    vectors (n, D), e.g. during training. The images are quantised with to_uint8 first, as a saved
    sample would be. Pass a built extractor object to reuse it across calls."""
    from ..data import to_uint8

    names = _check_metrics(metrics)
    if n is None or int(n) < 2:
        raise GankitError(f"n must be at least 2, got {n}")
    x = generate(int(n))
    if not isinstance(x, torch.Tensor) or x.dim() not in (2, 4) or len(x) != int(n):
        raise GankitError(f"generate({n}) must return a tensor of {n} images (n, C, H, W) or vectors (n, D), "
                          f"got {type(x).__name__} {tuple(getattr(x, 'shape', ()))}")
    x = to_uint8(x.detach().cpu()) if x.dim() == 4 else x.detach().float().cpu()
    info = {"source": getattr(generate, "__name__", "callable"), "source_kind": "callable"}
    return _evaluate_samples(x, info, ref, names, extractor, _resolve_device(device), seed, n_ref, fid_ci, batch_size,
                             inception_path, download, domain_data, cache, log)


def _build_extractor(name_or_obj, ref_spec, like, device, batch_size, inception_path, download, domain_data, log):
    if not isinstance(name_or_obj, str):
        return name_or_obj
    return EXTRACTORS.get(name_or_obj)(ref_spec, image_size=int(like.shape[-1]), channels=int(like.shape[1]),
                                       device=device, inception_path=inception_path, download=download,
                                       batch_size=batch_size, domain_data=domain_data, log=log)


def _evaluate_samples(x, info, ref, names, extractor, device, seed, n_ref, fid_ci, batch_size, inception_path,
                      download, domain_data, cache, log) -> dict:
    import gankit

    t0 = time.time()
    images = x.dim() == 4
    needs = {METRICS.entry(m).meta.get("needs") for m in names}
    if isinstance(extractor, str):
        EXTRACTORS.entry(extractor)  # unknown names: an error listing the choices
    if not images:
        if extractor is not None:
            raise GankitError("2D vectors are measured on their raw coordinates; drop --extractor "
                              f"({extractor if isinstance(extractor, str) else extractor.name})")
        if "probs" in needs:
            raise GankitError("the Inception Score needs images and a classifier; for 2D toy data use --metrics modes "
                              "(modes, high-quality %, reverse KL)")
    elif extractor is None:
        extractor = "inception"
    if images and "probs" in needs:
        kind = extractor if isinstance(extractor, str) else getattr(extractor, "kind", "")
        if not (EXTRACTORS.entry(kind).meta.get("probs") if isinstance(extractor, str) else
                getattr(extractor, "has_probs", False)):
            # Fails before any work: the Inception network installed here has no classifier head.
            raise GankitError("--metrics is needs class probabilities, which the installed Inception network "
                              "(pool3 features only, no classifier head) cannot give; use --extractor domain "
                              "(reported as is_domain), or drop 'is'")
    if fid_ci and int(fid_ci) < 2:
        raise GankitError(f"--fid-ci takes the number of bootstrap replicates (>= 2), got {fid_ci}")

    n_ref = len(x) if n_ref is None else int(n_ref)
    if n_ref < 2:
        raise GankitError(f"--n-ref must be at least 2, got {n_ref}")
    ref_data, spec = load_reference(ref, x, n_ref)
    if "modes" in needs:
        if images and (ref_data.y is None or not ref_data.num_classes) and domain_data is None:
            raise GankitError(f"--metrics modes on images needs a labelled reference (for the domain classifier); "
                              f"{spec} has no labels. Drop 'modes' or give --domain-data SPEC")
        if not images and "centres" not in ref_data.meta:
            raise GankitError(f"--metrics modes on 2D vectors needs a toy mixture reference (ring8, grid25); "
                              f"{spec} has no mode centres")
    store = None if cache is False else StatsCache(None if cache is True else cache)

    ext = None
    if images and needs & {"features", "probs"}:
        ext = _build_extractor(extractor, spec, x, device, batch_size, inception_path, download, domain_data, log)
    suffix = ext.suffix if ext is not None else "_raw"
    ctx = Ctx(gen_x=x, ref_data=ref_data, suffix=suffix, seed=seed, fid_ci=int(fid_ci or 0))

    prov = {"source": info.get("source"), "source_kind": info.get("source_kind")}
    prov.update({k: info[k] for k in ("checkpoint", "step", "trained_on") if info.get(k) is not None})
    prov.update({"reference": spec, "n_generated": int(len(x)), "n_reference": int(len(ref_data)),
                 "sample_shape": list(x.shape[1:]), "seed": int(seed), "gankit_version": gankit.__version__,
                 "device": str(device)})

    if needs & {"features", "probs"}:
        if ext is None:  # vectors: raw coordinates
            prov.update({"extractor": "raw", "weights_hash": None, "protocol": "raw coordinates (float64)"})
        else:
            prov.update({"extractor": ext.name, "weights_hash": ext.weights_hash, "protocol": ext.protocol})
            if hasattr(ext, "accuracy"):
                prov.update({"extractor_accuracy": round(float(ext.accuracy), 4),
                             "extractor_accuracy_on": ext.accuracy_on})
        ctx.ref, rinfo = reference_stats(ext, ref_data.x, ref_data.y, spec, store, log)
        prov.update({"reference_cache": "off" if store is None else ("hit" if rinfo["hit"] else "miss"),
                     "reference_key": rinfo["key"]})
        if "features" in needs:
            if log and ext is not None:
                log(f"computing {ext.name} features of {len(x)} generated samples ...")
            ctx.gen_feats = ext.features(x) if ext is not None else x.double().numpy()
        if "probs" in needs:
            ctx.gen_probs = ext.predict_proba(x)
            ctx.ref_probs = ctx.ref.get("probs")

    if "modes" in needs and images:
        clf = ext if getattr(ext, "has_probs", False) else _build_extractor(
            "domain", spec, x, device, batch_size, inception_path, download, domain_data, log)
        ref_arrays = ctx.ref if clf is ext else reference_stats(clf, ref_data.x, ref_data.y, spec, store, log)[0]
        gen_p = ctx.gen_probs if clf is ext and ctx.gen_probs is not None else clf.predict_proba(x)
        ctx.classifier_probs = (gen_p, ref_arrays["probs"])
        if clf is not ext:
            prov["classifier"] = {"name": clf.name, "weights_hash": clf.weights_hash,
                                  "accuracy": round(float(clf.accuracy), 4), "accuracy_on": clf.accuracy_on}

    out: dict[str, float] = {}
    for m in names:
        out.update(METRICS.get(m)(ctx))
    prov["seconds"] = round(time.time() - t0 + info.get("sample_seconds", 0.0), 2)
    return {"metrics": {k: (v if isinstance(v, int) else float(v)) for k, v in out.items()}, "provenance": prov}


def nan_to_none(d):
    """JSON has no NaN: replace float NaN/inf (e.g. reverse_kl with no high-quality sample) by None."""
    if isinstance(d, dict):
        return {k: nan_to_none(v) for k, v in d.items()}
    if isinstance(d, float) and not math.isfinite(d):
        return None
    return d
