"""Metrics of explanations and generators."""

__all__ = []

# --- insertion / deletion (ABN engineer) ---
from tfxai.metrics.insertion_deletion import InsertionDeletionResult, area_under_curve, insertion_deletion  # noqa: E402

__all__ += ["InsertionDeletionResult", "area_under_curve", "insertion_deletion"]
