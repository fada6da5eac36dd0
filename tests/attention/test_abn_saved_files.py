"""ABN's Keras classes keep their registered names, so ``.keras`` files saved before ABN's layers moved module still load."""

import json
import zipfile

import numpy as np

import tfxai  # noqa: F401  (before TensorFlow)
import keras

from tfxai.attention import ABN, AttentionBranch, AttentionMechanism
from tfxai.attention.abn_layers import PrototypeConformityPair

#: The names ABN's classes were registered under when they all lived in tfxai/attention/abn.py.
REGISTERED_BEFORE_THE_SPLIT = {
    "tfxai>ABN": ABN,
    "tfxai>AttentionBranch": AttentionBranch,
    "tfxai>AttentionMechanism": AttentionMechanism,
    "tfxai>PrototypeConformityPair": PrototypeConformityPair,
}
OLD_MODULE = "tfxai.attention.abn"


def test_abn_classes_are_registered_under_their_old_names():
    for name, cls in REGISTERED_BEFORE_THE_SPLIT.items():
        assert keras.saving.get_registered_object(name) is cls
        assert keras.saving.get_registered_name(cls) == name


def _rewrite_modules(path, old_module):
    """Rewrite the file's config as the code before the split wrote it: every tfxai object's module is ``old_module``."""
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(entries["config.json"])
    seen = []

    def walk(node):
        if isinstance(node, dict):
            if str(node.get("registered_name", "")).startswith("tfxai>"):
                seen.append((node["module"], node["registered_name"]))
                node["module"] = old_module
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return seen


def test_a_model_of_abn_layers_saved_before_the_split_loads_with_equal_outputs(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 4))
    logits, attention = AttentionBranch(3, filters=4, convs=1, name="branch")(inputs)
    attended = AttentionMechanism("multiply", name="mechanism")(inputs, attention)
    model = keras.Model(inputs, [logits, attended])
    x = np.random.default_rng(0).random((2, 8, 8, 4)).astype(np.float32)
    expected = model(x, training=False)
    path = tmp_path / "layers.keras"
    model.save(path)
    seen = _rewrite_modules(path, OLD_MODULE)
    assert {name for _, name in seen} == {"tfxai>AttentionBranch", "tfxai>AttentionMechanism"}
    loaded = keras.saving.load_model(path)
    for want, got in zip(expected, loaded(x, training=False)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-6)


def test_a_tiny_abn_with_mining_and_pc_saved_as_keras_reloads_with_equal_outputs(tmp_path):
    keras.utils.set_random_seed(0)
    model = ABN("small_cnn", 3, (16, 16, 1), backbone_filters=(4, 8, 8), attention_filters=4, attention_convs=1,
                use_mining=True, use_pc=True)
    x = (np.random.default_rng(1).random((2, 16, 16, 1)) * 255).astype(np.float32)
    path = tmp_path / "abn.keras"
    model.save(path)
    assert _rewrite_modules(path, OLD_MODULE) == [(OLD_MODULE, "tfxai>ABN")]
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, ABN) and isinstance(loaded.perception_prototypes, PrototypeConformityPair)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)
    old_maps, _ = model.explain(x)
    new_maps, _ = loaded.explain(x)
    np.testing.assert_allclose(np.asarray(new_maps), np.asarray(old_maps), atol=1e-6)
