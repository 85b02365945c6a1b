"""Shared checks over every registered image-to-image net (NETS meta kind="translation"), plus the
properties that make them pix2pix / CycleGAN nets: U-Net skips, PatchGAN receptive fields and
conditioning, test-time dropout."""
import pytest
import torch
from safetensors.torch import load, save
from torch.testing import assert_close

from gankit.config import NetConfig
from gankit.errors import GankitError
from gankit.nets.patchgan import PatchDiscriminator, patch_layers, receptive_field
from gankit.nets.unet import UNetGenerator
from gankit.objectives.translation import TranslationConfig
from gankit.registry import NETS

TRANSLATION_NETS = [e.name for e in NETS if e.meta.get("kind") == "translation"]


def variants():
    """(net, NetConfig, TranslationConfig, input shape, output channels, D condition channels): three sizes,
    grey/colour in and out, batch and instance norm, and each D norm the losses bring (sn, ln, none)."""
    out = [(NetConfig(g_width=8, d_width=8), TranslationConfig(norm="batch", blocks=2), (1, 16, 16), 1, 1),
           (NetConfig(g_width=8, d_width=8), TranslationConfig(norm="instance", blocks=2), (3, 32, 32), 1, 3),
           (NetConfig(g_width=8, d_width=8), TranslationConfig(norm="batch", blocks=1), (1, 64, 64), 3, 0)]
    for d_norm in ("sn", "ln", "none"):
        out.append((NetConfig(g_width=8, d_width=8, d_norm=d_norm), TranslationConfig(blocks=1), (1, 32, 32), 1, 1))
    out.append((NetConfig(g_width=8, d_width=8, g_norm="none"), TranslationConfig(blocks=1, dropout=0.0), (3, 32, 32),
                3, 0))
    return [(n, *v) for n in TRANSLATION_NETS for v in out]


CASES = variants()
IDS = [f"{n}-{'x'.join(map(str, s))}to{c}-{nc.d_norm}-{t.norm}-cond{cc}" for n, nc, t, s, c, cc in CASES]


def build(name, cfg, tcfg, shape, c_out, cond, seed=0):
    torch.manual_seed(seed)
    return NETS.get(name)(cfg, shape, 0, out_channels=c_out, d_channels=c_out, d_cond_channels=cond, tcfg=tcfg)


@pytest.mark.parametrize("name,cfg,tcfg,shape,c_out,cond", CASES, ids=IDS)
class TestTranslationNet:
    def test_shapes_and_range(self, name, cfg, tcfg, shape, c_out, cond):
        G, D = build(name, cfg, tcfg, shape, c_out, cond)
        x = torch.rand(4, *shape) * 2 - 1
        y = G(x)
        assert y.shape == (4, c_out, *shape[1:])
        assert y.min() >= -1 and y.max() <= 1  # tanh images
        logits = D(y, x if cond else None)
        assert logits.dim() == 4 and logits.shape[:2] == (4, 1) and min(logits.shape[2:]) >= 1
        assert torch.isfinite(logits).all()

    def test_gradients_reach_every_parameter(self, name, cfg, tcfg, shape, c_out, cond):
        G, D = build(name, cfg, tcfg, shape, c_out, cond)
        x = torch.rand(4, *shape) * 2 - 1
        D(G(x), x if cond else None).sum().backward()
        for net in (G, D):
            missing = [n for n, p in net.named_parameters() if p.grad is None]
            assert not missing, missing

    def test_seeded_construction_is_deterministic(self, name, cfg, tcfg, shape, c_out, cond):
        (G1, _), (G2, _), (G3, _) = (build(name, cfg, tcfg, shape, c_out, cond, seed=s) for s in (3, 3, 4))
        x = torch.rand(2, *shape)
        for G in (G1, G2, G3):
            G.eval()
        assert_close(G1(x), G2(x), rtol=0, atol=0)
        assert not torch.equal(G1(x), G3(x))

    def test_safetensors_round_trip(self, name, cfg, tcfg, shape, c_out, cond):
        G, D = build(name, cfg, tcfg, shape, c_out, cond, seed=1)
        G2, D2 = build(name, cfg, tcfg, shape, c_out, cond, seed=2)
        for a, b in ((G, G2), (D, D2)):
            b.load_state_dict(load(save({k: v.contiguous() for k, v in a.state_dict().items()})))
            a.eval(), b.eval()
        x = torch.rand(3, *shape) * 2 - 1
        assert_close(G(x), G2(x), rtol=0, atol=0)
        c = x if cond else None
        assert_close(D(G(x), c), D2(G(x), c), rtol=0, atol=0)


