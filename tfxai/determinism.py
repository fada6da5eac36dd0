"""Runs that repeat exactly: one seed for every random generator and deterministic TensorFlow ops.

Every training app calls :func:`seed_everything` with its ``--seed`` before it
builds anything: Python's, NumPy's and TensorFlow's generators are seeded
(``keras.utils.set_random_seed``) and TensorFlow's op determinism is switched on
(``tf.config.experimental.enable_op_determinism``), so the same command with the
same seed gives the same weights bit for bit on the same CPU and TensorFlow
version. Op determinism is process-wide and stays on; on a GPU it can cost speed
(deterministic kernels), on CPUs it costs little.
"""

import keras

__all__ = ["seed_everything"]


def seed_everything(seed):
    """Seed Python, NumPy and TensorFlow with ``seed`` and make TensorFlow's ops deterministic."""
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()
