"""Text objectives: the roll-out reward, the policy-gradient sign, the stage schedule, text.init,
checkpoints and bad input."""
import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from conftest import tiny_config
from gankit.errors import GankitError
from gankit.model import Generator
from gankit.registry import OBJECTIVES
from gankit.text.nets import LSTMGenerator
from gankit.text.objectives import TINY, policy_gradient_loss, rollout_rewards
from gankit.text.tokenizer import EOS, PAD
from gankit.training.loop import Trainer

TEXT_OBJECTIVES = ["gumbel", "mle", "seqgan"]


def text_config(objective="seqgan", **settings):
    return tiny_config(**{**TINY, "train.objective": objective, "train.ema": 0.0, **settings})


class PositionD(nn.Module):
    """A discriminator that only looks at token `pos`: logit +8 if it is `token`, else -8."""

    def __init__(self, pos, token):
        super().__init__()
        self.pos, self.token = pos, token
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return torch.where(x[:, self.pos] == self.token, 8.0, -8.0) + 0 * self.dummy


def test_rollout_reward_shape_range_and_last_column():
    torch.manual_seed(0)
    R = LSTMGenerator(9, 6, 4, 4)
    D = PositionD(pos=2, token=3)
    y = R.sample(5)
    q = rollout_rewards(R, D, y, rollouts=4, eos=None)
    assert q.shape == (5, 6) and ((q > 0) & (q < 1)).all()
    assert_close(q[:, -1], torch.sigmoid(D(y)))
    # roll-outs keep their prefix: once token 2 is fixed, every completion gets the same reward
    for t in (2, 3, 4):
        assert_close(q[:, t], torch.sigmoid(D(y)))


def test_rollouts_estimate_the_chance_of_a_good_completion():
    torch.manual_seed(0)
    R = LSTMGenerator(4, 3, 4, 4)
    with torch.no_grad():  # the last token is 3 with probability 1/2, whatever came before
        R.out.weight.zero_()
        R.out.bias.copy_(torch.log(torch.tensor([1 / 6, 1 / 6, 1 / 6, 1 / 2])))
    y = torch.tensor([[0, 1, 2]]).repeat(4, 1)
    q = rollout_rewards(R, PositionD(pos=2, token=3), y, rollouts=2000, eos=None)
    expected = 0.5 * torch.sigmoid(torch.tensor(8.0)) + 0.5 * torch.sigmoid(torch.tensor(-8.0))
    assert_close(q[:, :2], torch.full((4, 2), float(expected)), atol=0.03, rtol=0)


def test_rollouts_pad_after_eos():
    torch.manual_seed(0)
    R = LSTMGenerator(6, 5, 4, 4, eos=EOS)
    seen = []

    class Spy(nn.Module):
        def forward(self, x):
            seen.append(x)
            return torch.zeros(x.shape[0])

    y = torch.tensor([[4, EOS, PAD, PAD, PAD], [4, 5, 4, 5, 4]])
    rollout_rewards(R, Spy(), y, rollouts=3, eos=EOS)
    completed = torch.cat(seen[:-1])
    ended = completed[(completed == EOS).any(1)]
    for row in ended.tolist():
        assert all(t == PAD for t in row[row.index(EOS) + 1:])
    first = completed.view(4, 3, 2, 5)[:, :, 0]  # roll-outs of the first sequence, whose prefix has <eos>
    assert (first[1:] == y[0]).all()


def test_policy_gradient_raises_the_log_probability_of_rewarded_tokens():
    torch.manual_seed(0)
    G = LSTMGenerator(10, 5, 6, 6)
    y = G.sample(16)
    before = G.token_log_probs(y).detach()

    def after_one_step(q):
        g = LSTMGenerator(10, 5, 6, 6)
        g.load_state_dict(G.state_dict())
        policy_gradient_loss(g, y, q, eos=None).backward()
        with torch.no_grad():
            for p in g.parameters():
                p -= 0.05 * p.grad
        return g.token_log_probs(y).detach()

    for t in range(5):
        q = torch.zeros(16, 5)
        q[:, t] = 1.0  # reward token t only
        assert after_one_step(q)[:, t].mean() > before[:, t].mean(), t
        assert after_one_step(-q)[:, t].mean() < before[:, t].mean(), t  # a penalty lowers it


