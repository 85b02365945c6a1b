"""Metrics: pure functions of features, probabilities, labels or 2D samples -> floats (distances,
scores), the feature extractors that make features from images (extractors), the reference
statistics cache (cache) and `evaluate`, which puts them together for `gankit eval`.
"""
from .distances import bootstrap_fid, feature_stats, fid_from_features, frechet_distance, kid
from .scores import class_coverage, density_coverage, inception_score, precision_recall, toy_modes
from .extractors import DomainExtractor, InceptionExtractor  # noqa: E402  (registers the extractors)
from .evaluate import evaluate, evaluate_generator  # noqa: E402  (registers the metrics)

__all__ = [
    "DomainExtractor",
    "InceptionExtractor",
    "evaluate",
    "evaluate_generator",
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
