"""The CLI end to end for sequence runs: train, resume, sample, eval-sequence, and one-line errors."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gankit.cli import main

TINY = ["--steps", "2", "--batch-size", "16", "--no-progress", "net.z_dim=8", "net.g_width=8", "net.d_width=8",
        "train.tensorboard=false", "train.grid=4", "train.log_every=1"]


@pytest.fixture(scope="module")
def sines_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "sines"
    assert main(["train", "--objective", "sequence", "--data", "sines:test", "--out", str(out), *TINY]) == 0
    return out


def test_train_resume_and_sample_a_series(sines_run, tmp_path, capsys):
    assert json.loads((sines_run / "config.json").read_text())["net"]["name"] == "seq-gru"
    assert main(["train", "--resume", str(sines_run), "--steps", "3", "--no-progress"]) == 0
    assert "done: 3 steps" in capsys.readouterr().out
    assert main(["sample", str(sines_run), "--n", "20", "--out", str(tmp_path / "out")]) == 0
    z = np.load(tmp_path / "out" / "samples.npz")
    assert z["samples"].shape == (20, 24, 5) and z["normalised"].shape == (20, 24, 5)
    np.testing.assert_allclose(z["samples"], z["normalised"] * 0.5 + 0.5, atol=1e-6)  # sines: back to [0, 1]
    assert list(z["features"]) == [f"sine{k}" for k in range(5)]
    assert Image.open(tmp_path / "out" / "samples.png").format == "PNG"
    assert main(["sample", str(sines_run), "--n", "5", "--out", str(tmp_path / "s.npz")]) == 0
    assert np.load(tmp_path / "s.npz")["samples"].shape == (5, 24, 5)


def test_eval_sequence_prints_json(sines_run, tmp_path, capsys):
    capsys.readouterr()
    code = main(["eval-sequence", str(sines_run), "--metrics", "discriminative,predictive,mmd", "--n", "40",
                 "--iterations", "0.01", "--out", str(tmp_path / "m.json")])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    m = result["metrics"]
    assert 0 <= m["discriminative"] <= 0.5 and m["predictive"] > 0 and np.isfinite(m["mmd"])
    assert result["provenance"]["n_generated"] == 40
    assert json.loads((tmp_path / "m.json").read_text()) == result


def test_motion_sample_writes_gifs_and_eval_measures_skeletons(tmp_path, capsys):
    run = tmp_path / "motion"
    assert main(["train", "--objective", "sequence", "--data", "motion:test", "--out", str(run), *TINY,
                 "net.conditional=true", "data.window=12"]) == 0  # 12-frame clips: quicker to draw
    assert main(["sample", str(run), "--n", "3", "--out", str(tmp_path / "clips")]) == 0
    gif = Image.open(tmp_path / "clips" / "samples.gif")
    assert gif.is_animated and gif.n_frames == 12
    assert Image.open(tmp_path / "clips" / "real.gif").is_animated
    z = np.load(tmp_path / "clips" / "samples.npz")
    assert z["samples"].shape == (3, 12, 51) and list(z["class_names"]) == ["walk", "run", "jump", "wave"]
    assert main(["sample", str(run), "--n", "1", "--label", "3", "--out", str(tmp_path / "wave.gif")]) == 0
    assert Image.open(tmp_path / "wave.gif").n_frames == 12
    capsys.readouterr()
    assert main(["eval-sequence", str(run), "--metrics", "bone,foot,action", "--n", "40", "--iterations",
                 "0.02"]) == 0
    m = json.loads(capsys.readouterr().out)["metrics"]
    assert m["bone_error"] < 1e-4 and m["bone_error_real"] < 1e-4
    assert 0 <= m["action_accuracy"] <= 1 and "foot_skate_real" in m


def run_cli(*argv):
    p = subprocess.run([sys.executable, "-m", "gankit", *map(str, argv)], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def test_bad_input_gets_one_line_errors(tmp_path, sines_run, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("t,v\n1,2\n2,oops\n3,4\n")
    code, out, err = run_cli("train", "--objective", "sequence", "--data", bad, "--out", tmp_path / "r", *TINY)
    assert code == 2 and err.strip().count("\n") == 0
    assert "column 'v'" in err and "not numeric" in err and "data.columns=t" in err
    capsys.readouterr()
    assert main(["train", "--objective", "sequence", "--data", "sunspots", "--out", str(tmp_path / "r2"), *TINY,
                 "data.window=400"]) == 2
    assert "data.window=400 is longer than sunspots (309 rows)" in capsys.readouterr().err
    assert main(["eval-sequence", str(sines_run), "--metrics", "bone"]) == 2
    assert "metric bone is for skeleton motion" in capsys.readouterr().err
    assert main(["eval-sequence", str(sines_run), "--metrics", "fid"]) == 2
    assert "unknown sequence metric 'fid'" in capsys.readouterr().err
    assert main(["sample", str(sines_run), "--n", "2", "--out", str(tmp_path / "x.gif")]) == 2
    assert "animations are for motion runs" in capsys.readouterr().err


def test_csv_trains_end_to_end(tmp_path):
    import pandas as pd

    t = np.arange(200)
    pd.DataFrame({"date": t, "a": np.sin(t / 7), "b": np.cos(t / 11)}).to_csv(tmp_path / "s.csv", index=False)
    assert main(["train", "--objective", "sequence", "--data", str(tmp_path / "s.csv"), "--out", str(tmp_path / "r"),
                 *TINY, "data.columns=a,b", "data.window=16"]) == 0
    assert main(["sample", str(tmp_path / "r"), "--n", "3", "--out", str(tmp_path / "p.png")]) == 0
    assert Image.open(tmp_path / "p.png").format == "PNG"


def test_evaluate_run_hook_for_gankit_eval(sines_run):
    """The hook `gankit eval` can dispatch to for sequence runs (same numbers as eval-sequence)."""
    from gankit.model import Generator
    from gankit.sequence.metrics import evaluate_sequences

    obj = Generator.load(sines_run, device="cpu").objective
    a = obj.evaluate_run(str(sines_run), "mmd", n=30, device="cpu")
    b = evaluate_sequences(str(sines_run), "mmd", n=30, device="cpu")
    assert a["metrics"] == b["metrics"] and set(a["metrics"]) == {"mmd"}
