"""Sequence nets: recurrent (GRU/LSTM) and temporal-convolution G and D, plus the skeleton output head.

They follow the registry contract: G(z (N, z_dim), y=None) -> (N, *shape); D(x, y=None,
return_features=False) -> logits (N,) [, features (N, F)]. A sequence example has shape (T, F);
any other shape is read as a sequence too, so every net runs on every dataset: (D,) vectors as one
step of D features, (C, H, W) images as H rows of C * W values (row-by-row, as in pixel RNNs).

G draws one latent per sequence and unrolls it over time: z sets the initial state and, with a
learned per-step embedding, the input of every step. The data sets here vary globally (frequency and
phase; action, speed, stride, facing), which a global latent expresses directly.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..nets.blocks import DiscriminatorHead, check_labels, norm1d
from ..registry import NETS

EMBED = 16  # label embedding size (G input, D concat conditioning)


def seq_dims(shape: tuple) -> tuple[int, int]:
    """Shape of one example -> (time steps, features per step)."""
    shape = tuple(shape)
    if len(shape) == 2:
        return shape
    if len(shape) == 1:
        return 1, shape[0]
    if len(shape) == 3:
        c, h, w = shape
        return h, c * w
    raise ValueError(f"sequence nets take (T, F), (D,) or (C, H, W) examples, not {shape}")


def to_seq(x: torch.Tensor, shape: tuple) -> torch.Tensor:
    """(N, *shape) -> (N, T, F)."""
    if len(shape) == 3:  # (N, C, H, W) -> (N, H, C * W)
        return x.permute(0, 2, 1, 3).reshape(x.shape[0], shape[1], -1)
    return x.reshape(x.shape[0], *seq_dims(shape))


def from_seq(s: torch.Tensor, shape: tuple) -> torch.Tensor:
    """(N, T, F) -> (N, *shape), the inverse of to_seq."""
    if len(shape) == 3:
        c, h, w = shape
        return s.reshape(s.shape[0], h, c, w).permute(0, 2, 1, 3).contiguous()
    return s.reshape(s.shape[0], *shape)


def _bounded(shape: tuple) -> bool:
    # Sequences are normalised to [-1, 1] and images live there; bare vectors (2D toy data) do not.
    return len(shape) != 1


def spectral_norm_all(module: nn.Module) -> nn.Module:
    """Spectral norm on every Linear, Conv1d and Embedding weight (the RNN's own weights stay free:
    their recurrence is bounded by the gates' saturating nonlinearities)."""
    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Linear, nn.Conv1d, nn.Embedding)):
            setattr(module, name, spectral_norm(child))
        else:
            spectral_norm_all(child)
    return module


class StepNorm(nn.Module):
    """Normalisation of per-step features (N, T, W) over W: BatchNorm (statistics over batch and time),
    LayerNorm, or nothing."""

    def __init__(self, kind: str, width: int):
        super().__init__()
        self.kind = kind
        self.norm = nn.BatchNorm1d(width) if kind == "bn" else nn.LayerNorm(width) if kind == "ln" else nn.Identity()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.norm(h.transpose(1, 2)).transpose(1, 2) if self.kind == "bn" else self.norm(h)


def norm_ch(kind: str, channels: int) -> nn.Module:
    """Normalisation over channels of (N, C, T) feature maps."""
    if kind == "bn":
        return nn.BatchNorm1d(channels)
    if kind == "ln":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


# ----------------------------------------------------------------------------------------------
# recurrent


