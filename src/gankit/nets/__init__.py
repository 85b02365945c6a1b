"""Generator/discriminator families. A net builder maps (NetConfig, data shape, classes) -> (G, D).

G(z, y=None) -> samples; D(x, y=None, return_features=False) -> raw logits (N,) [, features (N, F)].
"""
from . import dcgan, mlp  # noqa: F401  (register)
from .blocks import MinibatchDiscrimination  # noqa: F401
