"""Runs that repeat exactly: one seed for every random generator and deterministic TensorFlow ops.

Every training app calls :func:`seed_everything` with its ``--seed`` before it
builds anything: Python's, NumPy's and TensorFlow's generators are seeded
(``keras.utils.set_random_seed``) and TensorFlow's op determinism is switched on
(``tf.config.experimental.enable_op_determinism``), so the same command with the
same seed gives the same weights bit for bit on the same CPU and TensorFlow
version. Op determinism is process-wide and stays on; on a GPU it can cost speed
(deterministic kernels), on CPUs it costs little.

Two of Grappler's graph rewrites are switched off with it (process-wide too):
the arithmetic optimizer and the remapper. Their rewrites depend on the graph's
node names, and those carry Keras' process-wide layer-name counters
(``conv2d_42``): a second model built in the same process got other names, so
other rewrites, and summed in another order. Two same-seed StarGAN v2 fits in
one process ended 1e-4 apart with them on and bit-equal with them off (either
one alone was not enough). Cost measured on this project's 2-core CPU: none
(StarGAN v2 small step 1.21 s vs 1.23 s, small-CNN classifier step 0.50 s vs
0.48 s, oneDNN off).
"""

import keras

__all__ = ["NAME_DEPENDENT_REWRITES", "seed_everything"]

#: Grappler rewrites whose result depends on node names (see the module docstring).
NAME_DEPENDENT_REWRITES = ("arithmetic_optimization", "remapping")


def seed_everything(seed):
    """Seed Python, NumPy and TensorFlow with ``seed``, make TensorFlow's ops deterministic and its graph rewrites name-independent."""
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()
    tf.config.optimizer.set_experimental_options({name: False for name in NAME_DEPENDENT_REWRITES})
