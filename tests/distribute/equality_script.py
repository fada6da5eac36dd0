"""One epoch of every tfxai train_step on two logical CPUs (MirroredStrategy) vs one device, same global batch.

Run as a script in a fresh process (logical devices must be set before TensorFlow
starts): prints one JSON line ``{method: {"max_weight_diff", "max_metric_rel_diff",
"replicas"}}``. Used by tests/distribute/test_equality.py.

For an exact comparison the script removes what legitimately differs between one
and two replicas, not what it tests:
- BatchNormalization is made ``synchronized=True`` (cross-replica batch
  statistics; Keras' default BN normalises each replica's half-batch alone);
- the GANs' latent codes (``step_normal`` in StarGAN v2 and the collaborative GAN, keyed by step and replica) and
  ``tf.random.normal`` return a fixed pattern: the two replicas would draw other random numbers than the single device;
- dropout is 0 and the optimizers are plain SGD (Adam hides loss-scale errors:
  its update does not change when every gradient is doubled).
"""

import json
import sys

import tfxai  # noqa: F401  (before TensorFlow)
from tfxai.training.distribute import split_cpu

split_cpu(2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


class SyncBatchNormalization(keras.layers.BatchNormalization):
    def __init__(self, *args, **kwargs):
        kwargs["synchronized"] = True
        super().__init__(*args, **kwargs)


keras.layers.BatchNormalization = SyncBatchNormalization


def fixed_normal(shape, *args, **kwargs):
    shape = tf.convert_to_tensor(shape)
    pattern = tf.sin(tf.range(tf.cast(shape[-1], tf.float32)))
    return tf.broadcast_to(pattern, shape)


tf.random.normal = fixed_normal
import tfxai.gan.collaborative.model  # noqa: E402
import tfxai.gan.stargan.model  # noqa: E402

for gan in (tfxai.gan.collaborative.model, tfxai.gan.stargan.model):
    gan.step_normal = lambda shape, *args, **kwargs: fixed_normal(shape)  # their latents (keyed by step and replica)

from tiny_methods import GLOBAL_BATCH, METHODS  # noqa: E402  (the script's folder is on sys.path)


def run(build, data, strategy, start):
    with strategy.scope():
        model = build()
        if start is not None:
            model.set_weights(start)
    dataset = tf.data.Dataset.from_tensor_slices(data if len(data) > 1 else data[0]).batch(GLOBAL_BATCH)
    history = model.fit(dataset, epochs=1, shuffle=False, verbose=0)
    logs = {key: float(values[-1]) for key, values in history.history.items()}
    return model.get_weights(), logs


def first_weights(build, data):
    model = build()
    sample = keras.tree.map_structure(lambda a: a[:1], data[0])
    if not model.built or not model.weights:
        model(sample)
    return model.get_weights()


def compare(name, two_strategy):
    build, data = METHODS[name]()
    keras.utils.set_random_seed(0)
    start = first_weights(build, data)
    one, one_logs = run(build, data, tf.distribute.get_strategy(), start)
    two, two_logs = run(build, data, two_strategy, start)
    moved = max(float(np.max(np.abs(a - s))) for a, s in zip(one, start))
    weight_diff = max(float(np.max(np.abs(a - b))) for a, b in zip(one, two))
    metric_diff = max((abs(two_logs[k] - v) / max(abs(v), 1e-6) for k, v in one_logs.items()), default=0.0)
    return {"max_weight_diff": weight_diff, "max_metric_rel_diff": metric_diff, "weights_moved": moved,
            "replicas": two_strategy.num_replicas_in_sync, "logs_one": one_logs, "logs_two": two_logs}


if __name__ == "__main__":
    names = sys.argv[1:] or list(METHODS)
    out = {}
    # one strategy for every method: a second MirroredStrategy in the same process reuses collective keys
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    for name in names:
        try:
            out[name] = compare(name, strategy)
        except Exception as error:  # report every method, not just the first failure
            out[name] = {"error": f"{type(error).__name__}: {error}"[:2000]}
    print(json.dumps(out))
