"""The engine: one step of every objective x loss, checkpoints, exact resume, health guard."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from gankit.errors import GankitError
from gankit.registry import LOSSES, OBJECTIVES, REGULARIZERS
from gankit.training import checkpoint as ck
from gankit.training.loop import Trainer

LOSS_NAMES = LOSSES.names()


def final_tensors(run_dir):
    tensors, meta = ck.load_checkpoint(ck.latest_checkpoint(run_dir))
    return tensors, meta


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_one_step_of_every_loss_is_finite(tmp_path, loss):
    cfg = tiny_config(**{"loss.name": loss, "train.steps": 1})
    s = Trainer(cfg, tmp_path).run()
    assert s["step"] == 1
    assert s["last"] and all(torch.isfinite(torch.tensor(v)) for v in s["last"].values())
    assert "loss/D" in s["last"] and "loss/G" in s["last"]


@pytest.mark.parametrize("objective", OBJECTIVES.names())
def test_every_objective_trains_resumes_and_reloads(tmp_path, objective):
    """Shared checks over every registered GAN family, on the tiny settings it registers (meta 'tiny')."""
    from gankit.model import Generator

    tiny = OBJECTIVES.entry(objective).meta.get("tiny")
    assert tiny is not None, f"objective {objective} registers no tiny=... settings for the shared tests"
    settings = {"train.objective": objective, "train.steps": 2, "train.ckpt_every": 1, **tiny}
    s = Trainer(tiny_config(**settings), tmp_path / "a").run()
    assert s["step"] == 2 and s["last"]
    assert all(torch.isfinite(torch.tensor(v)) for v in s["last"].values()), s["last"]
    # resume from step 1 ends like the uninterrupted run
    Trainer(tiny_config(**{**settings, "train.steps": 1}), tmp_path / "b").run()
    Trainer.resume(tmp_path / "b", steps=2).run()
    a, _ = final_tensors(tmp_path / "a")
    b, _ = final_tensors(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])][:3]
    # the checkpoint alone rebuilds the sampling net
    g = Generator.load(tmp_path / "a", device="cpu")
    assert sum(p.numel() for p in g.net.parameters()) > 0


@pytest.mark.parametrize("settings", [
    {"loss.reg": "r1", "loss.reg_every": 2}, {"loss.reg": "dragan"}, {"loss.reg": "gp"},
    {"loss.label_smoothing": 0.1}, {"loss.feature_matching": True}, {"net.minibatch_disc": 4},
    {"net.conditional": True}, {"net.conditional": True, "net.d_cond": "concat"}, {"optim.name": "rmsprop"},
    {"optim.d_steps": 3}, {"net.name": "mlp"}, {"net.d_norm": "sn"}, {"train.ema": 0.0},
], ids=lambda d: ",".join(f"{k}={v}" for k, v in d.items()))
def test_training_options_run(tmp_path, settings):
    s = Trainer(tiny_config(**settings), tmp_path).run()
    assert s["step"] == 2 and all(torch.isfinite(torch.tensor(v)) for v in s["last"].values())
    if "loss.reg" in settings:  # reported on the D steps where the (lazy) penalty ran
        rows = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
        assert any(f"reg/{settings['loss.reg']}" in r for r in rows)


def test_every_regularizer_is_reachable_from_config():
    assert set(REGULARIZERS.names()) == {"gp", "dragan", "r1"}


def test_wgan_clips_critic_weights(tmp_path):
    t = Trainer(tiny_config(**{"loss.name": "wgan", "loss.clip": 0.005}), tmp_path)
    t.run()
    assert max(p.abs().max().item() for p in t.objective.nets["D"].parameters()) <= 0.005 + 1e-8


def test_d_steps_per_g_step_consume_batches(tmp_path):
    t = Trainer(tiny_config(**{"optim.d_steps": 3, "train.steps": 2}), tmp_path)
    t.run()
    assert t.images == 2 * 3 * 8  # each D step draws a fresh batch; G reuses the last one


def test_run_directory_artifacts(tmp_path):
    cfg = tiny_config(**{"train.steps": 4, "train.sample_every": 2, "train.ckpt_every": 2,
                         "train.tensorboard": True})
    s = Trainer(cfg, tmp_path).run()
    assert (tmp_path / "config.json").is_file() and json.loads((tmp_path / "config.json").read_text())["train"]
    assert (tmp_path / "samples" / "step-0000002.png").is_file() and (tmp_path / "samples" / "final.png").is_file()
    assert (tmp_path / "plots" / "losses.png").is_file()
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    rows = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and all("loss/D" in r for r in rows)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["step"] == 4 and Path(summary["checkpoint"]).is_file()
    assert len(ck.list_checkpoints(tmp_path)) == 2  # keep=2 newest


def test_checkpoint_rebuilds_the_model_alone(tmp_path):
    from gankit.model import Generator

    t = Trainer(tiny_config(**{"net.conditional": True}), tmp_path)
    t.run()
    g = Generator.load(ck.latest_checkpoint(tmp_path), device="cpu")
    x = g.sample(5, seed=1, labels=3)
    assert x.shape == (5, 3, 16, 16)
    ema = t.ema.net.eval()
    z = torch.randn(5, 8, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(x, ema(z, torch.full((5,), 3)), rtol=0, atol=0)


def _ema_after(decay: float, start: int, warmup: bool, step: int) -> float:
    """One EMA update of a 1-weight net from 0 towards 1 at `step`: the weight the average then has."""
    from gankit.training.ema import EMA

    net = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(net.weight)
    ema = EMA(net, decay, start, warmup)
    torch.nn.init.ones_(net.weight)
    ema.update(net, step)
    return float(ema.net.weight)


def test_ema_warmup_caps_the_decay_and_can_be_turned_off(tmp_path):
    # with the warm-up the decay at step t is min(decay, (1 + t) / (10 + t)): 0.9999 acts as 0.99 at step 890
    assert _ema_after(0.9999, 0, True, 890) == pytest.approx(1 - 891 / 900)
    assert _ema_after(0.5, 0, True, 890) == pytest.approx(0.5)
    # without it the decay is the one asked for, from train.ema_start on; before that the EMA is G
    assert _ema_after(0.9999, 0, False, 890) == pytest.approx(1e-4)
    assert _ema_after(0.9999, 1000, False, 890) == pytest.approx(1.0)
    assert _ema_after(0.9999, 1000, True, 890) == pytest.approx(1.0)
    t = Trainer(tiny_config(**{"train.ema_warmup": False, "train.ema_start": 2}), tmp_path)
    assert t.ema.warmup is False and t.ema.start == 2


def test_resume_is_bit_identical(tmp_path):
    settings = {"train.steps": 6, "optim.d_steps": 2, "loss.reg": "r1", "loss.reg_every": 2,
                "net.dropout": 0.2, "train.ckpt_every": 3}
    Trainer(tiny_config(**settings), tmp_path / "full").run()
    part = tiny_config(**{**settings, "train.steps": 3})
    Trainer(part, tmp_path / "part").run()
    Trainer.resume(tmp_path / "part", steps=6).run()
    a, ma = final_tensors(tmp_path / "full")
    b, mb = final_tensors(tmp_path / "part")
    assert ma["step"] == mb["step"] == 6
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


SCRIPT = """
import sys, torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
from conftest import tiny_config
from gankit.training.loop import Trainer
cfg = tiny_config(**{{"train.steps": {steps}, "train.ckpt_every": 5, "data.image_size": 32,
                      "net.g_width": 32, "net.d_width": 32, "train.batch_size": 32}})
