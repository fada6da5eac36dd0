"""ST-ABN and the 3D ResNet baseline: attention shapes and ranges, inversion, losses, saving and export."""

import os

import numpy as np
import pytest

import tfxai  # noqa: F401  (before TensorFlow)
import keras
import tensorflow as tf

from tfxai.errors import TfxaiError
from tfxai.video import R3D, STABN, clip_average, inversion_table

SHAPE = (6, 16, 16, 3)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return STABN(num_classes=7, input_shape=SHAPE, depth=10, base_width=4, attention_filters=8)


@pytest.fixture(scope="module")
def clips():
    return np.random.default_rng(0).uniform(0, 255, (3,) + SHAPE).astype(np.float32)


def test_attention_shapes_and_ranges(model, clips):
    attention = model.attention(clips)
    assert attention["spatial"].shape == (3,) + SHAPE[:3]
    assert attention["temporal"].shape == (3, SHAPE[0])
    temporal = attention["temporal"].numpy()
    assert np.all(temporal > 0) and np.all(temporal < 1)
    spatial = attention["spatial"].numpy()
    assert spatial.min() >= 0 and spatial.max() <= 1
    maps, probabilities = model.explain(clips)
    np.testing.assert_allclose(maps, spatial, atol=1e-6)
    np.testing.assert_allclose(probabilities.numpy().sum(axis=1), 1.0, atol=1e-5)


def test_spatial_map_is_the_branch_map_upsampled(model, clips):
    # the branch's map at feature resolution, averaged over each 4x4 pixel patch of the upsampled one
    low = model.forward(clips, training=False)["spatial"].numpy()  # (3, T, 1, 1) for 16x16 input
    high = model.attention(clips)["spatial"].numpy()
    assert low.shape[1] == SHAPE[0]
    np.testing.assert_allclose(high.mean(axis=(2, 3)), low.mean(axis=(2, 3)), atol=1e-5)


def test_inverting_attention_changes_the_output_and_feeds_one_minus_m(model, clips):
    base = model.forward(clips, training=False)
    for spatial, temporal in ((True, False), (False, True)):
        inverted = model.forward(clips, training=False, invert_spatial=spatial, invert_temporal=temporal)
        assert not np.allclose(inverted["logits"], base["logits"], atol=1e-6)
    # the same thing computed by hand: the mechanism on 1 - M_s, 1 - M_t
    features = model.feature_extractor(clips, training=False)
    attended = model.mechanism(features, 1.0 - base["spatial"], 1.0 - base["temporal"], training=False)
    logits = model.perception_head(tf.reduce_mean(model.perception_trunk(attended, training=False), axis=(1, 2, 3)))
    both = model.forward(clips, training=False, invert_spatial=True, invert_temporal=True)
    np.testing.assert_allclose(both["logits"], logits, atol=1e-5)


def test_inversion_table_rows(model, clips):
    rows = inversion_table(model, clips, [0, 1, 2], batch_size=2)
    assert [(r["spatial_inverted"], r["temporal_inverted"]) for r in rows] == [(False, False), (True, False), (False, True), (True, True)]
    probabilities = model.forward(clips, training=False, invert_temporal=True)["probabilities"].numpy()
    assert rows[2]["top1"] == pytest.approx(np.mean(probabilities.argmax(1) == [0, 1, 2]))
    assert all("top5" in row for row in rows)  # 7 classes
    with pytest.raises(TfxaiError, match="no spatio-temporal attention"):
        inversion_table(R3D(3, SHAPE, depth=10, base_width=4), clips, [0, 1, 2])


def test_clip_average_is_the_mean_over_clips(model, clips):
    pairs = [[0, 1], [2, 0], [1, 2]]  # 3 videos x 2 clips
    videos = np.stack([clips[pair] for pair in pairs])
    probabilities = model(clips, training=False).numpy()
    expected = np.stack([probabilities[pair].mean(0) for pair in pairs])
    np.testing.assert_allclose(clip_average(model, videos, batch_size=3), expected, atol=1e-5)