class RecurrentGenerator(nn.Module):
    def __init__(self, cell: str, z_dim: int, shape: tuple, width: int, layers: int, norm: str = "none",
                 num_classes: int = 0):
        super().__init__()
        self.z_dim, self.shape, self.num_classes, self.cell = z_dim, tuple(shape), num_classes, cell
        self.T, self.F = seq_dims(shape)
        self.layers, self.width = layers, width
        self.embed = nn.Embedding(num_classes, EMBED) if num_classes else None
        in_dim = z_dim + (EMBED if num_classes else 0)
        states = 2 if cell == "lstm" else 1  # LSTM: hidden and cell state
        self.init = nn.Linear(in_dim, states * layers * width)
        self.inp = nn.Linear(in_dim, width)
        self.inp_norm = norm1d(norm, width)
        self.pos = nn.Parameter(0.1 * torch.randn(self.T, width))  # per-step embedding (T, width)
        self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(width, width, layers, batch_first=True)
        self.out = nn.Linear(width, self.F)
        self.act = nn.Tanh() if _bounded(shape) else nn.Identity()

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        check_labels(self, y)
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], 1)
        n = z.shape[0]
        h0 = torch.tanh(self.init(z)).view(n, -1, self.layers, self.width).permute(1, 2, 0, 3)  # (S, L, N, W)
        state = (h0[0].contiguous(), h0[1].contiguous()) if self.cell == "lstm" else h0[0].contiguous()
        u = torch.relu(self.inp_norm(self.inp(z)))[:, None, :] + self.pos[None]  # (N, T, W)
        h, _ = self.rnn(u, state)  # (N, T, W)
        return from_seq(self.act(self.out(h)), self.shape)  # (N, *shape)


class RecurrentDiscriminator(nn.Module):
    def __init__(self, cell: str, shape: tuple, width: int, layers: int, norm: str = "none", dropout: float = 0.0,
                 num_classes: int = 0, cond: str = "projection", minibatch_disc: int = 0):
        super().__init__()
        self.shape, self.num_classes = tuple(shape), num_classes
        self.T, self.F = seq_dims(shape)
        concat = bool(num_classes) and cond == "concat"
        self.embed = nn.Embedding(num_classes, EMBED) if concat else None
        self.inp = nn.Linear(self.F + (EMBED if concat else 0), width)
        # The norm sits on the input projection, before nonlinearities: right before the linear head a
        # batch norm would give every batch the same mean logit (the head's bias), real or fake alike.
        self.inp_norm = StepNorm(norm, width)
        self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(width, width, layers, batch_first=True,
                                                           dropout=dropout if layers > 1 else 0.0)
        # features: the last state (sees the whole sequence) and the mean over time (every step's say)
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.head = DiscriminatorHead(2 * width, num_classes, bool(num_classes) and cond == "projection",
                                      minibatch_disc)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, return_features: bool = False):
        check_labels(self, y)
        s = to_seq(x, self.shape)  # (N, T, F)
        if self.embed is not None:
            s = torch.cat([s, self.embed(y)[:, None, :].expand(-1, s.shape[1], -1)], 2)
        h, _ = self.rnn(nn.functional.leaky_relu(self.inp_norm(self.inp(s)), 0.2))  # (N, T, W)
        f = self.drop(torch.cat([h[:, -1], h.mean(1)], 1))  # (N, 2W)
        logits = self.head(f, y)
        return (logits, f) if return_features else logits


# ----------------------------------------------------------------------------------------------
# temporal convolution


class TCNGenerator(nn.Module):
    """z -> (2W, ceil(T / 4)) -> two x2 nearest upsamplings with kernel-5 convs -> (F, T) (cropped)."""

    def __init__(self, z_dim: int, shape: tuple, width: int, norm: str = "bn", num_classes: int = 0):
        super().__init__()
        self.z_dim, self.shape, self.num_classes = z_dim, tuple(shape), num_classes
        self.T, self.F = seq_dims(shape)
        self.base = math.ceil(self.T / 4)
        self.embed = nn.Embedding(num_classes, EMBED) if num_classes else None
        in_dim = z_dim + (EMBED if num_classes else 0)
        self.fc = nn.Linear(in_dim, 2 * width * self.base)
        self.fc_norm = norm_ch(norm, 2 * width)
        self.body = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv1d(2 * width, width, 5, padding=2),
            norm_ch(norm, width), nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv1d(width, width, 5, padding=2),
            norm_ch(norm, width), nn.ReLU(),
            nn.Conv1d(width, self.F, 5, padding=2))
        self.act = nn.Tanh() if _bounded(shape) else nn.Identity()

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        check_labels(self, y)
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], 1)
        h = torch.relu(self.fc_norm(self.fc(z).view(z.shape[0], -1, self.base)))  # (N, 2W, T/4)
        s = self.body(h)[:, :, : self.T].transpose(1, 2)  # (N, T, F)
        return from_seq(self.act(s), self.shape)


