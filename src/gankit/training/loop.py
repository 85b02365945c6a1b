"""The training loop: phases, optimisers, EMA, logging, samples, checkpoints, resume, health guard.

It knows no GAN family: the objective says which phases exist and computes their losses.
Losses stay on the device between log steps (no host sync per step).
"""
from __future__ import annotations

import json
import math
import os
import signal
import time
from pathlib import Path

import torch

from .. import __version__
from ..config import RunConfig
from ..data import BatchStream, load_data
from ..errors import GankitError
from ..objectives import DataInfo
from ..registry import NETS, OBJECTIVES
from ..viz import plot_curves
from . import checkpoint as ck
from . import distributed
from .ema import EMA
from .stats import Collector, report


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GankitError(f"--device {name} was asked for, but no CUDA GPU is visible; use --device cpu or auto")
    try:
        return torch.device(name)
    except RuntimeError:
        raise GankitError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")


def make_optimizer(cfg, params, lr: float, fused: bool = False) -> torch.optim.Optimizer:
    """Adam, RMSprop or SGD (momentum beta1); `fused` (one kernel for all parameters) on CUDA."""
    extra = {"fused": True} if fused else {}
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), **extra)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.beta1, **extra)
    return torch.optim.RMSprop(params, lr=lr, **extra)


def build_objective(cfg: RunConfig, info: DataInfo):
    return OBJECTIVES.get(cfg.train.objective)(cfg, info)