def test_policy_gradient_ignores_tokens_after_eos():
    torch.manual_seed(0)
    G = LSTMGenerator(6, 4, 4, 4, eos=EOS)
    y = torch.tensor([[4, EOS, PAD, PAD]])
    q = torch.tensor([[0.0, 0.0, 1.0, 1.0]])  # rewards only where nothing is scored
    policy_gradient_loss(G, y, q, eos=EOS).backward()
    assert all(p.grad.abs().sum() == 0 for p in G.parameters())


# ----------------------------------------------------------------------------------------------
# the schedule and the trainer


def phases_by_step(t):
    rows = [json.loads(line) for line in (t.run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: {k for k in r if k.startswith(("loss/", "reward"))} for r in rows}


def test_seqgan_runs_its_stages_in_order(tmp_path):
    cfg = text_config("seqgan", **{"train.steps": 5, "text.pretrain_g": 2, "text.pretrain_d": 1})
    t = Trainer(cfg, tmp_path)
    s = t.run()
    seen = phases_by_step(t)
    assert seen[1] == seen[2] == {"loss/mle"}
    assert seen[3] == {"loss/D"}
    assert seen[4] == seen[5] == {"loss/G", "loss/D", "reward"}
    assert t.images == 8 * (2 + 1 + 2 * (1 + 1))  # each phase draws its batch
    assert s["samples"].endswith("final.txt")
    assert len((tmp_path / "samples" / "final.txt").read_text().splitlines()) == 4  # train.grid


def test_rollout_policy_trails_g(tmp_path):
    cfg = text_config("seqgan", **{"train.steps": 3, "text.pretrain_g": 1, "seqgan.rollout_update": 0.5})
    t = Trainer(cfg, tmp_path)
    t.run()
    G, R = t.objective.nets["G"], t.objective.nets["R"]
    gap = [(r - g).abs().max().item() for r, g in zip(R.parameters(), G.parameters())]
    assert max(gap) > 0  # delayed, not a copy
    optimised = {id(p) for group in t.objective.param_groups().values() for p in group}
    assert not any(id(p) in optimised for p in R.parameters())  # never optimised, only averaged


def test_gumbel_beta_anneals_from_1_to_beta_max(tmp_path):
    cfg = text_config("gumbel", **{"train.steps": 12, "text.pretrain_g": 1, "gumbel.beta_max": 100.0})
    obj = OBJECTIVES.get("gumbel")(cfg, Trainer(cfg, tmp_path).objective.info)
    assert obj.beta(1) == pytest.approx(1.0) and obj.beta(11) == pytest.approx(100.0)
    assert obj.beta(6) == pytest.approx(10.0)  # exponential: halfway in steps is sqrt(beta_max)
    cfg.gumbel.anneal = "linear"
    assert obj.beta(6) == pytest.approx(50.5)


def test_relativistic_logistic_loss_is_rsgan():
    cfg = text_config("gumbel")
    obj = OBJECTIVES.get("gumbel")(cfg, Trainer(cfg, "/tmp/unused-gankit-text").objective.info)
    r, f = torch.randn(7), torch.randn(7)
    assert_close(obj._pair_losses(r, f, for_d=True), F.softplus(-(r - f)).mean())
    assert_close(obj._pair_losses(r, f, for_d=False), F.softplus(-(f - r)).mean())


@pytest.mark.parametrize("objective", TEXT_OBJECTIVES)
def test_seeded_runs_are_deterministic(tmp_path, objective):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        Trainer(text_config(objective, **{"train.seed": seed, "train.steps": 3, "text.pretrain_g": 1}),
                tmp_path / name).run()
    ga, gb, gc = (Generator.load(tmp_path / n, device="cpu") for n in "abc")
    pa, pb, pc = (torch.cat([p.flatten() for p in g.net.parameters()]) for g in (ga, gb, gc))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


@pytest.mark.parametrize("objective", TEXT_OBJECTIVES)
def test_checkpoint_samples_like_the_trained_net(tmp_path, objective):
    t = Trainer(text_config(objective, **{"train.steps": 2, "text.pretrain_g": 1}), tmp_path)
    t.run()
    g = Generator.load(tmp_path, device="cpu")
    a = g.objective.sample_ids(g.net, 6, seed=3)
    b = t.objective.sample_ids(t.objective.nets["G"], 6, seed=3)
    assert a.shape == (6, 10) and torch.equal(a, b)
    assert g.objective.decode(a)[0] == " ".join(str(i) for i in a[0].tolist())  # oracle tokens read as ids


def test_text_init_starts_from_another_run(tmp_path):
    """text.init: G starts as the generator the other run samples with (its EMA when it kept one)."""
    Trainer(text_config("mle", **{"train.steps": 3, "train.ema": 0.5}), tmp_path / "pre").run()
    pre = Generator.load(tmp_path / "pre", device="cpu").net
    raw = Generator.load(tmp_path / "pre", device="cpu", ema=False).net
    assert not all(torch.equal(a, b) for a, b in zip(pre.parameters(), raw.parameters()))
    cfg = text_config("seqgan", **{"train.steps": 1, "text.pretrain_d": 1, "text.init": str(tmp_path / "pre")})
    t = Trainer(cfg, tmp_path / "gan")
    t.run()  # one D step: G is untouched, so it must equal the pre-trained G
    for a, b in zip(pre.parameters(), t.objective.nets["G"].parameters()):
        assert torch.equal(a, b)
    # a checkpoint of the new run loads without the old run (init is applied once, at step 0)
    import shutil

    shutil.rmtree(tmp_path / "pre")
    Generator.load(tmp_path / "gan", device="cpu")


def test_generator_dropout_acts_in_training_only(tmp_path):
    """text.dropout: teacher-forced scores vary between two training-mode passes, not in eval mode;
    the objective samples in eval mode (a pure function of the seed) and leaves G in its mode."""
    t = Trainer(text_config("mle", **{"text.dropout": 0.5}), tmp_path)
    G = t.objective.nets["G"]
    x = t.objective.sample_ids(G, 4, seed=0)
    G.train()
    assert not torch.equal(G.token_log_probs(x), G.token_log_probs(x))
    assert torch.equal(t.objective.sample_ids(G, 6, seed=1), t.objective.sample_ids(G, 6, seed=1)) and G.training
    G.eval()
    assert torch.equal(G.token_log_probs(x), G.token_log_probs(x))
    plain = Trainer(text_config("mle"), tmp_path / "plain").objective.nets["G"]
    assert isinstance(plain.drop, nn.Identity)  # no dropout: no random draws in training mode either


def test_text_init_from_other_data_is_a_clear_error(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("abc\nabd\n" * 8)
    Trainer(text_config("mle", **{"data.spec": str(f), "train.steps": 1}), tmp_path / "pre").run()
    cfg = text_config("seqgan", **{"text.init": str(tmp_path / "pre")})
    with pytest.raises(GankitError, match="trained on other text"):
        Trainer(cfg, tmp_path / "gan").run()
    with pytest.raises(GankitError, match="text.init="):
        Trainer(text_config("seqgan", **{"text.init": str(tmp_path / "missing")}), tmp_path / "x").run()


@pytest.mark.parametrize("objective", TEXT_OBJECTIVES)
def test_image_data_is_a_clear_error(tmp_path, objective):
    with pytest.raises(GankitError, match="trains on text"):
        Trainer(tiny_config(**{"train.objective": objective}), tmp_path)


@pytest.mark.parametrize("settings,match", [
    ({"text.d_net": "gru"}, "text.d_net='gru'"), ({"text.hidden": 0}, "text.hidden"),
    ({"text.temperature": 0.0}, "positive"), ({"seqgan.rollouts": 0}, "rollouts"),
    ({"seqgan.rollout_update": 1.0}, "rollout_update"), ({"text.pretrain_g": -1}, "pretrain_g"),
    ({"text.dropout": 1.0}, "text.dropout"),
])
def test_bad_settings_are_clear_errors(tmp_path, settings, match):
    with pytest.raises(GankitError, match=match):
        Trainer(text_config("seqgan", **settings), tmp_path)


@pytest.mark.parametrize("settings,match", [({"gumbel.anneal": "cosine"}, "gumbel.anneal"),
                                            ({"gumbel.beta_max": 0.5}, "beta_max")])
def test_bad_gumbel_settings(tmp_path, settings, match):
    with pytest.raises(GankitError, match=match):
        Trainer(text_config("gumbel", **settings), tmp_path)