class TCNDiscriminator(nn.Module):
    """Dilated kernel-5 convolutions (dilation 1, 2, 4, ...: a receptive field of 29 steps with 3
    blocks), then mean and max over time."""

    def __init__(self, shape: tuple, width: int, layers: int, norm: str = "none", dropout: float = 0.0,
                 num_classes: int = 0, cond: str = "projection", minibatch_disc: int = 0):
        super().__init__()
        self.shape, self.num_classes = tuple(shape), num_classes
        self.T, self.F = seq_dims(shape)
        concat = bool(num_classes) and cond == "concat"
        self.embed = nn.Embedding(num_classes, EMBED) if concat else None
        blocks = [nn.Conv1d(self.F + (EMBED if concat else 0), width, 5, padding=2), nn.LeakyReLU(0.2)]
        for i in range(layers + 1):
            d = 2 ** i
            blocks += [nn.Conv1d(width, width, 5, padding=2 * d, dilation=d), norm_ch(norm, width), nn.LeakyReLU(0.2)]
            if dropout:
                blocks.append(nn.Dropout(dropout))
        self.body = nn.Sequential(*blocks)
        self.head = DiscriminatorHead(2 * width, num_classes, bool(num_classes) and cond == "projection",
                                      minibatch_disc)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, return_features: bool = False):
        check_labels(self, y)
        s = to_seq(x, self.shape).transpose(1, 2)  # (N, F, T)
        if self.embed is not None:
            s = torch.cat([s, self.embed(y)[:, :, None].expand(-1, -1, s.shape[2])], 1)
        h = self.body(s)  # (N, W, T)
        f = torch.cat([h.mean(2), h.amax(2)], 1)  # (N, 2W)
        logits = self.head(f, y)
        return (logits, f) if return_features else logits


# ----------------------------------------------------------------------------------------------
# registry entries


def _d_norm(cfg) -> str:
    return "none" if cfg.d_norm == "sn" else cfg.d_norm


def _finish_d(cfg, D: nn.Module) -> nn.Module:
    return spectral_norm_all(D) if cfg.d_norm == "sn" else D


def _recurrent(cell: str):
    def build(cfg, shape: tuple, num_classes: int = 0):
        k = num_classes if cfg.conditional else 0
        G = RecurrentGenerator(cell, cfg.z_dim, shape, cfg.g_width, cfg.layers, cfg.g_norm, k)
        D = RecurrentDiscriminator(cell, shape, cfg.d_width, cfg.layers, _d_norm(cfg), cfg.dropout, k, cfg.d_cond,
                                   cfg.minibatch_disc)
        return G, _finish_d(cfg, D)

    return build


NETS.register("seq-gru", help="GRU G and D for sequences (T, F): net.g_width/d_width hidden units, net.layers "
                              "stacked layers", sizes=None, sequence=True)(_recurrent("gru"))
NETS.register("seq-lstm", help="LSTM G and D for sequences, as seq-gru", sizes=None, sequence=True)(_recurrent("lstm"))


@NETS.register("seq-tcn", help="temporal-convolution G (upsampling) and D (dilated convs) for sequences",
               sizes=None, sequence=True)
