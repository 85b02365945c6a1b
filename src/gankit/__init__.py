"""gankit: generative adversarial networks from the classic literature, on one small engine."""
__version__ = "0.1.0"

from . import data, losses, nets, objectives, regularizers  # noqa: E402,F401  (fill the registries)
from .config import RunConfig, build_config  # noqa: E402,F401
from .errors import GankitError  # noqa: E402,F401
