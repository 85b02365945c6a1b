"""evaluate() end to end: saved samples, generators and callables against a reference, with provenance."""
import json
import math

import numpy as np
import pytest
import torch

import gankit
from gankit.data.toy import ring8_centres
from gankit.errors import GankitError
from gankit.metrics.evaluate import evaluate, evaluate_generator

import eval_testutil as tu

PROVENANCE = ("source", "reference", "n_generated", "n_reference", "extractor", "weights_hash", "protocol",
              "gankit_version", "seed", "reference_cache")


@pytest.fixture(autouse=True)
def _cache(monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", tu.CACHE)
    tu.domain_digits()  # train once per process, into the cache evaluate reads


@pytest.fixture
def real_npz(tmp_path):
    train = tu.digits("train")
    return tu.save_npz(tmp_path / "real.npz", train.x[:200], train.y[:200])


@pytest.fixture
def noise_npz(tmp_path):
    return tu.save_npz(tmp_path / "noise.npz", tu.noise_images(200))


def test_real_digits_close_noise_far_domain(real_npz, noise_npz):
    metrics = ["fid", "kid", "is", "pr", "dc", "modes"]
    real = evaluate(real_npz, "digits:test", metrics, n=200, extractor="domain")
    noise = evaluate(noise_npz, "digits:test", metrics, n=200, extractor="domain")
    r, z = real["metrics"], noise["metrics"]
    assert r["fid_domain"] < 0.2 * z["fid_domain"], (r["fid_domain"], z["fid_domain"])
    assert r["kid_domain"] < 0.2 * z["kid_domain"]
    assert r["is_domain"] > 5 > z["is_domain"]  # confident and varied vs. not
    assert r["precision_domain"] > 0.6 > z["precision_domain"]
    assert r["coverage_domain"] > 0.6 > z["coverage_domain"]
    assert r["classes_covered_domain"] == 10
    assert r["class_kl_domain"] < 0.1 < z["class_kl_domain"]
    # Domain numbers carry their own names: no plain Inception key appears.
    assert not {"fid", "kid", "is", "precision"} & set(r)
    # The reference statistics were computed once and then read from the cache.
    assert noise["provenance"]["reference_cache"] == "hit"
    assert real["provenance"]["reference_key"] == noise["provenance"]["reference_key"]


def test_provenance(real_npz):
    res = evaluate(real_npz, "digits:test", "fid", n=50, extractor="domain", seed=3)
    p = res["provenance"]
    for k in PROVENANCE:
        assert k in p, k
    ext, _ = tu.domain_digits()
    assert p["extractor"] == "domain-digits" and p["weights_hash"] == ext.weights_hash
    assert p["protocol"] == ext.protocol
    assert p["n_generated"] == 50 and p["n_reference"] == 50  # n_ref defaults to n
    assert p["reference"] == "digits:test" and p["seed"] == 3
    assert p["gankit_version"] == gankit.__version__
    assert p["extractor_accuracy"] >= 0.9
    json.dumps(res)  # everything is JSON-serialisable


def test_default_split_and_n_ref(real_npz):
    res = evaluate(real_npz, "digits", "fid", n=40, n_ref=120, extractor="domain")
    assert res["provenance"]["reference"] == "digits:train"
    assert res["provenance"]["n_reference"] == 120 and res["provenance"]["n_generated"] == 40


def test_modes_sees_missing_classes(tmp_path):
    train = tu.digits("train")
    keep = train.y < 5
    path = tu.save_npz(tmp_path / "half.npz", train.x[keep][:200], train.y[keep][:200])
    m = evaluate(path, "digits:test", "modes", n=200)["metrics"]  # modes uses the domain classifier
    assert m["classes_covered_domain"] <= 8  # five classes, plus a few misclassified strays (7 measured)
    assert m["class_kl_domain"] > 0.4  # about log 2 = 0.69 for half of the classes


def test_evaluate_generator_with_a_callable():
    test = tu.digits("all")

    def real(n):  # floats in [-1, 1], as a generator makes them
        return test.x[:n].float() / 127.5 - 1.0

    res = evaluate_generator(real, "digits:test", ["fid", "is"], n=100, extractor="domain")
    assert res["provenance"]["source_kind"] == "callable"
    assert res["metrics"]["is_domain"] > 5
    with pytest.raises(GankitError, match="must return"):
        evaluate_generator(lambda n: torch.zeros(n - 1, 1, 8, 8), "digits:test", "fid", n=10, extractor="domain")


# ----------------------------------------------------------------------------------------------
# 2D toy data


def ring_samples(modes, n_per=100, std=0.01, seed=0):
    g = torch.Generator().manual_seed(seed)
    c = ring8_centres()[list(modes)]
    return (c.repeat_interleave(n_per, 0) + std * torch.randn(len(modes) * n_per, 2, generator=g)).numpy()


def test_toy_modes_from_npz(tmp_path):
    all8 = tmp_path / "all8.npz"
    np.savez(all8, samples=ring_samples(range(8)))
    half = tmp_path / "half.npz"
    np.savez(half, samples=ring_samples([0, 2, 4, 6], n_per=200))
    off = tmp_path / "off.npz"
    np.savez(off, samples=(ring_samples(range(8)) * 0.5).astype(np.float32))  # all far from the ring

    a = evaluate(all8, "ring8:test", ["modes", "fid"], n=800)
    h = evaluate(half, "ring8:test", ["modes"], n=800)["metrics"]
    o = evaluate(off, "ring8:test", ["modes"], n=800)["metrics"]
    assert a["metrics"]["modes"] == 8 and a["metrics"]["high_quality"] > 0.95
    assert a["metrics"]["reverse_kl"] < 0.01
    assert h["modes"] == 4 and h["reverse_kl"] == pytest.approx(math.log(2), abs=0.01)
    assert o["modes"] == 0 and o["high_quality"] == 0.0
    assert a["metrics"]["fid_raw"] < 0.01 and a["provenance"]["extractor"] == "raw"


def test_toy_generator_checkpoint(tmp_path):
    from gankit.config import build_config
    from gankit.training.loop import Trainer

    cfg = build_config("ring8", {"train.steps": 2, "train.progress": False, "train.tensorboard": False,
                                 "train.sample_every": 1000, "train.log_every": 1})
    Trainer(cfg, tmp_path / "run").run()
    a = evaluate(tmp_path / "run", "ring8", ["modes", "fid"], n=300, seed=1)
    b = evaluate(tmp_path / "run", "ring8", ["modes", "fid"], n=300, seed=1)
    assert a["metrics"] == b["metrics"]  # fixed seed: the same samples, the same numbers
    assert a["provenance"]["source_kind"] == "checkpoint" and a["provenance"]["step"] == 2
    assert a["metrics"]["modes"] < 6  # two steps of training capture (almost) nothing


# ----------------------------------------------------------------------------------------------
# bad input


def test_unknown_metric_lists_choices(real_npz):
    with pytest.raises(GankitError, match=r"unknown metric 'fdi' \(did you mean 'fid'\?\); choose one of: dc, fid"):
        evaluate(real_npz, "digits:test", "fdi", n=10)


def test_missing_file(tmp_path):
    with pytest.raises(GankitError, match="does not exist"):
        evaluate(tmp_path / "nope.npz", "digits:test", "fid", n=10)


def test_npz_without_images(tmp_path):
    p = tmp_path / "odd.npz"
    np.savez(p, weights=np.zeros(3))
    with pytest.raises(GankitError, match="no 'images' array"):
        evaluate(p, "digits:test", "fid", n=10)


def test_is_with_inception_is_refused_before_any_work(real_npz, monkeypatch):
    import gankit.metrics.extractors as ex

    def boom(*a, **k):
        raise AssertionError("the Inception network should not be loaded")

    monkeypatch.setattr(ex.InceptionExtractor, "__init__", boom)
    with pytest.raises(GankitError, match="--extractor domain"):
        evaluate(real_npz, "digits:test", "fid,is", n=10, extractor="inception")
    with pytest.raises(GankitError, match="--extractor domain"):
        evaluate(real_npz, "digits:test", "is", n=10)  # Inception is the default for images


def test_mismatched_inputs(real_npz, tmp_path):
    vec = tmp_path / "v.npz"
    np.savez(vec, samples=ring_samples(range(8)))
    with pytest.raises(GankitError, match="holds images"):
        evaluate(vec, "digits:test", "fid", n=10)
    with pytest.raises(GankitError, match="raw coordinates"):
        evaluate(vec, "ring8", "fid", n=10, extractor="domain")
    with pytest.raises(GankitError, match="no 'images' array"):  # references are datasets (load_data)
        evaluate(vec, vec, "modes", n=10)
    with pytest.raises(GankitError, match="unknown extractor"):
        evaluate(real_npz, "digits:test", "fid", n=10, extractor="vgg")
    with pytest.raises(GankitError, match="at least 2"):
        evaluate(real_npz, "digits:test", "fid", n=1)


class PoolExtractor:
    """A cheap stand-in extractor object (evaluate accepts built extractors, as training would pass)."""
    name, weights_hash, protocol, kind, suffix, has_probs = "pool4", "none", "4x4 mean pool", "test", "_pool", False

    def features(self, x):
        return torch.nn.functional.adaptive_avg_pool2d(x.float(), 4).flatten(1).double().numpy()  # (N, C*16)


def test_image_generator_checkpoint(tmp_path):
    from conftest import tiny_config
    from gankit.training.loop import Trainer

    Trainer(tiny_config(), tmp_path / "run", log=lambda m: None).run()  # 16 px RGB on the `fake` data
    a = evaluate(tmp_path / "run", "fake:test", ["fid", "pr"], n=40, extractor=PoolExtractor(), seed=5)
    b = evaluate(tmp_path / "run", "fake:test", ["fid", "pr"], n=40, extractor=PoolExtractor(), seed=5)
    c = evaluate(tmp_path / "run", "fake:test", ["fid"], n=40, extractor=PoolExtractor(), seed=6)
    assert a["metrics"] == b["metrics"] and a["metrics"]["fid_pool"] != c["metrics"]["fid_pool"]
    p = a["provenance"]
    assert p["source_kind"] == "checkpoint" and p["step"] == 2 and p["sample_shape"] == [3, 16, 16]
    assert p["extractor"] == "pool4" and p["n_reference"] == 40 and p["reference"] == "fake:test"
