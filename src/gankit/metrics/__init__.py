"""Metrics as pure functions of features, probabilities, labels or 2D samples -> floats.

Feature extractors and reference-statistics caching build on these; nothing here loads a network.
"""
from .distances import bootstrap_fid, feature_stats, fid_from_features, frechet_distance, kid
from .scores import class_coverage, density_coverage, inception_score, precision_recall, toy_modes

__all__ = [
    "bootstrap_fid",
    "class_coverage",
    "density_coverage",
    "feature_stats",
    "fid_from_features",
    "frechet_distance",
    "inception_score",
    "kid",
    "precision_recall",
    "toy_modes",
]
