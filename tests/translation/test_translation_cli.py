"""`gankit train / translate / sample` for translation models, end to end, and their one-line errors."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main
from gankit.config import DataConfig
from gankit.data import load_data

TINY = ["--steps", "3", "--batch-size", "8", "--no-progress", "data.image_size=16", "net.g_width=8",
        "net.d_width=8", "train.tensorboard=false", "train.grid=6", "train.ckpt_every=3"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    torch.set_num_threads(1)  # module fixtures run before conftest's per-test one-thread fixture
    root = tmp_path_factory.mktemp("translation-runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_CACHE", str(root / "cache"))
        assert main(["train", "--objective", "pix2pix", "--net", "unet", "--data", "fake-pairs", "--out",
                     str(root / "p2p"), *TINY]) == 0
        assert main(["train", "--objective", "cyclegan", "--net", "resnet-gen", "--data", "fake-unpaired", "--out",
                     str(root / "cg"), *TINY, "translation.blocks=1"]) == 0
        yield root


def test_translate_a_folder_keeps_names_and_fits_size_and_channels(runs, tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    for name in ("a.png", "sub/b.jpg"):
        Image.fromarray(np.full((20, 24), 100, dtype=np.uint8)).save(src / name)  # grey, 24x20: fitted to 3 x 16 x 16
    assert main(["translate", str(runs / "p2p"), "--input", str(src), "--out", str(tmp_path / "out")]) == 0
    assert Image.open(tmp_path / "out" / "a.png").size == (16, 16)
    assert Image.open(tmp_path / "out" / "sub" / "b.png").mode == "RGB"
    assert (tmp_path / "out" / "grid.png").is_file()


def test_translate_npz_and_grid_outputs(runs, tmp_path):
    assert main(["translate", str(runs / "p2p"), "--input", "fake-pairs:test", "--n", "5", "--out",
                 str(tmp_path / "t.npz")]) == 0
    z = np.load(tmp_path / "t.npz")
    assert z["images"].shape == (5, 16, 16, 3) and z["images"].dtype == np.uint8 and z["inputs"].shape == (5, 16, 16, 3)
    # an .npz goes back in as input
    assert main(["translate", str(runs / "p2p"), "--input", str(tmp_path / "t.npz"), "--out",
                 str(tmp_path / "again")]) == 0
    assert len(list((tmp_path / "again").glob("0*.png"))) == 5
    assert main(["translate", str(runs / "cg"), "--input", "fake-unpaired:test", "--direction", "BtoA", "--out",
                 str(tmp_path / "g.png")]) == 0
    w, h = Image.open(tmp_path / "g.png").size
    assert w > h  # panels input | output | reconstruction side by side


def test_metrics_agree_with_the_written_translations(runs, tmp_path, capsys):
    assert main(["translate", str(runs / "p2p"), "--input", "fake-pairs:test", "--metrics", "--json", "--n", "64",
                 "--out", str(tmp_path / "t.npz")]) == 0
    result = json.loads(capsys.readouterr().out.split("\nwrote")[0])
    m = result["metrics"]
    assert set(m) == {"AtoB/l1", "AtoB/psnr", "AtoB/ssim", "AtoB/fid_clf"}
    targets = load_data(DataConfig(spec="fake-pairs:test", image_size=16), sizes=None).x2[:64]
    written = np.load(tmp_path / "t.npz")["images"].transpose(0, 3, 1, 2).astype(np.float64)
    assert m["AtoB/l1"] == pytest.approx(np.abs(written - targets.numpy()).mean() / 127.5, rel=1e-9)
    assert result["provenance"]["classifiers"]["B"]["kind"] == "classes"  # fake's 10 labels
    assert result["provenance"]["AtoB/images"] == 64


def test_cyclegan_metrics_cover_both_directions(runs, capsys):
    assert main(["translate", str(runs / "cg"), "--input", "fake-unpaired:test", "--metrics", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)["metrics"]
    assert set(m) == {f"{d}/{k}" for d in ("AtoB", "BtoA") for k in ("fid_clf", "domain_acc", "cycle_l1")}
    assert all(0 <= m[f"{d}/domain_acc"] <= 1 for d in ("AtoB", "BtoA"))


def test_gankit_eval_hands_translation_runs_to_eval_translation(runs, capsys):
    assert main(["eval", str(runs / "cg"), "--n", "50"]) == 0
    out = capsys.readouterr().out
    assert "AtoB/domain_acc" in out and "BtoA/cycle_l1" in out and "AtoB/images 50" in out
    assert main(["eval-translation", str(runs / "p2p"), "--metrics", "ssim,fid_clf", "--fid-ci", "10", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)["metrics"]
    assert set(m) == {"AtoB/ssim", "AtoB/fid_clf", "AtoB/fid_clf_ci95_low", "AtoB/fid_clf_ci95_high"}
    assert m["AtoB/fid_clf_ci95_low"] <= m["AtoB/fid_clf_ci95_high"]
    assert main(["eval-translation", str(runs / "p2p"), "--metrics", "fid"]) == 2
    assert "unknown translation metric 'fid'; choose from l1, psnr" in capsys.readouterr().err


def test_run_directory_records_every_loss_term(runs):
    rows = [json.loads(line) for line in (runs / "cg" / "metrics.jsonl").read_text().splitlines()]
    assert {"loss/G", "loss/G_gan", "loss/G_cycle", "loss/G_identity", "loss/D", "logits/real_A",
            "logits/fake_B"} <= set(rows[-1])
    assert (runs / "cg" / "samples" / "final.png").is_file() and (runs / "cg" / "plots" / "losses.png").is_file()


def test_resume_and_sample(runs, tmp_path):
    assert main(["train", "--resume", str(runs / "cg"), "--steps", "4", "--no-progress"]) == 0
    assert json.loads((runs / "cg" / "summary.json").read_text())["step"] == 4
    assert main(["sample", str(runs / "p2p"), "--n", "6", "--out", str(tmp_path / "s.png")]) == 0
    assert main(["sample", str(runs / "p2p"), "--n", "6", "--out", str(tmp_path / "s.npz")]) == 0
    assert np.load(tmp_path / "s.npz")["images"].shape == (6, 16, 16, 3)


@pytest.mark.parametrize("argv,match", [
    (["--input", "fake-pairs:test"], "say where the translations go"),
    (["--input", "fake-pairs:test", "--out", "x", "--direction", "BtoA"], "translates AtoB only, not BtoA"),
    (["--input", "no/such/dir", "--out", "x"], "does not exist"),
    (["--input", "IN_DIR", "--metrics"], "is not a dataset name"),
    (["--input", "fake", "--metrics"], "has one image domain"),
    (["--input", "EMPTY_DIR", "--out", "x"], "no images found"),
])
def test_translate_errors_are_one_line(runs, tmp_path, capsys, argv, match):
    (tmp_path / "in").mkdir()
    Image.fromarray(np.zeros((16, 16), dtype=np.uint8)).save(tmp_path / "in" / "a.png")
    (tmp_path / "empty").mkdir()
    argv = [a.replace("IN_DIR", str(tmp_path / "in")).replace("EMPTY_DIR", str(tmp_path / "empty")) for a in argv]
    assert main(["translate", str(runs / "p2p"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gankit: error:") and match in err[0], err


def test_noise_sampling_commands_point_to_translate(runs, tmp_path, capsys):
    assert main(["interpolate", str(runs / "cg"), "--out", str(tmp_path / "i.png")]) == 2
    assert "use gankit translate RUN" in capsys.readouterr().err


def test_translate_refuses_a_noise_gan(tmp_path, capsys):
    assert main(["train", "--data", "fake", "--out", str(tmp_path / "gan"), *TINY, "net.z_dim=8"]) == 0
    assert main(["translate", str(tmp_path / "gan"), "--input", "fake", "--out", str(tmp_path / "x")]) == 2
    assert "not a translation model" in capsys.readouterr().err


def test_pix2pix_with_an_image_net_says_which_to_add(capsys):
    assert main(["train", "--objective", "pix2pix", "--net", "dcgan", "--data", "fake-pairs", *TINY]) == 2
    assert "add --net unet" in capsys.readouterr().err


def test_python_m_gankit_translate(runs, tmp_path):
    p = subprocess.run([sys.executable, "-m", "gankit", "translate", str(runs / "cg"), "--input", "fake-unpaired:test",
                        "--n", "3", "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("wrote 3 translations (AtoB)") and len(list((tmp_path / "o").glob("*.png"))) == 4
