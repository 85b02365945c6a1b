"""torchrun with 2 CPU processes (gloo) follows the single-process run with the same global batch."""
import json
import subprocess
import sys

import torch

from gankit.training import checkpoint as ck

ARGS = ["--data", "fake", "--steps", "4", "--batch-size", "16", "--seed", "3", "--no-progress",
        "data.image_size=16", "net.z_dim=8", "net.g_width=8", "net.d_width=8", "net.g_norm=none",
        "net.d_norm=none", "train.tensorboard=false", "train.grid=4", "train.ckpt_every=2", "train.device=cpu"]
# SGD: its update is linear in the gradient, so float-level differences in the all-reduced mean stay
# float-level (Adam's first steps are ~lr * sign(g) and turn 1e-9 differences of near-zero gradients
# into lr-sized ones).
SGD = ["optim.name=sgd", "optim.lr_g=0.05", "optim.lr_d=0.05"]


def test_two_gloo_processes_match_one_process(tmp_path):
    one = subprocess.run([sys.executable, "-m", "gankit", "train", "--out", str(tmp_path / "one"), *ARGS, *SGD],
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                          "--master-port", "29531", "-m", "gankit", "train", "--out", str(tmp_path / "two"), *ARGS, *SGD],
                         capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    a, ma = ck.load_checkpoint(ck.latest_checkpoint(tmp_path / "one"))
    b, mb = ck.load_checkpoint(ck.latest_checkpoint(tmp_path / "two"))
    assert ma["step"] == mb["step"] == 4 and mb["images"] == ma["images"] == 4 * 16
    moved = 0
    for k in a:
        if k.startswith(("nets.", "ema.")):
            torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-6, msg=k)
            moved += 1
    assert moved > 10
    # rank 0 alone wrote the logs: one line per log step, not two
    rows = (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in rows] == [2, 4]  # the checkpoint steps (log_every=50)


def test_resume_under_torchrun(tmp_path):
    run = tmp_path / "r"
    base = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29532",
            "-m", "gankit", "train"]
    first = subprocess.run(base + ["--out", str(run), *ARGS], capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    again = subprocess.run(base + ["--resume", str(run), "--steps", "6", "--no-progress"], capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((run / "summary.json").read_text())["step"] == 6