def test_loss_is_weighted_sum_of_attention_and_perception_cross_entropy(model, clips):
    labels = np.array([0, 3, 6])
    model.hyperparameter("attention_weight").assign(0.25)
    try:
        terms, _ = model.loss_terms(clips, labels, training=False)
        out = model.forward(clips, training=False)
        expected_att = -np.log(tf.nn.softmax(out["attention_logits"]).numpy()[np.arange(3), labels])
        expected_per = -np.log(out["probabilities"].numpy()[np.arange(3), labels])
        np.testing.assert_allclose(terms["attention"], expected_att, rtol=1e-4)
        np.testing.assert_allclose(terms["perception"], expected_per, rtol=1e-4)
        objective = model._objective(terms, "main", None)
        assert float(objective) == pytest.approx(0.25 * expected_att.mean() + expected_per.mean(), rel=1e-4)
    finally:
        model.hyperparameter("attention_weight").assign(1.0)


def test_training_steps_lower_the_loss_and_keras_round_trip(tmp_path, clips):
    keras.utils.set_random_seed(1)
    model = STABN(num_classes=3, input_shape=SHAPE, depth=10, base_width=4, attention_filters=8, perception_weight=0.5)
    model.compile(keras.optimizers.Adam(3e-3))
    labels = np.array([0, 1, 2])
    history = model.fit(clips, labels, epochs=8, batch_size=3, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    assert set(history) >= {"attention_loss", "perception_loss"}
    path = str(tmp_path / "st_abn.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, STABN)
    assert float(loaded.hyperparameter("perception_weight").numpy()) == 0.5
    for key, value in model.attention(clips).items():
        np.testing.assert_allclose(loaded.attention(clips)[key], value, atol=1e-5)


def test_export_serves_probabilities_and_both_attentions(tmp_path, model, clips):
    from tfxai.io.export import export_saved_model

    path = export_saved_model(model, str(tmp_path / "saved"))
    served = tf.saved_model.load(path).signatures["serving_default"](images=tf.constant(clips))
    attention = model.attention(clips)
    np.testing.assert_allclose(served["spatial"], attention["spatial"], atol=1e-5)
    np.testing.assert_allclose(served["temporal"], attention["temporal"], atol=1e-5)
    np.testing.assert_allclose(served["heatmap"], attention["spatial"], atol=1e-5)
    np.testing.assert_allclose(served["probabilities"], model(clips, training=False), atol=1e-5)
    assert os.path.isdir(path)


def test_r3d_is_explained_by_gradcam_per_frame(clips):
    from tfxai.explain import GradCAM
    from tfxai.explain.protocol import explain_in_batches

    r3d = R3D(3, SHAPE, depth=10, base_width=4)
    maps, probabilities = explain_in_batches(GradCAM(r3d), clips, batch_size=2)
    assert maps.shape == (3,) + SHAPE[:3] and probabilities.shape == (3, 3)
    assert maps.min() >= 0 and maps.max() <= 1


def test_bad_structure_is_a_one_line_error():
    with pytest.raises(TfxaiError, match="depth"):
        STABN(num_classes=3, input_shape=SHAPE, depth=11)
    with pytest.raises(TfxaiError, match="at least 2 classes"):
        STABN(num_classes=1, input_shape=SHAPE, depth=10)


def test_temporal_attention_is_trained_through_the_perception_loss(clips):
    # L_per reaches M_t only through the mechanism's f_t = M_t f: with L_att off, one step must move the temporal head
    keras.utils.set_random_seed(2)
    model = STABN(num_classes=3, input_shape=SHAPE, depth=10, base_width=4, attention_filters=8, attention_weight=0.0)
    model.compile(keras.optimizers.SGD(0.1))
    before = [w.numpy().copy() for w in model.attention_branch.temporal_out.weights]
    model.train_on_batch(clips, np.array([0, 1, 2]))
    after = [w.numpy() for w in model.attention_branch.temporal_out.weights]
    assert any(not np.allclose(a, b) for a, b in zip(after, before))


def _evidence_in_frames_10_to_15(n, seed, frames=16, size=8):
    """Class = side of a bright square in frames 10-15; frames 0-9 hold a square on a random side (a distractor)."""
    rng = np.random.default_rng(seed)
    clips = rng.uniform(0, 40, (n, frames, size, size, 1)).astype(np.float32)
    labels = rng.integers(0, 2, n)
    for i in range(n):
        for t in range(frames):
            side = labels[i] if t >= 10 else rng.integers(0, 2)
            clips[i, t, 2:6, side * 4 : side * 4 + 4] += 200
    return clips, labels


@pytest.mark.slow
def test_temporal_attention_peaks_on_the_evidence_frames_after_training():
    keras.utils.set_random_seed(0)
    clips, labels = _evidence_in_frames_10_to_15(64, 0)
    model = STABN(2, (16, 8, 8, 1), depth=10, base_width=4, attention_filters=8)
    model.compile(keras.optimizers.Adam(3e-3), metrics=["accuracy"])
    model.fit(clips, labels, epochs=15, batch_size=16, verbose=0)
    weights = model.attention(_evidence_in_frames_10_to_15(32, 1)[0])["temporal"].numpy().mean(axis=0)
    assert 10 <= int(weights.argmax()) <= 15, np.round(weights, 2)
    assert weights[10:].mean() > weights[:10].mean()


def test_mechanism_is_fusion_of_residual_spatial_and_multiplied_temporal():
    from tfxai.video.stabn import STMechanism

    rng = np.random.default_rng(3)
    features = rng.normal(size=(2, 3, 2, 2, 4)).astype(np.float32)
    spatial = rng.uniform(size=(2, 3, 2, 2)).astype(np.float32)
    temporal = rng.uniform(size=(2, 3)).astype(np.float32)
    mechanism = STMechanism(4)
    out = mechanism(features, spatial, temporal, training=False).numpy()
    kernel = mechanism.fusion.kernel.numpy().reshape(8, 4)
    bn = mechanism.fusion_bn
    stacked = np.concatenate([(1 + spatial[..., None]) * features, temporal[:, :, None, None, None] * features], axis=-1)
    expected = (stacked @ kernel - bn.moving_mean.numpy()) / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
    np.testing.assert_allclose(out, np.maximum(expected * bn.gamma.numpy() + bn.beta.numpy(), 0), atol=1e-5)


def test_the_stem_pool_is_maxpooling3d_one_frame_deep_and_old_models_load_alike(tmp_path):
    # FramewiseMaxPooling replaced MaxPooling3D((1, 3, 3), strides (1, 2, 2)) so LiteRT exports need no Select TF ops
    from tfxai.video.resnet3d import FramewiseMaxPooling

    x = np.random.default_rng(3).normal(size=(2, 5, 13, 12, 3)).astype("float32")  # odd sizes: "same" padding at the edges
    reference = keras.layers.MaxPooling3D((1, 3, 3), strides=(1, 2, 2), padding="same")(x)
    np.testing.assert_array_equal(np.asarray(FramewiseMaxPooling(3, strides=2)(x)), np.asarray(reference))
    new = R3D(2, (4, 16, 16, 3), depth=10, base_width=4)
    assert isinstance(new.get_layer("stem_pool"), FramewiseMaxPooling)
    # a model saved before the change (stem pool = MaxPooling3D) gives the same outputs with the same weights
    config = new.get_config()
    for layer in config["layers"]:
        if layer["name"] == "stem_pool":
            layer.update(class_name="MaxPooling3D", module="keras.layers", registered_name=None,
                         config={"name": "stem_pool", "pool_size": (1, 3, 3), "strides": (1, 2, 2), "padding": "same",
                                 "data_format": "channels_last", "trainable": True, "dtype": layer["config"]["dtype"]})
    old = keras.Model.from_config(config)
    old.set_weights(new.get_weights())
    clips = np.random.default_rng(4).random((2, 4, 16, 16, 3)).astype("float32") * 255
    np.testing.assert_allclose(np.asarray(old(clips)), np.asarray(new(clips)), atol=1e-6)
    old.save(tmp_path / "old.keras")
    reloaded = keras.models.load_model(tmp_path / "old.keras")
    assert isinstance(reloaded.get_layer("stem_pool"), keras.layers.MaxPooling3D)
    np.testing.assert_allclose(np.asarray(reloaded(clips)), np.asarray(new(clips)), atol=1e-6)