def build_tcn(cfg, shape: tuple, num_classes: int = 0):
    k = num_classes if cfg.conditional else 0
    G = TCNGenerator(cfg.z_dim, shape, cfg.g_width, cfg.g_norm, k)
    D = TCNDiscriminator(shape, cfg.d_width, cfg.layers, _d_norm(cfg), cfg.dropout, k, cfg.d_cond, cfg.minibatch_disc)
    return G, _finish_d(cfg, D)


# ----------------------------------------------------------------------------------------------
# skeleton head


class SkeletonHead(nn.Module):
    """Wraps a sequence G so its output is a skeleton with the data's exact bone lengths.

    The body's (N, T, J * 3) output is read per frame as the root position and one direction per
    bone, both in the body's own frame (facing +z); a linear map of z gives each clip a facing yaw
    (a unit vector), which turns that frame into the world. Positions follow down the tree,
    p_j = p_parent + L_j * R_yaw unit(3 d_j + rest_j), in metres, and are normalised back to the
    data's scale for D. Facing is a symmetry of motion data, so this way G learns one canonical
    walk, not one per direction. The rest direction keeps a fresh G near the rest pose (a
    zero-length direction has no gradient); the factor 3 lets tanh outputs reach every direction.
    """

    def __init__(self, body: nn.Module, skeleton: dict, mid, half):
        super().__init__()
        self.body = body
        self.z_dim, self.num_classes, self.shape = body.z_dim, body.num_classes, body.shape
        self.parents = list(skeleton["parents"])
        offsets = torch.tensor(skeleton["offsets"], dtype=torch.float32)  # (J, 3)
        J = len(self.parents)
        if tuple(self.shape) != (self.shape[0], J * 3):
            raise ValueError(f"skeleton head: G makes {self.shape}, not (T, {J * 3}) for {J} joints")
        self.up = int(skeleton.get("up", 1))
        self.facing = nn.Linear(body.z_dim, 2)  # z -> (cos, sin) of the clip's yaw about the up axis
        lengths = offsets.norm(dim=1)
        self.register_buffer("lengths", lengths, persistent=False)  # (J,)
        self.register_buffer("rest", offsets / lengths.clamp_min(1e-8)[:, None], persistent=False)  # (J, 3)
        # the data's normalisation, x_norm = (x - centre) / scale, per joint and axis (J, 3)
        self.register_buffer("centre", torch.tensor(mid, dtype=torch.float32).view(J, 3), persistent=False)
        self.register_buffer("scale", torch.tensor(half, dtype=torch.float32).view(J, 3), persistent=False)

    def _turn(self, v: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """Rotate vectors v (N, ..., 3) about the up axis by each clip's yaw (cos, sin: (N,))."""
        a, b = [i for i in range(3) if i != self.up]  # the ground plane's axes (x, z for y up)
        shape = (-1,) + (1,) * (v.dim() - 2)
        cos, sin = cos.view(shape), sin.view(shape)
        out = v.clone()
        out[..., a] = cos * v[..., a] + sin * v[..., b]
        out[..., b] = -sin * v[..., a] + cos * v[..., b]
        return out

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raw = self.body(z, y)  # (N, T, J * 3) in [-1, 1]
        n, T = raw.shape[:2]
        raw = raw.view(n, T, -1, 3)
        f = self.facing(z)
        f = f / f.norm(dim=1, keepdim=True).clamp_min(1e-6)  # (N, 2) unit vector
        root = self._turn(raw[:, :, 0] * self.scale[0] + self.centre[0], f[:, 0], f[:, 1])  # (N, T, 3) metres
        d = 3.0 * raw + self.rest  # (N, T, J, 3) body frame
        unit = self._turn(d / d.norm(dim=-1, keepdim=True).clamp_min(1e-6), f[:, 0], f[:, 1])
        pos = [root]
        for j in range(1, len(self.parents)):
            pos.append(pos[self.parents[j]] + self.lengths[j] * unit[:, :, j])
        p = torch.stack(pos, 2)  # (N, T, J, 3) metres
        return ((p - self.centre) / self.scale).reshape(n, T, -1)
