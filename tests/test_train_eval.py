"""Evaluation during training: metrics.jsonl records with provenance, and a `best` checkpoint."""
import json

import pytest

from conftest import tiny_config
from gankit.errors import GankitError
from gankit.training import checkpoint as ck
from gankit.training.loop import Trainer


def test_eval_every_logs_metrics_and_keeps_best(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    cfg = tiny_config(**{"data.spec": "digits", "data.image_size": 16, "train.steps": 4, "train.eval_every": 2,
                         "train.eval_metrics": "fid,kid", "train.eval_extractor": "domain", "train.eval_n": 64})
    messages = []
    s = Trainer(cfg, tmp_path / "run", log=messages.append).run()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [2, 4]
    for r in evals:
        assert r["fid_domain"] >= 0 and "kid_domain" in r
        prov = r["provenance"]
        assert prov["reference"].startswith("digits:test") and prov["n_generated"] == 64
        assert prov["extractor"].startswith("domain") and prov["gankit_version"]
    best = tmp_path / "run" / "checkpoints" / "best.safetensors"
    assert best.is_file()
    _, meta = ck.load_checkpoint(best)
    assert meta["eval"]["fid_domain"] == min(r["fid_domain"] for r in evals) == s["best"]
    assert any(m.startswith("eval at step 2") for m in messages)
    # `best` is not one of the rolling step checkpoints, so pruning keeps it and resume ignores it
    assert ck.latest_checkpoint(tmp_path / "run").name == "step-0000004.safetensors"


def test_eval_of_a_family_without_metrics_is_a_clear_error(tmp_path):
    from gankit.objectives import Objective

    with pytest.raises(GankitError, match="no evaluation during training"):
        Objective.evaluate(None, None, tiny_config(), None, "cpu")
