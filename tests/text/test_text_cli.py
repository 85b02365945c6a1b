"""The text family end to end through `gankit`: train, resume, sample, eval-text, and one-line errors."""
import json
import subprocess
import sys

import numpy as np
import pytest

from gankit.cli import main

OPTS = ["--batch-size", "8", "--no-progress"]
TINY = ["train.tensorboard=false", "train.grid=4", "train.ema=0", "text.emb=8", "text.hidden=8", "text.d_emb=8",
        "text.d_scale=0.05", "seqgan.rollouts=2"]  # key=value settings go last


def run_cli(*argv):
    p = subprocess.run([sys.executable, "-m", "gankit", *map(str, argv)], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture(scope="module")
def seqgan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("text") / "seqgan"
    assert main(["train", "--objective", "seqgan", "--data", "oracle-small", "--steps", "3", "--out", str(out), *OPTS,
                 "text.pretrain_g=1", "text.pretrain_d=1", *TINY]) == 0
    return out


def test_train_resume_and_artifacts(seqgan_run, tmp_path, capsys):
    import shutil

    assert (seqgan_run / "samples" / "final.txt").is_file()
    assert len((seqgan_run / "samples" / "final.txt").read_text().splitlines()) == 4
    run = tmp_path / "r"
    shutil.copytree(seqgan_run, run)
    assert main(["train", "--resume", str(run), "--steps", "5", "--no-progress"]) == 0
    assert json.loads((run / "summary.json").read_text())["step"] == 5
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert "reward" in rows[-1]  # the resumed steps are adversarial


def test_sample_text_with_temperature_and_ids(seqgan_run, tmp_path, capsys):
    out = tmp_path / "s.txt"
    assert main(["sample", str(seqgan_run), "--n", "7", "--out", str(out), "--temperature", "0.5"]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 7 and all(len(line.split()) == 10 for line in lines)  # oracle: 10 ids per line
    assert "wrote 7 samples" in capsys.readouterr().out
    again = tmp_path / "again.txt"
    main(["sample", str(seqgan_run), "--n", "7", "--out", str(again), "--temperature", "0.5"])
    assert again.read_text() == out.read_text()
    main(["sample", str(seqgan_run), "--n", "7", "--out", str(again), "--temperature", "2.0"])
    assert again.read_text() != out.read_text()
    assert main(["sample", str(seqgan_run), "--n", "5", "--out", str(tmp_path / "ids.npz")]) == 0
    z = np.load(tmp_path / "ids.npz")["tokens"]
    assert z.shape == (5, 10) and z.dtype == np.int64


def test_eval_text_table_and_json(seqgan_run, tmp_path, capsys):
    assert main(["eval-text", str(seqgan_run), "--n", "50", "--metrics", "nll-oracle,nll-test,distinct,self-bleu",
                 "--out", str(tmp_path / "m.json")]) == 0
    table = capsys.readouterr().out
    assert "nll_oracle" in table and "self_bleu5" in table
    r = json.loads((tmp_path / "m.json").read_text())
    assert 0 < r["nll_oracle"] < 20 and 0 < r["nll_test"] < 20 and r["n"] == 50 and r["step"] == 3
    assert main(["eval-text", str(seqgan_run), "--n", "50", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) >= {"nll_oracle", "nll_test", "distinct2"}


def test_train_on_a_text_file_word_level(tmp_path):
    f = tmp_path / "lines.txt"
    f.write_text("the cat sat\nthe dog ran\na cat ran\nthe dog sat\n" * 4)
    code, out, err = run_cli("train", "--objective", "gumbel", "--data", f, "--steps", "2", "--out", tmp_path / "g",
                             "--batch-size", "4", "--no-progress", "data.tokens=word", "text.pretrain_g=1", *TINY)
    assert code == 0, err
    assert out.startswith("done: 2 steps")
    assert main(["sample", str(tmp_path / "g"), "--n", "3", "--out", str(tmp_path / "w.txt")]) == 0
    words = (tmp_path / "w.txt").read_text().split()
    assert set(words) <= {"the", "cat", "sat", "dog", "ran", "a", "<unk>"}
    held = tmp_path / "held.txt"
    held.write_text("the cat ran\n")
    assert main(["eval-text", str(tmp_path / "g"), "--n", "20", "--reference", str(held), "--metrics",
                 "nll-test,bleu,novel", "--out", str(tmp_path / "m.json")]) == 0
    assert {"bleu2", "novel", "nll_test"} <= set(json.loads((tmp_path / "m.json").read_text()))


@pytest.mark.parametrize("argv,message", [
    (["train", "--objective", "seqgn", "--data", "oracle-small"], "unknown objective 'seqgn' (did you mean 'seqgan'?)"),
    (["train", "--objective", "seqgan", "--data", "{tmp}/empty.txt"], "has no text (it is empty"),
    (["train", "--objective", "seqgan", "--data", "{tmp}/binary.txt"], "is not a text file (binary data at byte"),
    (["train", "--objective", "mle", "--data", "fake"], "the mle objective trains on text"),
    (["train", "--objective", "seqgan", "--data", "oracle-small", "text.d_net=rnn"], "text.d_net='rnn'"),
    (["sample", "{run}", "--out", "{tmp}/x.png"], "write text samples to FILE.txt"),
    (["sample", "{run}", "--out", "{tmp}/x.txt", "--label", "1"], "not conditional; drop --label"),
    (["sample", "{run}", "--out", "{tmp}/x.txt", "--temperature", "0"], "temperature must be positive"),
    (["interpolate", "{run}", "--out", "{tmp}/i.png"], "text generators have no latent vector"),
    (["eval-text", "{run}", "--metrics", "bleu7"], "unknown text metric 'bleu7'"),
    (["eval-text", "{run}", "--metrics", "words"], "the words metric is for runs on --data words"),
    (["eval-text", "{run}", "--reference", "{tmp}/empty.txt"], "oracle run is measured against the oracle's"),
])
def test_bad_input_is_one_line(seqgan_run, tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.txt").write_text("\n\n")
    (tmp_path / "binary.txt").write_bytes(b"PK\x03\x04\x00\x00binary")
    capsys.readouterr()
    code = main([a.replace("{tmp}", str(tmp_path)).replace("{run}", str(seqgan_run)) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.splitlines()[-1].startswith("gankit: error: ") and message in err.splitlines()[-1], err


def test_errors_through_python_m_have_no_traceback(tmp_path):
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01")
    code, out, err = run_cli("train", "--objective", "seqgan", "--data", tmp_path / "binary.txt")
    assert code == 2 and "Traceback" not in err
    assert [line for line in err.splitlines() if line.strip()] == [
        f"gankit: error: {tmp_path / 'binary.txt'} is not a text file (binary data at byte 0); give a UTF-8 text "
        f"file with one sequence per line"]


def test_eval_text_rejects_image_runs(tmp_path, capsys):
    assert main(["train", "--data", "fake", "--steps", "1", "--out", str(tmp_path / "img"), "--batch-size", "4",
                 "--no-progress", "data.image_size=16", "net.z_dim=4", "net.g_width=4", "net.d_width=4",
                 "train.tensorboard=false", "train.grid=4"]) == 0
    capsys.readouterr()
    assert main(["eval-text", str(tmp_path / "img")]) == 2
    assert "is not a text generator (gan); use gankit eval for images" in capsys.readouterr().err


def test_help_and_list(capsys):
    with pytest.raises(SystemExit):
        main(["eval-text", "--help"])
    out = capsys.readouterr().out
    assert "nll-oracle" in out and "self-bleu" in out
    assert main(["list", "objectives"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {n} " in out for n in ("mle", "seqgan", "gumbel"))
    assert main(["list", "datasets"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {n} " in out for n in ("words", "fortunes", "oracle", "oracle-small", "txt"))
