"""Metrics of explanations and generators."""

__all__ = []