def test_unet_skip_connections_carry_the_input_past_the_bottleneck():
    """With the bottleneck silenced, the output still follows the input: only skips can carry it."""
    torch.manual_seed(0)
    G = UNetGenerator(1, 1, 32, width=8, norm="instance", dropout=0.0).eval()
    assert G.depth == 5  # 32 -> 16 -> 8 -> 4 -> 2 -> 1
    G.downs[-1].register_forward_hook(lambda mod, inp, out: torch.zeros_like(out))
    x1, x2 = torch.rand(2, 1, 1, 32, 32) * 2 - 1
    assert not torch.allclose(G(x1), G(x2), atol=1e-4)
    # ... and each decoder stage reads twice its encoder stage's channels (skip concatenated)
    for i in range(G.depth - 1):
        conv = next(m for m in G.ups[i].modules() if isinstance(m, torch.nn.ConvTranspose2d))
        assert conv.in_channels == 2 * next(m for m in G.downs[i].modules() if isinstance(m, torch.nn.Conv2d)).out_channels


def test_a_plain_encoder_decoder_would_fail_the_skip_test():
    """The check above has teeth: zeroing the skips as well makes the output constant."""
    torch.manual_seed(0)
    G = UNetGenerator(1, 1, 32, width=8, norm="instance", dropout=0.0).eval()
    for down in G.downs:
        down.register_forward_hook(lambda mod, inp, out: torch.zeros_like(out))
    x1, x2 = torch.rand(2, 1, 1, 32, 32) * 2 - 1
    assert_close(G(x1), G(x2))


def test_unet_dropout_sits_on_three_decoder_stages_and_can_stay_on_at_test_time():
    G = UNetGenerator(1, 1, 256, width=4, dropout=0.5)
    stages = [i for i, up in enumerate(G.ups) if any(isinstance(m, torch.nn.Dropout) for m in up.modules())]
    assert G.depth == 8 and stages == [4, 5, 6]  # outputs at 16, 8 and 4 px, as in the reference U-Net
    x = torch.rand(2, 1, 32, 32)
    torch.manual_seed(0)
    quiet = UNetGenerator(1, 1, 32, width=8, dropout=0.5).eval()
    assert_close(quiet(x), quiet(x), rtol=0, atol=0)
    torch.manual_seed(0)
    noisy = UNetGenerator(1, 1, 32, width=8, dropout=0.5, dropout_at_test=True).eval()
    assert not torch.equal(noisy(x), noisy(x))


@pytest.mark.parametrize("patch", [16, 34, 70])
def test_patchgan_receptive_field_is_measured_by_gradients(patch):
    """The input region that one output logit depends on is patch x patch pixels."""
    n = patch_layers(patch, 128)
    assert receptive_field(n) == patch
    torch.manual_seed(0)
    D = PatchDiscriminator(1, n, width=4, norm="none").eval()
    x = torch.randn(1, 1, 128, 128, requires_grad=True)
    out = D(x)
    h, w = out.shape[2:]
    out[0, 0, h // 2, w // 2].backward()
    rows, cols = torch.nonzero(x.grad[0, 0].abs() > 0, as_tuple=True)
    assert rows.max() - rows.min() + 1 == patch and cols.max() - cols.min() + 1 == patch


def test_patchgan_sees_both_the_condition_and_the_output():
    torch.manual_seed(0)
    D = PatchDiscriminator(3, 2, width=8, norm="none", cond_channels=1)
    x, c = torch.randn(2, 3, 32, 32), torch.randn(2, 1, 32, 32)
    assert not torch.allclose(D(x, c), D(x, torch.randn_like(c)))  # same output, other input
    assert not torch.allclose(D(x, c), D(torch.randn_like(x), c))  # same input, other output
    assert D.body[0].in_channels == 4
    with pytest.raises(ValueError, match="cond"):
        D(x)


def test_auto_patch_sizes_and_a_too_large_patch_is_a_clear_error():
    assert [receptive_field(patch_layers(0, s)) for s in (16, 32, 64, 128, 256)] == [16, 16, 34, 70, 70]
    with pytest.raises(GankitError, match="too large for 16 px"):
        patch_layers(70, 16)
    with pytest.raises(GankitError, match="not a PatchGAN receptive field"):
        patch_layers(50, 64)


def test_resnet_generator_has_the_asked_for_blocks():
    G, _ = build("resnet-gen", NetConfig(g_width=8, d_width=8), TranslationConfig(blocks=6, norm="instance"),
                 (1, 32, 32), 1, 0)
    assert sum(type(m).__name__ == "ResnetBlock" for m in G.modules()) == 6
    assert any(isinstance(m, torch.nn.InstanceNorm2d) for m in G.modules())


def test_translation_nets_refuse_the_gan_objectives_call_and_odd_sizes():
    for name in TRANSLATION_NETS:
        with pytest.raises(GankitError, match="image-to-image net"):
            NETS.get(name)(NetConfig(), (1, 32, 32), 0)  # how the gan objective builds its nets
        with pytest.raises(GankitError, match="square images of 16, 32"):
            NETS.get(name)(NetConfig(), (1, 28, 28), 0, tcfg=TranslationConfig())
