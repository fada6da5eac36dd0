"""Metrics of explanations and generators."""

__all__ = []

# --- insertion / deletion (ABN engineer) ---
from tfxai.metrics.insertion_deletion import (  # noqa: E402
    InsertionDeletionResult,
    area_under_curve,
    as_class_probabilities,
    insertion_deletion,
)

__all__ += ["InsertionDeletionResult", "area_under_curve", "as_class_probabilities", "insertion_deletion"]

# --- Inception Score / FID (collaborative GAN engineer) ---
from tfxai.metrics.generative import (  # noqa: E402
    frechet_distance,
    gaussian_frechet_distance,
    inception_score,
    inception_score_from_probabilities,
    penultimate_features,
)

__all__ += ["frechet_distance", "gaussian_frechet_distance", "inception_score", "inception_score_from_probabilities", "penultimate_features"]
