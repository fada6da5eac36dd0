"""Every tfxai Keras class loads after ``import tfxai`` alone (issue 17), without importing TensorFlow early."""

import os
import re

import numpy as np
import pytest

import tfxai
from tfxai._serializables import REGISTERING_MODULES
from tfxai.testing import run_python

LOAD = """
import sys, numpy as np
import tfxai
assert "tensorflow" not in sys.modules, "import tfxai imported TensorFlow"
if sys.argv[1] == "via-tensorflow":  # TensorFlow looks keras up before importing it
    import tensorflow as tf
    keras = tf.keras
else:
    import keras
for path in sys.argv[2:]:
    model = keras.models.load_model(path)
    out = model.predict(np.load(path + ".x.npy"), verbose=0)
    out = out[0] if isinstance(out, (list, tuple)) else out
    print(type(model).__name__, float(np.sum(out)))
"""


@pytest.mark.parametrize("route", ["keras", "via-tensorflow"])
def test_abn_and_san1d_load_in_a_fresh_process_after_import_tfxai_alone(route, tmp_path):
    import keras

    from tfxai.attention import ABN
    from tfxai.signal.models import SAN1D

    models = {
        "abn.keras": (ABN("small_cnn", 3, (16, 16, 1), backbone_filters=(4, 8, 8), attention_filters=4, attention_convs=1),
                      np.random.default_rng(0).random((2, 16, 16, 1), np.float32)),
        "san.keras": (SAN1D(num_classes=3, window_length=16, channels=3, filters=8),
                      np.random.default_rng(1).random((2, 16, 3), np.float32)),
    }
    expected = []
    for name, (model, x) in models.items():
        out = model.predict(x, verbose=0)
        out = out[0] if isinstance(out, (list, tuple)) else out
        model.save(tmp_path / name)
        np.save(tmp_path / f"{name}.x.npy", x)
        expected.append((type(model).__name__, float(np.sum(out))))
    assert keras.saving.get_registered_object("tfxai>ABN") is ABN
    env = {k: v for k, v in os.environ.items()}
    done = run_python(LOAD, route, *(tmp_path / n for n in models), cwd=tmp_path, env=env)
    loaded = [(line.split()[0], float(line.split()[1])) for line in done.stdout.strip().splitlines()]
    assert [name for name, _ in loaded] == [name for name, _ in expected]
    np.testing.assert_allclose([v for _, v in loaded], [v for _, v in expected], rtol=1e-5)


def test_every_module_that_registers_a_keras_class_is_in_the_list():
    root = os.path.dirname(tfxai.__file__)
    registering = set()
    for folder, _, files in os.walk(root):
        for file in files:
            path = os.path.join(folder, file)
            if file.endswith(".py") and re.search(r"register_keras_serializable\(", open(path, encoding="utf-8").read()):
                if file != "_serializables.py":
                    module = os.path.relpath(path[:-3], os.path.dirname(root)).replace(os.sep, ".")
                    registering.add(module.removesuffix(".__init__"))
    assert registering == set(REGISTERING_MODULES)
