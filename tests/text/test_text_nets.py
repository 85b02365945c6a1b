"""Text nets: shapes, ids vs one-hots in D, sampling (<eos> then <pad>, seeds, the sampler's law),
Gumbel-softmax gradients; a mixin over both discriminators."""
import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from gankit.text.nets import D_NETS, LSTMGenerator, sample_logits
from gankit.text.tokenizer import EOS, PAD

V, L = 12, 7


def make_d(name, seed=0):
    torch.manual_seed(seed)
    return D_NETS[name](V, L, 8, 0.05, 0.25) if name == "cnn" else D_NETS[name](V, L, 8, 8, 0.25)


@pytest.mark.parametrize("name", sorted(D_NETS))
class TestDiscriminator:
    def test_logits_and_features(self, name):
        D = make_d(name)
        x = torch.randint(0, V, (5, L))
        logits, feats = D(x, return_features=True)
        assert logits.shape == (5,) and feats.shape[0] == 5 and feats.dim() == 2
        assert torch.isfinite(logits).all()

    def test_one_hots_read_like_ids(self, name):
        D = make_d(name).eval()
        x = torch.randint(0, V, (5, L))
        assert_close(D(F.one_hot(x, V).float()), D(x))

    def test_gradients_reach_every_parameter(self, name):
        D = make_d(name)
        D(torch.randint(0, V, (4, L))).sum().backward()
        assert not [n for n, p in D.named_parameters() if p.grad is None]

    def test_seeded_construction_and_state_dict_round_trip(self, name):
        a, b, c = make_d(name, 1).eval(), make_d(name, 1).eval(), make_d(name, 2).eval()
        x = torch.randint(0, V, (4, L))
        assert_close(a(x), b(x), rtol=0, atol=0)
        assert not torch.equal(a(x), c(x))
        c.load_state_dict(a.state_dict())
        assert_close(a(x), c(x), rtol=0, atol=0)

    def test_wrong_one_hot_width_is_a_clear_error(self, name):
        from gankit.errors import GankitError

        with pytest.raises(GankitError, match="one-hots"):
            make_d(name)(torch.rand(2, L, V + 1))


def test_cnn_keeps_the_papers_windows_that_fit():
    D = D_NETS["cnn"](V, 9, 8, 1.0)
    assert [c.kernel_size[0] for c in D.convs] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert sum(c.out_channels for c in D_NETS["cnn"](V, 20, 8, 1.0).convs) == 1720  # the paper's filter count


def test_teacher_forcing_matches_step_by_step():
    torch.manual_seed(0)
    G = LSTMGenerator(V, L, 6, 5)
    x = torch.randint(0, V, (3, L))
    logits = G(x)
    inp, state = G.start_input(3), None
    for t in range(L):
        step_logits, state = G.step(inp, state)
        assert_close(step_logits, logits[:, t])
        inp = G.embed(x[:, t])


def test_samples_pad_after_eos_and_follow_the_seed():
    torch.manual_seed(0)
    G = LSTMGenerator(V, L, 6, 5, eos=EOS)
    with torch.no_grad():
        G.out.bias[EOS] += 1.5  # make <eos> common
    x = G.sample(200, generator=torch.Generator().manual_seed(1))
    assert x.shape == (200, L)
    ended = 0
    for row in x.tolist():
        if EOS in row:
            ended += 1
            assert all(t == PAD for t in row[row.index(EOS) + 1:])
    assert ended > 20
    assert torch.equal(x, G.sample(200, generator=torch.Generator().manual_seed(1)))
    assert not torch.equal(x, G.sample(200, generator=torch.Generator().manual_seed(2)))


def test_sampler_follows_softmax():
    logits = torch.tensor([[2.0, 0.0, -1.0, 1.0, -30.0]]).repeat(40_000, 1)
    draws = sample_logits(logits, torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=5).float() / len(draws)
    assert_close(freq, torch.softmax(logits[0], 0), atol=0.01, rtol=0)


def test_temperature_sharpens_samples():
    torch.manual_seed(0)
    G = LSTMGenerator(V, L, 6, 5)
    hot = G.sample(500, temperature=1.0, generator=torch.Generator().manual_seed(0))
    cold = G.sample(500, temperature=0.2, generator=torch.Generator().manual_seed(0))
    assert len(set(map(tuple, cold.tolist()))) < len(set(map(tuple, hot.tolist())))


def test_relaxed_samples_carry_gradients_and_harden_with_beta():
    torch.manual_seed(0)
    G = LSTMGenerator(V, L, 6, 5)
    ids, soft = G.sample_relaxed(8, beta=1.0)
    assert ids.shape == (8, L) and soft.shape == (8, L, V)
    assert_close(soft.sum(-1), torch.ones(8, L))
    assert torch.equal(soft.argmax(-1), ids)  # the relaxed one-hot peaks at the hard sample
    (soft * torch.randn(V)).sum().backward()
    assert G.out.weight.grad is not None and G.out.weight.grad.abs().sum() > 0
    _, sharp = G.sample_relaxed(8, beta=1000.0)
    assert sharp.max(-1).values.min() > 0.99
