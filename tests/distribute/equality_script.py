"""One epoch of every tfxai train_step on two logical CPUs (MirroredStrategy) vs one device, same global batch.

Run as a script in a fresh process (logical devices must be set before TensorFlow
starts): prints one JSON line ``{method: {"max_weight_diff", "max_metric_rel_diff",
"replicas"}}``. Used by tests/distribute/test_equality.py.

For an exact comparison the script removes what legitimately differs between one
and two replicas, not what it tests:
- BatchNormalization is made ``synchronized=True`` (cross-replica batch
  statistics; Keras' default BN normalises each replica's half-batch alone);
- ``tf.random.normal`` (the GANs' latent codes) returns a fixed pattern: the
  two replicas would draw other random numbers than the single device;
- dropout is 0 and the optimizers are plain SGD (Adam hides loss-scale errors:
  its update does not change when every gradient is doubled).
"""

import json
import sys

import tfxai  # noqa: F401  (before TensorFlow)
from tfxai.distribute import split_cpu

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

RNG = np.random.default_rng(0)
COUNT, GLOBAL_BATCH = 16, 8
SGD = 0.05


def images(shape, count=COUNT):
    return RNG.uniform(0, 255, (count, *shape)).astype("float32")


def labels(classes, count=COUNT):
    return (np.arange(count) % classes).astype("int64")


def classifier():
    from tfxai.backbones import build_classifier

    def build():
        model = build_classifier("small_cnn", 2, (16, 16, 1), dropout=0.0)
        model.compile(keras.optimizers.SGD(SGD), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    return build, (images((16, 16, 1)), labels(2))


def attention_inputs():
    x = images((16, 16, 1))
    maps = (RNG.random((COUNT, 16, 16)) > 0.5).astype("float32")
    return {"images": x, "attention_maps": maps, "has_attention_map": (np.arange(COUNT) % 3 > 0).astype("float32")}


def abn():
    from tfxai.attention import ABN

    def build():
        model = ABN("small_cnn", 3, (16, 16, 1), backbone_filters=(4, 8, 8), attention_filters=4, attention_convs=1,
                    use_mining=True, use_pc=True, use_cot=True, map_weight=1.0, mining_weight=0.5)
        model.compile(keras.optimizers.SGD(SGD), metrics=["accuracy"])
        return model

    return build, (attention_inputs(), labels(3))


def gain():
    from tfxai.attention import GAIN

    def build():
        inputs = keras.Input((16, 16, 1))
        h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="features")(inputs)
        outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling2D()(h))
        model = GAIN(keras.Model(inputs, outputs), layer="features", mining_weight=0.5, map_weight=2.0)
        model.compile(keras.optimizers.SGD(SGD))
        return model

    return build, (attention_inputs(), labels(2).astype("float32"))


def stabn():
    from tfxai.video import STABN

    def build():
        model = STABN(num_classes=2, input_shape=(4, 8, 8, 1), depth=10, base_width=4, attention_filters=4)
        model.compile(keras.optimizers.SGD(SGD))
        return model

    return build, (images((4, 8, 8, 1)), labels(2))


def stargan():
    from tfxai.gan.stargan import StarGANv2

    def build():
        model = StarGANv2(16, 2, style_dim=8, latent_dim=4, class_aware=True, num_classes=3, preset="tiny",
                          ema_decay=0.5, diversity_iterations=4)
        model.compile(weight_decay=0.1)
        model.optimizers = {name: keras.optimizers.SGD(SGD) for name in model.optimizers}
        return model

    count = np.arange(COUNT)
    data = {"images": images((16, 16, 3)), "domains": count % 2, "references": images((16, 16, 3)),
            "references2": images((16, 16, 3)), "reference_domains": 1 - count % 2,
            "labels": np.where(count % 2 == 0, count % 3, -1)}
    return build, (data,)


def collaborative():
    from tfxai.gan import CollaborativeGAN, KnowledgeTransferGraph

    def build():
        model = CollaborativeGAN(2, KnowledgeTransferGraph(2), latent_dim=8, image_size=16, channels=1, filters=4,
                                 total_steps=4)
        model.compile(d_optimizer=keras.optimizers.SGD(SGD), g_optimizer=keras.optimizers.SGD(SGD))
        return model

    return build, (RNG.uniform(-1, 1, (COUNT, 16, 16, 1)).astype("float32"),)


def san1d():
    from tfxai.signal.models import SAN1D
    from tfxai.signal.training import compile_thesis

    def build():
        model = SAN1D(num_classes=2, window_length=16, channels=2, filters=4, dropout=0.0)
        compile_thesis(model, SGD, 0.9, False)
        return model

    return build, (RNG.normal(size=(COUNT, 16, 2)).astype("float32"), labels(2))


def mixed():
    from tfxai.synthesis import MixedTargetModel

    def build():
        net = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(8, activation="relu"),
                                keras.layers.Dense(2, activation="softmax")])
        model = MixedTargetModel(net, kl_weight=0.3)
        model.compile(optimizer=keras.optimizers.SGD(SGD))
        return model

    y = labels(2)
    soft = np.eye(2, dtype="float32")[y]
    soft[::3] = 0.9 * soft[::3] + 0.1 * soft[::3][:, ::-1]
    return build, (RNG.random((COUNT, 6, 6, 1)).astype("float32"), (y, soft))


METHODS = {"classifier": classifier, "abn": abn, "gain": gain, "st_abn": stabn, "stargan_v2": stargan,
           "collaborative_gan": collaborative, "1d_san": san1d, "mixed_training": mixed}


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
