"""Sequence metrics: pure functions of arrays, and `evaluate_sequences(run, metrics, n)` over a run.

    discriminative  TimeGAN's discriminative score: a post-hoc GRU classifier is trained to tell real from
                    generated (80% of each), and |accuracy - 0.5| on the other 20%. 0 = indistinguishable.
    predictive      train-on-synthetic, test-on-real (TimeGAN): a post-hoc GRU learns next-step prediction
                    on generated sequences, its MAE on held-out real ones (on the [0, 1]-scaled data), and
                    the same model trained on real data (`predictive_real`); `predictive_ratio` = their ratio.
    mmd             unbiased MMD^2 between flattened real and generated sequences, Gaussian kernel with the
                    median-distance bandwidth.
    bone            skeletons: mean |bone length / true length - 1| (`bone_error`) and its spread over each
                    clip's frames (`bone_std`), both fractions of the bone length.
    foot            skeletons: ground penetration (m), foot skating while in contact (m/s), and the share of
                    frames with a foot on the ground, each also for the real clips (`_real`).
    action          labelled motion: a post-hoc GRU action classifier trained on real clips; its accuracy on
                    clips generated for each action (`action_accuracy`) and on held-out real ones.

Post-hoc nets follow TimeGAN's protocol (one GRU layer of F/2 units, Adam, batches of 128, 2000 steps
for the classifier and 5000 for the predictor) unless told otherwise; each is seeded.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import GankitError


def _tensor(x, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x).detach().float().cpu()
    if t.dim() != 3:
        raise GankitError(f"{name} must be sequences (N, T, F), got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise GankitError(f"{name} contains NaN or inf; check the generator")
    return t


def _same(a: torch.Tensor, b: torch.Tensor, na: str, nb: str) -> None:
    if a.shape[1:] != b.shape[1:]:
        raise GankitError(f"{na} has sequences of shape {tuple(a.shape[1:])} but {nb} has {tuple(b.shape[1:])}; "
                          f"compare sequences of the same length and features")


class _GRU(nn.Module):
    """One GRU layer and a linear read-out: per step (N, T, out) or from the last state (N, out)."""

    def __init__(self, features: int, hidden: int, out: int, per_step: bool):
        super().__init__()
        self.rnn = nn.GRU(features, hidden, batch_first=True)
        self.out = nn.Linear(hidden, out)
        self.per_step = per_step

    def forward(self, x):
        h, last = self.rnn(x)
        return self.out(h) if self.per_step else self.out(last[-1])


def _hidden(features: int, hidden: int | None) -> int:
    return int(hidden) if hidden else max(2, features // 2)  # TimeGAN: int(dim / 2)


def _split(n: int, g: torch.Generator, frac: float = 0.8) -> tuple[torch.Tensor, torch.Tensor]:
    perm = torch.randperm(n, generator=g)
    cut = max(1, min(n - 1, int(round(frac * n))))
    return perm[:cut], perm[cut:]


def fit_judge(real: torch.Tensor, fake: torch.Tensor, g: torch.Generator, seed: int = 0, hidden: int | None = None,
              iterations: int = 2000, batch_size: int = 128) -> nn.Module:
    """The discriminative score's judge: a GRU (weights from `seed`) trained by Adam to tell `real`
    (logit > 0) from `fake`, each batch half real and half fake, drawn with `g`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = _GRU(real.shape[2], _hidden(real.shape[2], hidden), 1, per_step=False)
    opt = torch.optim.Adam(net.parameters())
    half = max(1, batch_size // 2)
    target = torch.cat([torch.ones(half), torch.zeros(half)])
    for _ in range(iterations):
        xr = real[torch.randint(len(real), (half,), generator=g)]
        xf = fake[torch.randint(len(fake), (half,), generator=g)]
        loss = nn.functional.binary_cross_entropy_with_logits(net(torch.cat([xr, xf])).squeeze(1), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net


def discriminative_score(real, fake, hidden: int | None = None, iterations: int = 2000, batch_size: int = 128,
                         seed: int = 0) -> dict[str, float]:
    """TimeGAN's post-hoc discriminative score: |balanced test accuracy - 0.5| of a GRU classifier.

    real, fake: (N, T, F) in the same (normalised) units, N >= 2 each."""
    real, fake = _tensor(real, "real"), _tensor(fake, "generated")
    _same(real, fake, "real", "generated")
    if len(real) < 2 or len(fake) < 2:
        raise GankitError("the discriminative score needs at least 2 real and 2 generated sequences")
    g = torch.Generator().manual_seed(seed)
    r_tr, r_te = _split(len(real), g)
    f_tr, f_te = _split(len(fake), g)
    net = fit_judge(real[r_tr], fake[f_tr], g, seed, hidden, iterations, batch_size)
    with torch.no_grad():
        acc_real = (net(real[r_te]).squeeze(1) > 0).float().mean().item()
        acc_fake = (net(fake[f_te]).squeeze(1) <= 0).float().mean().item()
    acc = 0.5 * (acc_real + acc_fake)
    return {"discriminative": abs(acc - 0.5), "discriminative_acc": acc}


def predictive_mae(train, test, hidden: int | None = None, iterations: int = 5000, batch_size: int = 128,
                   seed: int = 0) -> float:
    """Train a GRU on `train` to predict step t + 1 from steps <= t (every feature); its mean absolute
    error on `test`, in [0, 1]-scaled units (the data live in [-1, 1]: the error is halved), as TimeGAN."""
    train, test = _tensor(train, "training sequences"), _tensor(test, "test sequences")
    _same(train, test, "training sequences", "test sequences")
    if train.shape[1] < 2:
        raise GankitError("the predictive score needs sequences of at least 2 steps")
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = _GRU(train.shape[2], _hidden(train.shape[2], hidden), train.shape[2], per_step=True)
    opt = torch.optim.Adam(net.parameters())
    for _ in range(iterations):
        x = train[torch.randint(len(train), (batch_size,), generator=g)]
        loss = (torch.tanh(net(x[:, :-1])) - x[:, 1:]).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return 0.5 * (torch.tanh(net(test[:, :-1])) - test[:, 1:]).abs().mean().item()


def predictive_score(real, fake, hidden: int | None = None, iterations: int = 5000, batch_size: int = 128,
                     seed: int = 0) -> dict[str, float]:
    """TSTR: trained on generated, tested on held-out real (20% of `real`); TRTR: trained on the other 80% of
    real, same test. Both training sets have the same size."""
    real, fake = _tensor(real, "real"), _tensor(fake, "generated")
    _same(real, fake, "real", "generated")
    if len(real) < 5:
        raise GankitError("the predictive score needs at least 5 real sequences (80% train / 20% test)")
    g = torch.Generator().manual_seed(seed + 1)
    tr, te = _split(len(real), g)
    synth = fake[: len(tr)]
    tstr = predictive_mae(synth, real[te], hidden, iterations, batch_size, seed)
    trtr = predictive_mae(real[tr], real[te], hidden, iterations, batch_size, seed)
    return {"predictive": tstr, "predictive_real": trtr, "predictive_ratio": tstr / max(trtr, 1e-12)}


def mmd_rbf(a, b, max_n: int = 1000, seed: int = 0) -> float:
    """Unbiased MMD^2 (Gretton 2012) between two sets of sequences, flattened, with a Gaussian kernel
    exp(-d^2 / (2 s^2)), s = the median pairwise distance of the pooled set (the median heuristic)."""
    a, b = _tensor(a, "real").double(), _tensor(b, "generated").double()
    _same(a, b, "real", "generated")
    g = torch.Generator().manual_seed(seed)
    a = a[torch.randperm(len(a), generator=g)[:max_n]].flatten(1)
    b = b[torch.randperm(len(b), generator=g)[:max_n]].flatten(1)
    if len(a) < 2 or len(b) < 2:
        raise GankitError("MMD needs at least 2 sequences in each set")
    z = torch.cat([a, b])
    d2 = torch.cdist(z, z).pow(2)  # (n + m, n + m)
    off = ~torch.eye(len(z), dtype=torch.bool)
    s2 = d2[off].median().clamp_min(1e-12)
    k = torch.exp(-d2 / (2 * s2))
    n, m = len(a), len(b)
    kaa, kbb, kab = k[:n, :n], k[n:, n:], k[:n, n:]
    return ((kaa.sum() - kaa.diagonal().sum()) / (n * (n - 1)) + (kbb.sum() - kbb.diagonal().sum()) / (m * (m - 1))
            - 2 * kab.mean()).item()


# ----------------------------------------------------------------------------------------------
# skeletons (data units: metres, y up)


def _joints(clips, skeleton: dict) -> np.ndarray:
    x = np.asarray(clips, dtype=np.float64)
    J = len(skeleton["parents"])
    if x.ndim != 3 or x.shape[2] != 3 * J:
        raise GankitError(f"skeleton clips must be (N, T, {3 * J}) for {J} joints, got {x.shape}")
    return x.reshape(x.shape[0], x.shape[1], J, 3)


def bone_lengths(clips, skeleton: dict) -> np.ndarray:
    """(N, T, J * 3) -> lengths (N, T, J - 1) of the bones joint j -> parent(j), j = 1..J-1."""
    p = _joints(clips, skeleton)
    parents = np.asarray(skeleton["parents"])
    return np.linalg.norm(p[:, :, 1:] - p[:, :, parents[1:]], axis=-1)


def bone_metrics(clips, skeleton: dict) -> dict[str, float]:
    """bone_error: mean |L / L_true - 1|; bone_error_max: its largest value; bone_std: mean over clips and
    bones of the standard deviation of L / L_true across frames (0 for a rigid skeleton)."""
    L = bone_lengths(clips, skeleton)
    ref = np.asarray(skeleton["lengths"], dtype=np.float64)[1:]
    rel = L / ref
    return {"bone_error": float(np.abs(rel - 1).mean()), "bone_error_max": float(np.abs(rel - 1).max()),
            "bone_std": float(rel.std(axis=1).mean())}


def foot_metrics(clips, skeleton: dict, fps: float, tol: float = 0.02) -> dict[str, float]:
    """foot_penetration: mean depth (m) of the lower foot below its on-ground height; foot_skate: mean
    horizontal speed (m/s) of a foot while it stays in contact (within `tol` of the ground) from one frame
    to the next; foot_contact: share of frames with a foot in contact."""
    p = _joints(clips, skeleton)
    up = int(skeleton.get("up", 1))
    flat = [a for a in range(3) if a != up]
    feet = p[:, :, list(skeleton["feet"])]  # (N, T, 2, 3)
    h = float(skeleton.get("foot_height", 0.0))
    height = feet[..., up]  # (N, T, 2)
    lowest = height.min(-1)  # (N, T)
    contact = height < h + tol
    both = contact[:, 1:] & contact[:, :-1]  # (N, T - 1, 2)
    speed = np.linalg.norm(np.diff(feet[..., flat], axis=1), axis=-1) * fps  # (N, T - 1, 2)
    return {"foot_penetration": float(np.maximum(0.0, h - lowest).mean()),
            "foot_skate": float(speed[both].mean()) if both.any() else 0.0,
            "foot_contact": float(contact.any(-1).mean())}


def train_action_classifier(x, y, num_classes: int, hidden: int = 64, iterations: int = 1000, batch_size: int = 128,
                            seed: int = 0) -> nn.Module:
    """A GRU classifier of labelled clips (N, T, F) -> logits (N, K), for the action accuracy."""
    x = _tensor(x, "labelled clips")
    y = torch.as_tensor(y).long()
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = _GRU(x.shape[2], hidden, num_classes, per_step=False)
    opt = torch.optim.Adam(net.parameters())
    for _ in range(iterations):
        idx = torch.randint(len(x), (batch_size,), generator=g)
        loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


@torch.no_grad()
def accuracy(net: nn.Module, x, y) -> float:
    return (net(_tensor(x, "clips")).argmax(1) == torch.as_tensor(y).long()).float().mean().item()


# ----------------------------------------------------------------------------------------------
# over a run


METRICS = {
    "discriminative": "TimeGAN discriminative score |acc - 0.5| of a post-hoc GRU classifier (0 is best)",
    "predictive": "TimeGAN predictive score: next-step MAE, trained on generated, tested on real (+ real baseline)",
    "mmd": "unbiased MMD^2, Gaussian kernel, median bandwidth, on flattened normalised sequences",
    "bone": "skeletons: bone-length error and its spread over frames, as fractions of the bone length",
    "foot": "skeletons: ground penetration (m), foot skating (m/s), frames with a foot on the ground",
    "action": "labelled motion: accuracy of a real-data action classifier on clips generated for each action",
}
DEFAULT_METRICS = ("discriminative", "predictive", "mmd")


def check_metrics(metrics) -> list[str]:
    names = [m.strip() for m in (metrics.split(",") if isinstance(metrics, str) else metrics) if m.strip()]
    if not names:
        raise GankitError(f"no metric given; choose from: {', '.join(METRICS)}")
    bad = [m for m in names if m not in METRICS]
    if bad:
        raise GankitError(f"unknown sequence metric {bad[0]!r}; choose from: {', '.join(METRICS)}")
    return names


def evaluate_sequences(run, metrics=DEFAULT_METRICS, n: int = 1000, seed: int = 0, device: str = "auto",
                       ref: str | None = None, repeats: int = 1, hidden: int | None = None,
                       iterations: float = 1.0, log=None) -> dict:
    """Measure a sequence run (a run directory or checkpoint) against its training data (or `ref`).

    n generated sequences (seed `seed`) meet n real ones (a fixed subset). `repeats` runs the post-hoc
    scores with seeds 0..repeats-1 and reports their mean and std; `iterations` scales their training
    steps (1.0 = TimeGAN's); `hidden` overrides their GRU size. Returns {"metrics": {name: float},
    "provenance": {...}}, the layout of gankit.metrics.evaluate.evaluate.
    """
    from ..model import Generator
    from .objective import SequenceObjective

    names = check_metrics(metrics)
    if n < 10:
        raise GankitError(f"--n must be at least 10 for sequence metrics, got {n}")
    t0 = time.perf_counter()
    g = Generator.load(run, device=device)
    obj = g.objective
    if not isinstance(obj, SequenceObjective) or not obj.sequence:
        raise GankitError(f"{run} is not a sequence run (objective {g.cfg.train.objective}, data {g.info.name}); "
                          f"measure image runs with gankit eval")
    check_applicable(obj, names)
    data = obj.load_reference(ref)
    labels = (torch.arange(n) % obj.info.num_classes) if obj.conditional else None
    _, fake, fake_y = obj.sample_sequences(g, n, seed, labels)
    out, n_real = measure(obj, fake, fake_y, data, names, seed=seed, repeats=repeats, hidden=hidden,
                          iterations=iterations, log=log)
    prov = {"run": str(run), "checkpoint": g.meta.get("checkpoint"), "step": g.meta.get("step"),
            "data": obj.info.name, "reference": data.name, "n_generated": n, "n_real": n_real, "seed": seed,
            "repeats": repeats, "iterations_scale": iterations, "hidden": hidden,
            "seconds": round(time.perf_counter() - t0, 2)}
    return {"metrics": out, "provenance": prov}


def check_applicable(obj, names: list[str]) -> None:
    """Skeleton metrics need motion, the action accuracy a conditional generator."""
    for m in names:
        if m in ("bone", "foot", "action") and obj.kind != "motion":
            raise GankitError(f"metric {m} is for skeleton motion, and {obj.info.name} is a series; drop it from "
                              f"the metrics")
    if "action" in names and not obj.conditional:
        raise GankitError("metric action needs a conditional generator: train with net.conditional=true")


def measure(obj, fake: torch.Tensor, fake_y, data, names: list[str], seed: int = 0, repeats: int = 1,
            hidden: int | None = None, iterations: float = 1.0, log=None) -> tuple[dict, int]:
    """The metrics `names` of generated sequences `fake` (n, T, F, normalised; labels fake_y) against
    the first n of a fixed permutation of the reference `data`. Returns (metrics, number of real)."""
    if repeats < 1:
        raise GankitError(f"repeats must be at least 1, got {repeats}")
    say = log or (lambda msg: None)
    info = obj.info
    if tuple(data.shape) != tuple(info.shape):
        raise GankitError(f"reference {data.name} has sequences {tuple(data.shape)}, the run makes "
                          f"{tuple(info.shape)}; give a reference with the run's window and features")
    n = len(fake)
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:n]
    real = data.x[perm].float()
    fake = fake.detach().float().cpu()
    say(f"{n} generated vs {len(real)} real sequences of {tuple(info.shape)} from {data.name}")
    out: dict[str, float] = {}
    steps = lambda k: max(1, int(round(k * iterations)))  # noqa: E731

    def repeated(fn, key):
        runs = [fn(s) for s in range(repeats)]
        for k in runs[0]:
            vals = np.array([r[k] for r in runs])
            out[k] = float(vals.mean())
            if repeats > 1 and k == key:
                out[f"{k}_std"] = float(vals.std())

    for m in names:
        t = time.perf_counter()
        if m == "discriminative":
            repeated(lambda s: discriminative_score(real, fake, hidden, steps(2000), seed=s), "discriminative")
        elif m == "predictive":
            repeated(lambda s: predictive_score(real, fake, hidden, steps(5000), seed=s), "predictive")
        elif m == "mmd":
            out["mmd"] = mmd_rbf(real, fake, seed=seed)
        elif m == "bone":
            out.update(bone_metrics(obj.to_units(fake), obj.skeleton))
            out["bone_error_real"] = bone_metrics(obj.to_units(real), obj.skeleton)["bone_error"]
        elif m == "foot":
            fps = float(info.extra.get("fps", 15))
            out.update(foot_metrics(obj.to_units(fake), obj.skeleton, fps))
            out.update({f"{k}_real": v for k, v in foot_metrics(obj.to_units(real), obj.skeleton, fps).items()})
        elif m == "action":
            if data.y is None or fake_y is None:
                raise GankitError(f"metric action needs labelled reference data and labelled samples; {data.name} "
                                  f"has {'no' if data.y is None else ''} labels")
            tr, te = _split(len(data), torch.Generator().manual_seed(0))
            net = train_action_classifier(data.x[tr], data.y[tr], info.num_classes, iterations=steps(1000))
            out["action_accuracy"] = accuracy(net, fake, fake_y)
            out["action_accuracy_real"] = accuracy(net, data.x[te], data.y[te])
        say(f"{m}: {time.perf_counter() - t:.1f}s")
    return out, int(len(real))


def write_json(result: dict, path: Path) -> Path:
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    return path