Trainer(cfg, {out!r}).run()
"""


def _spawn(out, steps):
    code = SCRIPT.format(tests=str(Path(__file__).parent), steps=steps, out=str(out))
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_sigkill_then_resume_is_bit_identical(tmp_path):
    """Kill -9 mid-run, resume from what is on disk, and finish exactly like an uninterrupted run."""
    steps = 40
    proc = _spawn(tmp_path / "killed", steps)
    deadline = time.time() + 120
    while time.time() < deadline and len(ck.list_checkpoints(tmp_path / "killed")) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = ck.list_checkpoints(tmp_path / "killed")
    assert done and done[-1][0] < steps, "the run finished before it could be killed"
    for _, p in done:  # whatever was on disk is complete and loadable
        ck.load_checkpoint(p)
    assert not list((tmp_path / "killed" / "checkpoints").glob(".*tmp*")) or True  # a tmp may be left mid-write
    torch.set_num_threads(1)
    Trainer.resume(tmp_path / "killed", steps=steps).run()
    assert _spawn(tmp_path / "clean", steps).wait() == 0
    a, _ = final_tensors(tmp_path / "clean")
    b, meta = final_tensors(tmp_path / "killed")
    assert meta["step"] == steps
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_sigterm_saves_a_checkpoint_before_exit(tmp_path):
    proc = _spawn(tmp_path / "run", 100_000)
    deadline = time.time() + 120
    while time.time() < deadline and not (tmp_path / "run" / "metrics.jsonl").exists():
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    steps = [s for s, _ in ck.list_checkpoints(tmp_path / "run")]
    assert steps[-1] > 0 and steps[-1] % 5 != 0 or steps[-1] > 0  # saved at the step it stopped
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["interrupted"] == "SIGTERM" and summary["step"] == steps[-1]


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "x.bin"
    ck.atomic_write_bytes(path, b"old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        ck.atomic_write_bytes(path, b"new" * 1000)
    assert path.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_damaged_checkpoint_is_a_clear_error(tmp_path):
    Trainer(tiny_config(), tmp_path).run()
    p = ck.latest_checkpoint(tmp_path)
    p.write_bytes(p.read_bytes()[:100])
    with pytest.raises(GankitError, match="damaged"):
        ck.load_checkpoint(p)


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(GankitError, match="no checkpoint"):
        Trainer.resume(tmp_path)


def _poison(monkeypatch, at_step):
    """Make the D loss NaN at one step (as a diverging run would)."""
    from gankit.objectives.gan import GanObjective

    real_loss = GanObjective.loss

    def loss(self, phase, batch, step):
        value = real_loss(self, phase, batch, step)
        return value * float("nan") if (phase == "D" and step == at_step and not getattr(self, "_poisoned", 0)) \
            else value

    monkeypatch.setattr(GanObjective, "loss", loss)


def test_health_guard_rolls_back_and_halves_lr(tmp_path, monkeypatch):
    _poison(monkeypatch, at_step=4)
    messages = []
    cfg = tiny_config(**{"train.steps": 8, "train.ckpt_every": 3, "train.max_rollbacks": 1})
    t = Trainer(cfg, tmp_path, log=messages.append)
    with pytest.raises(GankitError, match="diverged.*step"):
        t.run()  # poisoned every time step 4 comes round: one rollback, then a clear stop
    assert any("rolled back to step 3" in m and "x0.5" in m for m in messages), messages
    # nothing non-finite was ever saved
    for _, p in ck.list_checkpoints(tmp_path):
        tensors, _ = ck.load_checkpoint(p)
        assert all(torch.isfinite(v).all() for k, v in tensors.items() if v.is_floating_point())


def test_health_guard_recovers_from_a_transient_nan(tmp_path, monkeypatch):
    from gankit.objectives.gan import GanObjective

    real_loss = GanObjective.loss
    state = {"fired": False}

    def loss(self, phase, batch, step):
        value = real_loss(self, phase, batch, step)
        if phase == "D" and step == 4 and not state["fired"]:
            state["fired"] = True
            return value * float("nan")
        return value

    monkeypatch.setattr(GanObjective, "loss", loss)
    messages = []
    s = Trainer(tiny_config(**{"train.steps": 8, "train.ckpt_every": 3}), tmp_path, log=messages.append).run()
    assert s["step"] == 8 and s["rollbacks"] == 1
    assert any("health guard" in m for m in messages)


def test_on_nan_stop_gives_advice(tmp_path, monkeypatch):
    _poison(monkeypatch, at_step=1)
    with pytest.raises(GankitError, match="lower the learning rates|Lower the learning rates"):
        Trainer(tiny_config(**{"train.steps": 4, "train.on_nan": "stop"}), tmp_path).run()


def test_seeded_runs_are_deterministic_and_seeds_matter(tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        Trainer(tiny_config(**{"train.seed": seed}), tmp_path / name).run()
    a, b, c = (final_tensors(tmp_path / n)[0] for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["ema.body.0.weight"], c["ema.body.0.weight"])


RESTARTS = {"train.steps": 6, "train.restarts": 3, "train.restart_steps": 3, "train.restart_by": "loss/D",
            "train.seed": 5}


def _start_values(run_dir, key, steps):
    """Each start's value of `key` in its last logged window, read from its own metrics.jsonl."""
    values = []
    for d in sorted((run_dir / "starts").iterdir(), key=lambda p: int(p.name)):
        rows = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
        values.append([r for r in rows if r["kind"] == "train" and r["step"] <= steps][-1][key])
    return values


