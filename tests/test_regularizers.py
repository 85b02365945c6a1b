"""Penalties on a linear D, whose input gradient is known exactly: grad_x (w . x) = w."""
import pytest
import torch
from torch import nn
from torch.testing import assert_close

from gankit.nets.blocks import MinibatchDiscrimination
from gankit.regularizers import clip_weights, dragan_penalty, feature_matching, gradient_penalty, r1_penalty


class LinearD(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(w, dtype=torch.float32))

    def forward(self, x, y=None):
        return x.flatten(1) @ self.w


W = [3.0, 4.0]  # |w| = 5


@pytest.mark.parametrize("penalty", [gradient_penalty, dragan_penalty])
def test_two_sided_penalties(penalty):
    D = LinearD(W)
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    assert_close(penalty(D, real, fake), torch.tensor((5.0 - 1.0) ** 2))


def test_r1_is_half_squared_gradient_norm():
    D = LinearD(W)
    assert_close(r1_penalty(D, torch.randn(16, 2), None), torch.tensor(0.5 * 25.0))


def test_penalty_backpropagates_into_d():
    D = LinearD(W)
    gradient_penalty(D, torch.randn(8, 2), torch.randn(8, 2)).backward()
    # d/dw (|w| - 1)^2 = 2 (|w| - 1) w / |w|
    assert_close(D.w.grad, 2 * 4.0 * torch.tensor(W) / 5.0)


def test_clip_weights():
    D = LinearD([0.5, -0.3])
    clip_weights(D, 0.01)
    assert_close(D.w.data, torch.tensor([0.01, -0.01]))


def test_feature_matching_is_squared_distance_of_means():
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # mean (2, 3)
    fake = torch.tensor([[0.0, 0.0], [2.0, 2.0]])  # mean (1, 1)
    assert_close(feature_matching(real, fake), torch.tensor(1.0 + 4.0))


def test_minibatch_discrimination_counts_close_neighbours():
    mbd = MinibatchDiscrimination(4, kernels=3)
    same = torch.ones(5, 4)
    out = mbd(same)
    assert out.shape == (5, 4 + 3)
    # identical rows: each of the other 4 rows contributes exp(0) = 1 per kernel
    assert_close(out[:, 4:], torch.full((5, 3), 4.0))
    far = torch.arange(5.0)[:, None].repeat(1, 4) * 1000
    mbd.T.data = torch.ones_like(mbd.T)
    assert out[:, 4:].sum() > mbd(far)[:, 4:].sum()
