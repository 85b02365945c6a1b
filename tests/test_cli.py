"""The `gankit` command end to end, and its one-line errors."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gankit.cli import main

TINY = ["--steps", "3", "--batch-size", "8", "--no-progress", "data.image_size=16", "net.z_dim=8",
        "net.g_width=8", "net.d_width=8", "train.tensorboard=false", "train.grid=4"]


def run_cli(*argv):
    """`python -m gankit ...` in a subprocess: (exit code, stdout, stderr)."""
    p = subprocess.run([sys.executable, "-m", "gankit", *map(str, argv)], capture_output=True, text=True,
                       timeout=300)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "fake"
    assert main(["train", "--data", "fake", "--out", str(out), *TINY, "net.conditional=true"]) == 0
    return out


def test_train_on_fake_leaves_a_complete_run(fake_run):
    assert (fake_run / "checkpoints").is_dir() and (fake_run / "samples" / "final.png").is_file()
    assert (fake_run / "plots" / "losses.png").is_file() and (fake_run / "summary.json").is_file()


def test_train_digits_through_python_m(tmp_path):
    code, out, err = run_cli("train", "--preset", "digits", "--out", tmp_path / "d", *TINY)
    assert code == 0, err
    assert out.startswith("done: 3 steps") and "samples" in out
    assert "digits:train: 1500 x (1, 16, 16)" in err
    assert Image.open(tmp_path / "d" / "samples" / "final.png").size[0] > 100


def test_sample_npz_png_and_folder(fake_run, tmp_path):
    assert main(["sample", str(fake_run), "--n", "10", "--out", str(tmp_path / "s.npz"), "--label", "2"]) == 0
    z = np.load(tmp_path / "s.npz")
    assert z["images"].shape == (10, 16, 16, 3) and z["images"].dtype == np.uint8
    assert (z["labels"] == 2).all()
    assert main(["sample", str(fake_run), "--n", "9", "--out", str(tmp_path / "grid.png")]) == 0
    assert Image.open(tmp_path / "grid.png").mode == "RGB"
    assert main(["sample", str(fake_run), "--n", "5", "--out", str(tmp_path / "pngs")]) == 0
    assert len(list((tmp_path / "pngs").glob("*.png"))) == 5


def test_sample_is_reproducible_with_a_seed(fake_run, tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        main(["sample", str(fake_run), "--n", "4", "--seed", str(seed), "--out", str(tmp_path / f"{name}.npz")])
    a, b, c = (np.load(tmp_path / f"{n}.npz")["images"] for n in "abc")
    assert (a == b).all() and not (a == c).all()


def test_interpolate(fake_run, tmp_path):
    assert main(["interpolate", str(fake_run), "--rows", "3", "--steps", "5", "--out", str(tmp_path / "i.png")]) == 0
    w, h = Image.open(tmp_path / "i.png").size
    assert w > h  # 5 columns, 3 rows


def test_resume_continues_to_the_new_total(fake_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "r"
    shutil.copytree(fake_run, run)
    assert main(["train", "--resume", str(run), "--steps", "5", "--no-progress"]) == 0
    assert json.loads((run / "summary.json").read_text())["step"] == 5
    assert "resuming" in capsys.readouterr().err


def test_list(capsys):
    assert main(["list", "losses"]) == 0
    out = capsys.readouterr().out
    for name in ("minimax", "ns", "ml", "lsgan", "wgan", "wgan-gp", "hinge"):
        assert f"  {name} " in out
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "datasets:" in out and "ring8" in out and "presets:" in out and "net.g_width" in out


def test_help_for_every_command():
    for cmd in ("train", "sample", "interpolate", "list"):
        code, out, _ = run_cli(cmd, "--help")
        assert code == 0 and "usage: gankit " + cmd in out


@pytest.mark.parametrize("argv,message", [
    (["train", "--net", "dcgann"], "unknown net 'dcgann' (did you mean 'dcgan'?); choose one of: dcgan, mlp"),
    (["train", "--loss", "foo"], "unknown loss 'foo'; choose one of:"),
    (["train", "--data", "nosuchset"], "unknown dataset 'nosuchset'"),
    (["train", "--preset", "nope"], "unknown preset 'nope'"),
    (["train", "net.g_widht=3"], "unknown setting 'net.g_widht'"),
    (["train", "train.steps=many"], "train.steps='many' is not a valid int"),
    (["train", "--data", "/no/such/folder"], "does not exist"),
    (["train", "--resume", "{tmp}"], "no checkpoint in"),
    (["sample", "{tmp}", "--out", "x.npz"], "no checkpoint in"),
    (["train", "--data", "fake", "data.image_size=50"], "image size 50 does not fit the net"),
    (["train", "--data", "mnist", "data.root={tmp}"], "mnist (train-images-idx3-ubyte[.gz]) not found; looked in:"),
    (["train", "--data", "ring8"], "net dcgan makes images; for 2D toy data use --net mlp"),
    (["train", "--data", "ring8", "--net", "mlp", "loss.label_smoothing=0.1", "--loss", "hinge"],
     "label_smoothing applies to sigmoid losses"),
])
def test_bad_input_is_one_line_without_traceback(tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path))
    code, out, err = run_cli(*[a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 2, (out, err)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gankit: error: "), err
    assert message in lines[0]


def test_existing_run_dir_is_not_overwritten(fake_run, capsys):
    assert main(["train", "--data", "fake", "--out", str(fake_run), *TINY]) == 2
    assert "already holds a run; continue it with gankit train --resume" in capsys.readouterr().err


def test_eval_a_run_defaults_to_its_test_split(fake_run, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    assert main(["eval", str(fake_run), "--extractor", "domain", "--metrics", "fid,modes", "--n", "64",
                 "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["provenance"]["reference"].startswith("fake:test")
    assert out["metrics"]["fid_domain"] >= 0 and 0 <= out["metrics"]["classes_covered_domain"] <= 10


def test_eval_of_samples_needs_a_reference(fake_run, tmp_path, capsys):
    main(["sample", str(fake_run), "--n", "8", "--out", str(tmp_path / "s.npz")])
    assert main(["eval", str(tmp_path / "s.npz")]) == 2
    assert "--ref is needed" in capsys.readouterr().err


def test_eval_hands_text_and_sequence_runs_to_their_families():
    from gankit.registry import OBJECTIVES

    for name in ("mle", "seqgan", "gumbel"):
        assert OBJECTIVES.get(name).eval_command == "eval-text"
    assert OBJECTIVES.get("sequence").eval_command == "eval-sequence"
    assert getattr(OBJECTIVES.get("gan"), "eval_command", None) is None
