"""Gate functions of a knowledge-transfer graph (Tsukahara et al., VISAPP 2021).

A gate scales the per-sample loss of one edge by a weight that depends on the
training progress ``p`` in [0, 1]: Through (1), Cutoff (0: the edge is cut),
PositiveLinear (``p``: from 0 to 1 over training) and NegativeLinear
(``1 - p``). ``p`` is a tensor computed from the optimiser's iteration count
inside the traced step, so the schedule advances in a compiled ``train_step``.
"""

import tensorflow as tf

from tfxai.errors import TfxaiError

__all__ = ["GATES", "apply_gate", "check_gate", "gate_weight", "training_progress"]

#: Gate names, in the order the gate search samples them.
GATES = ("through", "cutoff", "positive_linear", "negative_linear")


def check_gate(name):
    """``name`` if it is a gate, else a one-line :class:`TfxaiError`."""
    if name not in GATES:
        raise TfxaiError(f"unknown gate {name!r}: choose one of {', '.join(GATES)}")
    return name


def training_progress(iterations, total_steps):
    """``iterations / total_steps`` clipped to [0, 1], as a float32 tensor."""
    progress = tf.cast(iterations, tf.float32) / tf.cast(max(int(total_steps), 1), tf.float32)
    return tf.clip_by_value(progress, 0.0, 1.0)


def gate_weight(name, progress):
    """The weight gate ``name`` gives an edge's loss at training progress ``progress`` (a scalar tensor)."""
    progress = tf.convert_to_tensor(progress, tf.float32)
    weights = {"through": tf.ones_like(progress), "cutoff": tf.zeros_like(progress),
               "positive_linear": progress, "negative_linear": 1.0 - progress}
    return weights[check_gate(name)]


def apply_gate(name, per_sample_loss, progress):
    """Gate a per-sample loss (batch,); a cut edge returns zeros without a path back to the loss's inputs."""
    if check_gate(name) == "cutoff":
        return tf.zeros_like(tf.stop_gradient(per_sample_loss))
    return gate_weight(name, progress) * per_sample_loss