class Trainer:
    """Trains one run in `run_dir`. `Trainer(cfg, dir).run()` starts; `Trainer.resume(dir).run()` continues."""

    def __init__(self, cfg: RunConfig, run_dir: Path, log=print, data=None):
        self.cfg, self.run_dir = cfg, Path(run_dir)
        self.device = distributed.init(cfg.train.device) or resolve_device(cfg.train.device)
        self.main = distributed.is_main()  # rank 0 (or the only process) writes files and logs
        self.log = log if self.main else (lambda msg: None)
        torch.manual_seed(cfg.train.seed)
        sizes = NETS.entry(cfg.net.name).meta.get("sizes")
        self.data = data if data is not None else load_data(cfg.data, sizes=sizes, log=self.log)
        info = OBJECTIVES.get(cfg.train.objective).data_info(self.data)
        self.objective = build_objective(cfg, info)
        self.objective.attach(self.data)
        if cfg.train.sync_bn and distributed.world() > 1:
            if self.device.type != "cuda":
                raise GankitError("train.sync_bn needs CUDA GPUs (PyTorch's SyncBatchNorm does not run on the CPU); "
                                  "drop it, or use nets without BatchNorm (net.g_norm=none net.d_norm=none)")
            for name in list(self.objective.nets):
                self.objective.nets[name] = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.objective.nets[name])
        self.objective.nets.to(self.device).train()
        # The fast path (automatic on CUDA): bf16 autocast, NHWC convs, fused optimisers, TF32.
        cuda = self.device.type == "cuda"
        self.amp_dtype = torch.bfloat16 if cfg.train.amp == "bf16" or (cfg.train.amp == "auto" and cuda) else None
        self.channels_last = cfg.train.channels_last == "on" or (cfg.train.channels_last == "auto" and cuda)
        if self.channels_last:
            self.objective.nets.to(memory_format=torch.channels_last)
        if cuda:
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        groups = self.objective.param_groups()
        self._groups = groups  # ordered: the all-reduce packs gradients in this order on every rank
        self._trained = {n: set(p) for n, p in groups.items()}
        self.base_lr = self.objective.learning_rates()
        self.opts = {n: make_optimizer(cfg.optim, p, self.base_lr[n], fused=cuda) for n, p in groups.items()}
        ema_net = self.objective.nets[self.objective.ema_net]
        self.ema = EMA(ema_net, cfg.train.ema, cfg.train.ema_start, cfg.train.ema_warmup) if cfg.train.ema > 0 else None
        distributed.local_batch(cfg.train.batch_size)  # checks the global batch splits over the ranks
        self.stream = BatchStream(self.data, cfg.train.batch_size, cfg.train.seed, self.device,
                                  channels_last=self.channels_last, rank=distributed.rank(),
                                  world=distributed.world())
        if cfg.train.compile:
            for net in self.objective.nets.values():
                net.compile()  # in place: state_dict keys (and so checkpoints) are unchanged
        self.fixed = self.objective.fixed_inputs(cfg.train.grid, cfg.train.seed + 12345, self.device)
        self.step, self.images, self.elapsed = 0, 0, 0.0
        self.lr_scale, self.rollbacks = 1.0, 0
        self.best: float | None = None  # best value of the first eval metric (lower is better)
        self._stop_signal: str | None = None
        self._agreed_stop = False  # under torchrun, ranks stop together at a log step

    def _should_stop(self) -> bool:
        return self._agreed_stop if distributed.world() > 1 else self._stop_signal is not None

    # ------------------------------------------------------------------------------------------
    # checkpoint state

    def state(self) -> tuple[dict, dict]:
        tensors: dict[str, torch.Tensor] = {}
        for name, net in self.objective.nets.items():
            for k, v in net.state_dict().items():
                tensors[f"nets.{name}.{k}"] = v.detach().cpu().contiguous().clone()
        if self.ema is not None:
            for k, v in self.ema.net.state_dict().items():
                tensors[f"ema.{k}"] = v.detach().cpu().contiguous().clone()
        optim = {n: ck.pack_optimizer(n, opt, tensors) for n, opt in self.opts.items()}
        tensors["rng.cpu"] = torch.get_rng_state()
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        meta = {
            "gankit_version": __version__, "torch_version": torch.__version__,
            "step": self.step, "images": self.images, "elapsed": self.elapsed,
            "config": self.cfg.to_dict(), "data_info": self.objective.info.to_dict(),
            "objective": self.objective.extra_state(), "optim": optim, "stream": self.stream.state_dict(),
            "lr_scale": self.lr_scale, "rollbacks": self.rollbacks, "ema_net": self.objective.ema_net,
            "best": self.best,
        }
        return tensors, meta

    def load_state(self, tensors: dict, meta: dict) -> None:
        for name, net in self.objective.nets.items():
            prefix = f"nets.{name}."
            net.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
        if self.ema is not None:
            self.ema.net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
        for n, opt in self.opts.items():
            opt.load_state_dict(ck.unpack_optimizer(n, meta["optim"][n], tensors))
        torch.set_rng_state(tensors["rng.cpu"])
        if self.device.type == "cuda" and "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        self.objective.load_extra_state(meta.get("objective", {}))
        self.stream.load_state_dict(meta["stream"])
        self.step, self.images, self.elapsed = meta["step"], meta["images"], meta["elapsed"]
        self.lr_scale, self.rollbacks = meta.get("lr_scale", 1.0), meta.get("rollbacks", 0)
        self.best = meta.get("best")
        self._apply_lr()

    def lr_factor(self) -> float:
        """Constant, then linear decay to 0 from optim.decay_start * steps (CycleGAN's schedule)."""
        total, start = self.cfg.train.steps, self.cfg.optim.decay_start * self.cfg.train.steps
        if self.step < start or start >= total:
            return 1.0
        return max(0.0, 1.0 - (self.step - start) / (total - start))

    def _apply_lr(self) -> None:
        f = self.lr_scale * self.lr_factor()
        for n, opt in self.opts.items():
            for group in opt.param_groups:
                group["lr"] = self.base_lr[n] * f

    def save(self) -> Path:
        self._check_weights()
        path = ck.checkpoint_path(self.run_dir, self.step)
        if self.main:
            tensors, meta = self.state()
            ck.save_checkpoint(path, tensors, meta)
            ck.prune(self.run_dir, self.cfg.train.keep)
        distributed.barrier()  # every rank may read it back (rollback) once it is complete
        return path

    @classmethod
    def resume(cls, run_dir: Path, steps: int | None = None, overrides: dict | None = None, log=print, data=None):
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise GankitError(f"cannot resume: {run_dir} is not a directory")
        path = ck.latest_checkpoint(run_dir)
        if path is None:
            raise GankitError(f"cannot resume: no checkpoint in {run_dir / 'checkpoints'}; start a new run with "
                              f"gankit train --out {run_dir}")
        tensors, meta = ck.load_checkpoint(path)
        cfg = RunConfig.from_dict(meta["config"])
        if steps is not None:
            cfg.train.steps = steps
        for k, v in (overrides or {}).items():
            setattr(cfg.train, k, v)
        trainer = cls(cfg, run_dir, log=log, data=data)
        trainer.load_state(tensors, meta)
        log(f"resuming {run_dir} from step {trainer.step} ({path.name}) to step {cfg.train.steps}")
        return trainer

    # ------------------------------------------------------------------------------------------
    # the loop

    def _check_weights(self) -> None:
        bad = [n for n, net in self.objective.nets.items()
               if not torch.stack([p.isfinite().all() for p in net.parameters()]).all()]
        if bad:
            self._diverged(f"non-finite weights in {', '.join(bad)}")

    def _diverged(self, what: str) -> None:
        """Roll back to the last good checkpoint with halved learning rates, or stop with advice."""
        cfg = self.cfg.train
        last = ck.latest_checkpoint(self.run_dir)
        if cfg.on_nan == "rollback" and self.rollbacks < cfg.max_rollbacks and last is not None:
            tensors, meta = ck.load_checkpoint(last)
            failed_step = self.step
            rollbacks = self.rollbacks + 1
            self.load_state(tensors, meta)
            self.rollbacks, self.lr_scale = rollbacks, self.lr_scale * 0.5
            self._apply_lr()
            self.log(f"health guard: {what} at step {failed_step}; rolled back to step {self.step} "
                     f"({last.name}) with learning rates x{self.lr_scale:g} (rollback {rollbacks}/{cfg.max_rollbacks})")
            raise _RolledBack()
        where = f"; the last good checkpoint is {last}" if last else ""
        raise GankitError(f"training diverged: {what} at step {self.step}{where}. Lower the learning rates "
                          f"(optim.lr_d, optim.lr_g), add a penalty (loss.reg=r1) or try --loss hinge")

    def _train_step(self) -> None:
        if self.cfg.optim.decay_start < 1.0:
            self._apply_lr()
        batch = None
        for phase in self.objective.phases():
            opt = self.opts[phase.name]
            trained = self._trained[phase.name].union(*(self._trained[g] for g in phase.also_grad))
            for p in self.objective.nets.parameters():
                p.requires_grad_(p in trained)
            for _ in range(phase.repeat):
                if phase.fresh_batch or batch is None:
                    batch = self.stream.next()
                    self.images += batch[0].shape[0] * distributed.world()
                with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.bfloat16,
                                    enabled=self.amp_dtype is not None):
                    loss = self.objective.loss(phase.name, batch, self.step)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                distributed.average_gradients(self._groups[phase.name])
                opt.step()
                self.objective.after_step(phase.name)
        for p in self.objective.nets.parameters():
            p.requires_grad_(True)
        if self.ema is not None:
            self.ema.update(self.objective.nets[self.objective.ema_net], self.step)
        self.step += 1

    def sampler_net(self) -> torch.nn.Module:
        return self.ema.net if self.ema is not None else self.objective.nets[self.objective.ema_net]

    @torch.no_grad()
    def save_samples(self, name: str) -> Path:
        G = self.sampler_net()
        was_training = G.training
        G.eval()
        try:
            out = self.objective.generate(G, self.fixed)
        finally:
            G.train(was_training)
        if out.dim() == 2 and out.is_floating_point() and out.shape[1] == 2:  # 2D toy data: 2,500 points
            out = self.objective.generate(G, self.objective.fixed_inputs(2500, self.cfg.train.seed + 1, self.device))
        return self.objective.save_samples(out, self.run_dir / "samples" / name, self.data,
                                           title=f"{self.data.name} step {self.step}")

    def run(self, until: int | None = None) -> dict:
        """Train to train.steps (or stop at step `until`: a start of train.restarts)."""
        from tqdm.auto import tqdm

        cfg = self.cfg.train
        stop = cfg.steps if until is None else min(until, cfg.steps)
        if self.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            ck.atomic_write_text(self.run_dir / "config.json", self.cfg.to_json())
        metrics_path = self.run_dir / "metrics.jsonl"
        handlers = self._install_signals()
        if self.step == 0:
            self.save()  # step 0: a known-good state to roll back to (every rank decides alike)
        if self.step == 0 and cfg.restarts > 1:
            try:
                self._pick_start()  # each start installs (and restores) its own signal handlers
            except BaseException:
                self._restore_signals(handlers)
                raise
        writer = self._tensorboard() if self.main else None
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not (cfg.progress and self.main), dynamic_ncols=True,
                   mininterval=1.0, desc="train", unit="step")
        t_mark, img_mark, start_step, last_values = time.perf_counter(), self.images, self.step, {}
        try:
            with Collector() as stats, open(metrics_path if self.main else os.devnull, "a") as metrics_file:
                while self.step < stop and not self._should_stop():
                    try:
                        self._train_step()
                        bar.update(1)
                        at_ckpt = self.step % cfg.ckpt_every == 0 or self.step == stop
                        if self.step % cfg.log_every == 0 or at_ckpt:
                            values = stats.flush()
                            now = time.perf_counter()
                            self.elapsed += now - t_mark
                            rate = (self.images - img_mark) / max(now - t_mark, 1e-9)
                            t_mark, img_mark = now, self.images
                            bad = [k for k, v in values.items() if not math.isfinite(v)]
                            if distributed.any_rank(bool(bad), self.device):
                                bad = bad or ["loss on another rank"]
                                self._diverged(f"non-finite {', '.join(bad)}")
                            record = {"kind": "train", "step": self.step, "images": self.images,
                                      "time": round(self.elapsed, 3), "img_per_s": round(rate, 1), **values}
                            metrics_file.write(json.dumps(record) + "\n")
                            metrics_file.flush()
                            last_values = values
                            if writer is not None:
                                for k, v in record.items():
                                    if k not in ("kind", "step"):
                                        writer.add_scalar(k, v, self.step)
                            if distributed.any_rank(self._stop_signal is not None, self.device):
                                self._stop_signal = self._stop_signal or "SIGTERM (another rank)"
                                self._agreed_stop = True
                            bar.set_postfix({k.split("/")[-1]: f"{v:.3g}" for k, v in values.items()
                                             if k.startswith("loss/")} | {"img/s": f"{rate:.0f}"}, refresh=False)
                        if self.step % cfg.sample_every == 0 and self.main:
                            p = self.save_samples(f"step-{self.step:07d}")
                            if writer is not None and p.suffix == ".png" and p.is_file():
                                self._tb_image(writer, p)
                        if cfg.eval_every and (self.step % cfg.eval_every == 0 or self.step == cfg.steps):
                            self.run_eval(metrics_file, writer)
                        if at_ckpt:
                            self.save()
                            if self.main:
                                plot_curves(metrics_path, self.run_dir / "plots" / "losses.png")
                    except _RolledBack:
                        stats.flush()
                        t_mark, img_mark = time.perf_counter(), self.images
                        bar.reset(total=cfg.steps)
                        bar.update(self.step)
                if self._stop_signal is not None:
                    self.elapsed += time.perf_counter() - t_mark
                    stats.flush()
                    self.save()
        finally:
            bar.close()
            self._restore_signals(handlers)
            if writer is not None:
                writer.close()
        return self._finish(start_step, last_values)

    def _pick_start(self) -> None:
        """train.restarts: train starts k = 0, 1, ... (seed + 1000 k) for train.restart_steps each, in
        RUN/starts/k (ordinary run directories: an interrupted start resumes there), and go on from
        the one with the lowest restart_by in its last logged window, or (train.restart_below > 0)
        from the first one at or below restart_below, training no more starts: a good first start
        then costs nothing. The run continues the chosen start exactly; RUN/starts.json records
        every start's value and the choice."""
        cfg = self.cfg.train
        if distributed.world() > 1:
            raise GankitError("train.restarts trains its starts on one process; run it without torchrun")
        key = cfg.restart_by or self.objective.restart_key
        if not key:
            raise GankitError(f"train.restarts needs train.restart_by, the logged value that picks a start (the "
                              f"{cfg.objective} objective names none, e.g. loss/G_glo for sequence GLO)")
        def good_enough(r: dict) -> bool:  # restart_below = 0 sets no bar (a loss may well be <= 0)
            return cfg.restart_below > 0 and r[key] is not None and r[key] <= cfg.restart_below

        starts = []
        for k in range(cfg.restarts):
            d = self.run_dir / "starts" / str(k)
            if ck.latest_checkpoint(d) is not None:
                t = Trainer.resume(d, log=self.log, data=self.data)
            else:
                sub = RunConfig.from_dict(self.cfg.to_dict())
                sub.train.seed, sub.train.restarts = cfg.seed + 1000 * k, 1
                t = Trainer(sub, d, log=self.log, data=self.data)
            self.log(f"restarts: start {k + 1}/{cfg.restarts} (seed {t.cfg.train.seed}) to step {cfg.restart_steps}")
            s = t.run(until=cfg.restart_steps)
            if s["interrupted"]:
                self._stop_signal = s["interrupted"]
                return
            logged = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines() if line.strip()]
            last = [r for r in logged if r.get("kind") == "train" and r["step"] <= cfg.restart_steps]
            if not last or key not in last[-1]:
                raise GankitError(f"train.restart_by={key!r} is not a logged value of this run; pick one of: "
                                  f"{', '.join(name for name in (last[-1] if last else {}) if '/' in name)}")
            v = float(last[-1][key])
            starts.append({"start": k, "seed": t.cfg.train.seed, key: v if math.isfinite(v) else None,
                           "seconds": t.elapsed, "dir": str(d)})
            if good_enough(starts[-1]):
                break
        best = min(starts, key=lambda r: (r[key] is None, r[key] if r[key] is not None else 0.0))
        d = Path(best["dir"])
        tensors, meta = ck.load_checkpoint(ck.checkpoint_path(d, cfg.restart_steps))  # written at its last step
        self.load_state(tensors, meta)
        if self.main:
            ck.atomic_write_text(self.run_dir / "metrics.jsonl", (d / "metrics.jsonl").read_text())  # one curve
            ck.atomic_write_text(self.run_dir / "starts.json", json.dumps(
                {"by": key, "steps": cfg.restart_steps, "below": cfg.restart_below, "chosen": best["start"],
                 "starts": starts}, indent=2))
        missed = (f"; none reached train.restart_below={cfg.restart_below:g} (more starts: raise train.restarts)"
                  if cfg.restart_below > 0 and not good_enough(best) else "")
        self.log(f"restarts: going on from start {best['start'] + 1} (seed {best['seed']}), the lowest {key}: "
                 + ", ".join(f"{r[key]:.4g}" if r[key] is not None else "nan" for r in starts) + missed)
        self.save()  # a resume from here on goes on from the chosen start, with no new starts

    def run_eval(self, metrics_file, writer) -> dict | None:
        """Evaluate the sampler net (rank 0), log the numbers, and keep checkpoints/best.safetensors."""
        result = None
        if self.main:
            from ..metrics.extractors import EXTRACTORS  # noqa: F401  (registers the extractors)
            G = self.sampler_net()
            was_training = G.training
            G.eval()
            try:
                result = self.objective.evaluate(G, self.cfg, self.data, self.device, log=self.log)
            finally:
                G.train(was_training)
            values = result["metrics"]
            first = next(iter(values))
            record = {"kind": "eval", "step": self.step, **values, "provenance": result["provenance"]}
            metrics_file.write(json.dumps(record, default=str) + "\n")
            metrics_file.flush()
            if writer is not None:
                for k, v in values.items():
                    if isinstance(v, (int, float)) and v == v:
                        writer.add_scalar(f"eval/{k}", v, self.step)
            v = values[first]
            improved = isinstance(v, (int, float)) and v == v and (self.best is None or v < self.best)
            self.log(f"eval at step {self.step}: " + ", ".join(
                f"{k}={x:.4g}" for k, x in values.items() if isinstance(x, (int, float))) +
                (f" (best {first} so far: saved checkpoints/best.safetensors)" if improved else ""))
            if improved:
                self.best = v
                tensors, meta = self.state()
                meta["eval"] = record
                ck.save_checkpoint(self.run_dir / "checkpoints" / "best.safetensors", tensors, meta)
        distributed.barrier()
        return result

    def _finish(self, start_step: int, last_values: dict) -> dict:
        if not self.main:
            return {"step": self.step, "interrupted": self._stop_signal, "rank": distributed.rank()}
        final = self.save_samples("final")
        curves = plot_curves(self.run_dir / "metrics.jsonl", self.run_dir / "plots" / "losses.png")
        latest = ck.latest_checkpoint(self.run_dir)
        summary = {
            "run_dir": str(self.run_dir), "step": self.step, "target_steps": self.cfg.train.steps,
            "interrupted": self._stop_signal, "images": self.images, "train_seconds": round(self.elapsed, 2),
            "img_per_s": round(self.images / max(self.elapsed, 1e-9), 1), "checkpoint": str(latest),
            "samples": str(final), "curves": str(curves) if curves else None, "last": last_values,
            "rollbacks": self.rollbacks, "device": str(self.device), "best": self.best,
        }
        ck.atomic_write_text(self.run_dir / "summary.json", json.dumps(summary, indent=2))
        return summary

    # ------------------------------------------------------------------------------------------

    def _tensorboard(self):
        if not self.cfg.train.tensorboard:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            self.log("tensorboard is not installed: no TensorBoard events (pip install tensorboard)")
            return None
        return SummaryWriter(str(self.run_dir / "tb"))

    def _tb_image(self, writer, path: Path) -> None:
        import numpy as np
        from PIL import Image

        img = np.asarray(Image.open(path).convert("RGB"))
        writer.add_image("samples", img, self.step, dataformats="HWC")

    def _install_signals(self):
        def handler(signum, frame):
            if self._stop_signal is not None:  # a second Ctrl-C stops at once
                raise KeyboardInterrupt
            self._stop_signal = signal.Signals(signum).name

        old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                old[sig] = signal.signal(sig, handler)
            except ValueError:  # not the main thread
                pass
        return old

    @staticmethod
    def _restore_signals(old) -> None:
        for sig, h in old.items():
            signal.signal(sig, h)


class _RolledBack(Exception):
    """Internal: the health guard restored an earlier state; the loop goes on from there."""
