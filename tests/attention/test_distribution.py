"""Attention models under a MirroredStrategy of two logical CPUs train and report like one device."""

import json
import os
import textwrap

import numpy as np
import pytest

from tfxai.testing import run_python

# Logical devices must be configured before TensorFlow initialises its devices, so the
# comparison runs in a fresh process (the test session has initialised them long ago).
SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tfxai  # before tensorflow
    import keras, numpy as np, tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tfxai.attention import ABN, GAIN

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (8, 16, 16, 1)).astype(np.float32)
    labels = (np.arange(8) % 2).astype(np.float32)
    masks = (rng.random((8, 16, 16)) > 0.5).astype(np.float32)
    x = {"images": images, "attention_maps": masks, "has_attention_map": np.array([1, 0, 1, 1, 0, 1, 0, 1], np.float32)}
    weights = np.linspace(0.5, 1.5, 8).astype(np.float32)

    def gain():
        inputs = keras.Input((16, 16, 1))
        h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="features")(inputs)
        outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling2D()(h))
        return GAIN(keras.Model(inputs, outputs), layer="features", mining_weight=0.5, map_weight=2.0)

    def abn():
        return ABN("small_cnn", 2, (16, 16, 1), backbone_filters=(4, 8, 8), attention_filters=4, attention_convs=1,
                   use_mining=True, use_pc=True)

    def run(build, devices, start):
        strategy = tf.distribute.MirroredStrategy(devices) if devices else tf.distribute.get_strategy()
        with strategy.scope():
            model = build()
            model(x["images"][:1])
            model.set_weights(start)
            model.compile(keras.optimizers.SGD(0.05))
        report = model.evaluate(x, labels, sample_weight=weights, batch_size=8, verbose=0, return_dict=True)
        if build is gain:  # no batch normalization: one training step is the same on any number of replicas
            model.fit(x, labels, sample_weight=weights, batch_size=8, epochs=1, shuffle=False, verbose=0)
        return report, [w.tolist() for w in model.get_weights()]

    out = {}
    for name, build in (("gain", gain), ("abn", abn)):
        model = build()
        model(x["images"][:1])
        start = model.get_weights()
        one = run(build, None, start)
        two = run(build, ["/cpu:0", "/cpu:1"], start)
        out[name] = {"one": one, "two": two, "replicas": 2}
    print(json.dumps(out))
    """
)


def test_two_logical_cpus_train_and_report_like_one_device(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = run_python(SCRIPT, env=env, cwd=tmp_path)
    out = json.loads(result.stdout.strip().splitlines()[-1])
    for name, runs in out.items():
        (one_report, one_weights), (two_report, two_weights) = runs["one"], runs["two"]
        assert set(one_report) == set(two_report)
        for key, value in one_report.items():  # losses over the global batch, not per replica or doubled
            assert two_report[key] == pytest.approx(value, rel=1e-4, abs=1e-6), (name, key, one_report, two_report)
        for a, b in zip(one_weights, two_weights):
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-6, err_msg=name)
