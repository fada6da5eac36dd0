"""Attention-guided training: ABN (+ mining branch, PC loss, COT), GAIN, shared masking."""

from tfxai.attention.masking import mask_out, soft_mask

__all__ = ["mask_out", "soft_mask"]
