"""Generator/discriminator families. A net builder maps (NetConfig, data shape, classes) -> (G, D).

G(z, y=None) -> samples; D(x, y=None, return_features=False) -> raw logits (N,) [, features (N, F)].
"""
from . import dcgan, mlp, resnet  # noqa: F401  (register)
from .blocks import MinibatchDiscrimination  # noqa: F401
from ..sequence import nets as _sequence_nets  # noqa: E402,F401  (register seq-gru, seq-lstm, seq-tcn)
from . import resnet_gen, unet  # noqa: E402,F401  (register the translation nets unet and resnet-gen)