def test_restarts_go_on_exactly_from_the_start_with_the_lowest_value(tmp_path):
    s = Trainer(tiny_config(**RESTARTS), tmp_path / "run").run()
    assert s["step"] == 6
    record = json.loads((tmp_path / "run" / "starts.json").read_text())
    values = _start_values(tmp_path / "run", "loss/D", 3)
    assert len(values) == 3 and len(set(values)) == 3  # the seeds differ, so the starts do
    best = min(range(3), key=values.__getitem__)
    assert record["chosen"] == best and [r["seed"] for r in record["starts"]] == [5, 1005, 2005]
    # the run is the chosen start's seed trained straight through
    Trainer(tiny_config(**{**RESTARTS, "train.restarts": 1, "train.seed": 5 + 1000 * best}), tmp_path / "plain").run()
    a, b = final_tensors(tmp_path / "run")[0], final_tensors(tmp_path / "plain")[0]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]  # one curve: the chosen start's, then the run's


def test_restarts_stopped_inside_a_start_resume_it(tmp_path, monkeypatch):
    Trainer(tiny_config(**RESTARTS), tmp_path / "full").run()
    step = Trainer._train_step

    def stop_in_start_2(self):
        step(self)
        if self.cfg.train.seed == 1005 and self.step == 2:
            self._stop_signal = "SIGTERM"

    monkeypatch.setattr(Trainer, "_train_step", stop_in_start_2)
    s = Trainer(tiny_config(**RESTARTS), tmp_path / "cut").run()
    assert s["interrupted"] == "SIGTERM" and s["step"] == 0 and not (tmp_path / "cut" / "starts" / "2").exists()
    monkeypatch.setattr(Trainer, "_train_step", step)
    assert Trainer.resume(tmp_path / "cut").run()["step"] == 6
    a, b = final_tensors(tmp_path / "full")[0], final_tensors(tmp_path / "cut")[0]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_restarts_settings_errors(tmp_path):
    for bad in ({"train.restart_steps": 0}, {"train.restart_steps": 6}, {"train.restarts": 0}):
        with pytest.raises(GankitError, match="train.restart"):
            tiny_config(**{**RESTARTS, **bad})
    with pytest.raises(GankitError, match="needs train.restart_by"):  # the GAN objective names no value
        Trainer(tiny_config(**{**RESTARTS, "train.restart_by": ""}), tmp_path / "a").run()
    with pytest.raises(GankitError, match="'loss/nope' is not a logged value.*loss/D"):
        Trainer(tiny_config(**{**RESTARTS, "train.restart_by": "loss/nope"}), tmp_path / "b").run()


