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
