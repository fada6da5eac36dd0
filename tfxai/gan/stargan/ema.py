"""Exponential moving average (EMA) copies of networks, as GANs use for inference.

``update_ema(target, source, decay)`` moves every weight of ``target`` towards
the same weight of ``source``: ``target = source + decay * (target - source)``
(``torch.lerp(source, target, decay)`` in the StarGAN v2 reference code). It
only assigns variables, so it runs inside a traced ``train_step``.
"""

__all__ = ["copy_weights", "update_ema"]


def copy_weights(target, source):
    """Set every weight of ``target`` to ``source``'s (same architecture, same order)."""
    for target_variable, source_variable in zip(target.weights, source.weights, strict=True):
        target_variable.assign(source_variable)


def update_ema(target, source, decay):
    """One EMA step of ``target``'s weights towards ``source``'s."""
    for target_variable, source_variable in zip(target.weights, source.weights, strict=True):
        target_variable.assign(source_variable + decay * (target_variable - source_variable))