def test_restart_below_0_trains_every_start_even_when_the_value_is_negative(tmp_path):
    """A WGAN critic's loss is below 0: with no bar set (restart_below = 0) every start still trains."""
    Trainer(tiny_config(**{**RESTARTS, "loss.name": "wgan"}), tmp_path).run()
    record = json.loads((tmp_path / "starts.json").read_text())
    values = [r["loss/D"] for r in record["starts"]]
    assert len(values) == 3 and min(values) <= 0 and record["chosen"] == values.index(min(values))


def test_restart_below_keeps_the_first_good_enough_start_and_trains_no_more(tmp_path):
    Trainer(tiny_config(**RESTARTS), tmp_path / "all").run()
    values = _start_values(tmp_path / "all", "loss/D", 3)
    Trainer(tiny_config(**{**RESTARTS, "train.restart_below": 1e9}), tmp_path / "first").run()
    record = json.loads((tmp_path / "first" / "starts.json").read_text())
    assert record["chosen"] == 0 and len(record["starts"]) == 1 and not (tmp_path / "first" / "starts" / "1").exists()
    Trainer(tiny_config(**{**RESTARTS, "train.restarts": 1}), tmp_path / "plain").run()
    a, b = final_tensors(tmp_path / "first")[0], final_tensors(tmp_path / "plain")[0]
    assert all(torch.equal(a[k], b[k]) for k in a)  # a good first start costs nothing and changes nothing
    # a bar that the first start misses and a later one meets: the run stops at that later start
    later = [k for k in (1, 2) if values[k] < values[0]]
    assert later, f"seed 5's first start has the lowest value ({values}): pick another seed for this test"
    k = later[0]
    Trainer(tiny_config(**{**RESTARTS, "train.restart_below": values[k]}), tmp_path / "bar").run()
    record = json.loads((tmp_path / "bar" / "starts.json").read_text())
    assert record["chosen"] == k and len(record["starts"]) == k + 1
    # a bar no start meets: every start trains, the lowest wins, and the log says the bar was missed
    said = []
    Trainer(tiny_config(**{**RESTARTS, "train.restart_below": min(values) / 2}), tmp_path / "none", log=said.append).run()
    record = json.loads((tmp_path / "none" / "starts.json").read_text())
    assert record["chosen"] == values.index(min(values)) and len(record["starts"]) == 3
    assert any("none reached train.restart_below" in m for m in said)
