"""torchrun with 2 CPU processes (gloo) follows the single-process run with the same global batch."""
import json
import re
import shutil
import subprocess
import sys
import warnings

import torch

from gankit.training import checkpoint as ck

ARGS = ["--data", "fake", "--steps", "4", "--batch-size", "16", "--seed", "3", "--no-progress",
        "data.image_size=16", "net.z_dim=8", "net.g_width=8", "net.d_width=8", "net.g_norm=none",
        "net.d_norm=none", "train.tensorboard=false", "train.grid=4", "train.ckpt_every=2", "train.device=cpu"]
# SGD: its update is linear in the gradient, so float-level differences in the all-reduced mean stay
# float-level (Adam's first steps are ~lr * sign(g) and turn 1e-9 differences of near-zero gradients
# into lr-sized ones).
SGD = ["optim.name=sgd", "optim.lr_g=0.05", "optim.lr_d=0.05"]


def rank_logs(log_dir) -> str:
    """Every rank's stderr tail, as torchrun's --log-dir kept it (its console output shows only the
    first failure's traceback, not the rank that died)."""
    return "\n".join(f"--- {f.relative_to(log_dir)}:\n{f.read_text()[-2000:]}"
                     for f in sorted(log_dir.glob("*/attempt_*/*/stderr.log")))


def torchrun(tmp_path, name: str, port: int, args: list, run) -> subprocess.CompletedProcess:
    """`torchrun --nproc-per-node 2 -m gankit train ARGS` on gloo, each rank's output kept. A rank
    killed by a signal (gloo's TCP transport once aborted a rank, SIGABRT, on a loaded CI machine)
    gets one more try, from the run directory as it was before the first, with a warning that
    carries the ranks' logs; a failure with an exit status of our own, or a second crash, fails."""
    kept = tmp_path / f"{name}-before"
    if run.exists():
        shutil.copytree(run, kept)
    for attempt in (1, 2):
        logs = tmp_path / f"{name}-logs-{attempt}"
        proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                               "--master-port", str(port), "--log-dir", str(logs), "--tee", "3",
                               "-m", "gankit", "train", *args], capture_output=True, text=True, timeout=300)
        crashed = re.search(r"exitcode\s*:\s*-\d+", proc.stderr)
        if proc.returncode == 0 or not crashed or attempt == 2:
            assert proc.returncode == 0, proc.stderr[-3000:] + "\n" + rank_logs(logs)
            return proc
        warnings.warn(f"torchrun: a rank was killed by a signal, running again\n{rank_logs(logs)}")
        shutil.rmtree(run, ignore_errors=True)
        if kept.exists():
            shutil.copytree(kept, run)


def test_two_gloo_processes_match_one_process(tmp_path):
    one = subprocess.run([sys.executable, "-m", "gankit", "train", "--out", str(tmp_path / "one"), *ARGS, *SGD],
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    torchrun(tmp_path, "two", 29531, ["--out", str(tmp_path / "two"), *ARGS, *SGD], tmp_path / "two")
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
    torchrun(tmp_path, "first", 29532, ["--out", str(run), *ARGS], run)
    again = torchrun(tmp_path, "again", 29532, ["--resume", str(run), "--steps", "6", "--no-progress"], run)
    assert "from step 4" in again.stdout + again.stderr
    assert json.loads((run / "summary.json").read_text())["step"] == 6
