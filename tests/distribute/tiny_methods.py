"""Tiny builders of every tfxai train_step's model, with a few batches of data (shared by the distribution and mixed-precision tests).

``METHODS[name]()`` returns ``(build, data)``: ``build()`` makes and compiles a
fresh model (plain SGD, no dropout), ``data`` a tuple of arrays for
``tf.data.Dataset.from_tensor_slices`` (one element: inputs only). Models are
imported when built, so a caller can patch Keras first (equality_script.py does).
"""

import keras
import numpy as np

RNG = np.random.default_rng(0)
COUNT, GLOBAL_BATCH = 16, 8
SGD = 0.05


def images(shape, count=COUNT):
    return RNG.uniform(0, 255, (count, *shape)).astype("float32")


def labels(classes, count=COUNT):
    return (np.arange(count) % classes).astype("int64")


def classifier():
    from tfxai.classify.backbones import build_classifier

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
