"""Mixed precision: layers compute in a 16-bit float, heads and losses stay float32.

``--mixed-precision`` (every training app) runs the app inside
:func:`mixed_precision`, which sets Keras' global dtype policy before any model
is built and restores the previous one afterwards:

- ``bfloat16`` -> ``mixed_bfloat16`` (same range as float32: no loss scaling);
- ``float16`` -> ``mixed_float16`` (``compile`` wraps the optimizer in a
  ``keras.optimizers.LossScaleOptimizer``; custom train steps that call
  ``apply_gradients`` themselves scale their losses with ``optimizer.scale_loss``);
- ``auto`` -> ``mixed_float16`` when a GPU is visible, else ``mixed_bfloat16``;
- ``off`` -> ``float32`` (the default).

Variables stay float32 under both policies. Every tfxai model makes its
outputs (probabilities, logits, attention maps, generated images) float32 with
:func:`float32` before they reach a loss, so every loss is computed in float32.
On a CPU without oneDNN (tfxai switches it off, see ``tfxai._runtime``) 16-bit
kernels are slower than float32 (README: "Mixed precision"); the option is for
GPUs and accelerators.
"""

import contextlib

import keras

__all__ = ["PRECISIONS", "float32", "loss_scale", "loss_scaled", "mixed_precision", "policy_name", "scaled_gradients"]

#: ``--mixed-precision`` choices -> Keras dtype policy (``auto`` is resolved by :func:`policy_name`).
PRECISIONS = {"off": "float32", "auto": None, "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def policy_name(precision):
    """The Keras dtype policy of a ``--mixed-precision`` choice (``auto``: float16 with a GPU, else bfloat16)."""
    from tfxai.errors import TfxaiError

    if precision not in PRECISIONS:
        raise TfxaiError(f"--mixed-precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        import tensorflow as tf

        return "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"
    return PRECISIONS[precision]


@contextlib.contextmanager
def mixed_precision(precision="off"):
    """Build and train under the dtype policy of ``precision`` (a ``--mixed-precision`` choice); yields the policy name.

    The previous global policy is restored on leaving, so one process can run
    several apps (tests) one after the other.
    """
    name = policy_name(precision)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield name
    finally:
        keras.config.set_dtype_policy(previous)


def float32(structure):
    """``structure`` (a tensor or a nest of them) with every floating tensor cast to float32 (others unchanged)."""
    import tensorflow as tf

    def cast(value):
        value = tf.convert_to_tensor(value)
        return tf.cast(value, tf.float32) if value.dtype.is_floating else value

    return tf.nest.map_structure(cast, structure)


# === Loss scaling for train steps that apply their own gradients (GANs) ===


def loss_scaled(optimizer, dtype_policy=None):
    """``optimizer`` wrapped in a ``LossScaleOptimizer`` under ``mixed_float16`` (what ``compile`` does for its one optimizer).

    ``dtype_policy`` is the model's (default: the global policy). Models with an
    optimizer per network (GANs) wrap each of them with this.
    """
    name = (dtype_policy or keras.config.dtype_policy()).name
    if name == "mixed_float16" and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def loss_scale(optimizer):
    """The optimizer's current loss scale: 1 for a plain optimizer, the dynamic scale of a ``LossScaleOptimizer``."""
    return optimizer.scale_loss(1.0)


def scaled_gradients(tape, loss, groups):
    """Gradients of ``loss`` for several networks, each scaled by the loss scale of the optimizer that applies them.

    ``groups`` is a list of ``(optimizer, variables)``; returns one gradient list
    per group. One backward pass is seeded with the first optimizer's loss
    scale (``output_gradients``: the gradients of ``loss * scale``, so float16
    intermediate gradients do not underflow), then each group's gradients are
    rescaled to its own optimizer's scale, which its ``apply_gradients``
    divides out again. Without a ``LossScaleOptimizer`` it is plain
    ``tape.gradient(loss, variables)``, split by group.
    """
    import tensorflow as tf

    variables = [variable for _, group in groups for variable in group]
    scales = [loss_scale(optimizer) for optimizer, _ in groups]
    if any(isinstance(optimizer, keras.optimizers.LossScaleOptimizer) for optimizer, _ in groups):
        gradients = tape.gradient(loss, variables, output_gradients=tf.cast(scales[0], loss.dtype))
        ratios = [scale / scales[0] for scale in scales]
    else:
        gradients = tape.gradient(loss, variables)
        ratios = [None] * len(groups)
    out, start = [], 0
    for (_, group), ratio in zip(groups, ratios):
        part = gradients[start:start + len(group)]
        out.append(part if ratio is None else [None if g is None else g * ratio for g in part])
        start += len(group)
    return out
