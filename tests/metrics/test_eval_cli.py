"""`gankit eval` as a command: argparse wiring, the table, --json, errors."""
import argparse
import json

import numpy as np
import pytest

from gankit.errors import GankitError
from gankit.metrics.eval_cli import add_eval_parser, cmd_eval, format_table

import eval_testutil as tu


@pytest.fixture(autouse=True)
def _cache(monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", tu.CACHE)
    tu.domain_digits()


@pytest.fixture
def parser():
    p = argparse.ArgumentParser(prog="gankit")
    sub = p.add_subparsers(dest="command")
    add_eval_parser(sub)
    return p


@pytest.fixture
def real_npz(tmp_path):
    train = tu.digits("train")
    return str(tu.save_npz(tmp_path / "real.npz", train.x[:60], train.y[:60]))


def test_json_output(parser, real_npz, capsys):
    args = parser.parse_args(["eval", real_npz, "--ref", "digits:test", "--extractor", "domain",
                              "--metrics", "fid,kid,is,pr,dc,modes", "--n", "60", "--json", "--fid-ci", "20"])
    assert cmd_eval(args) == 0
    out = json.loads(capsys.readouterr().out)
    m, p = out["metrics"], out["provenance"]
    for key in ("fid_domain", "fid_domain_ci95_low", "fid_domain_ci95_high", "kid_domain", "kid_domain_std",
                "is_domain", "is_domain_std", "precision_domain", "recall_domain", "density_domain",
                "coverage_domain", "classes_covered_domain", "class_kl_domain"):
        assert key in m, key
    assert m["fid_domain_ci95_low"] <= m["fid_domain_ci95_high"]
    assert p["extractor"] == "domain-digits" and p["n_generated"] == 60 and p["reference"] == "digits:test"


def test_table_output(parser, real_npz, capsys):
    args = parser.parse_args(["eval", real_npz, "--ref", "digits:test", "--extractor", "domain",
                              "--metrics", "fid,kid", "--n", "40", "--quiet"])
    assert cmd_eval(args) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # --quiet: no progress lines
    lines = captured.out.splitlines()
    assert lines[0].split() == ["metric", "value"]
    assert lines[1].split()[0] == "fid_domain" and float(lines[1].split()[1]) >= 0
    assert lines[2].split()[0] == "kid_domain" and "±" in lines[2]
    text = captured.out
    for word in ("generated  40 from", "reference  40 of digits:test", "extractor  domain-digits weights",
                 "protocol", "gankit     "):
        assert word in text, word


def test_format_table_handles_nan_and_ints():
    res = {"metrics": {"modes": 3, "high_quality": 0.5, "reverse_kl": float("nan")},
           "provenance": {"source": "x.npz", "n_generated": 10, "seed": 0, "sample_shape": [2], "n_reference": 10,
                          "reference": "ring8:train", "gankit_version": "0", "seconds": 0.1, "device": "cpu"}}
    text = format_table(res)
    assert "modes         3" in text and "n/a" in text


def test_errors(parser, real_npz, tmp_path):
    with pytest.raises(GankitError, match="choose one of"):
        cmd_eval(parser.parse_args(["eval", real_npz, "--ref", "digits:test", "--metrics", "fid,bogus"]))
    with pytest.raises(GankitError, match="does not exist"):
        cmd_eval(parser.parse_args(["eval", str(tmp_path / "x.npz"), "--ref", "digits:test"]))
    with pytest.raises(GankitError, match="--n must be at least 2"):
        cmd_eval(parser.parse_args(["eval", real_npz, "--ref", "digits:test", "--n", "0"]))
    with pytest.raises(SystemExit):  # argparse validates --extractor against the registry
        parser.parse_args(["eval", real_npz, "--ref", "digits:test", "--extractor", "vgg"])
    odd = tmp_path / "odd.npz"
    np.savez(odd, something=np.zeros(2))
    with pytest.raises(GankitError, match="images"):
        cmd_eval(parser.parse_args(["eval", str(odd), "--ref", "digits:test"]))
