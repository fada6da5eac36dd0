"""ABN (+ mining branch, PC, COT): structure, weight sharing, gradients, training, saving, export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfxai.attention import ABN, AttentionMechanism
from tfxai.attention.abn import COMPLEMENT
from tfxai.attention.masking import mask_out
from tfxai.errors import TfxaiError

SHAPE = (16, 16, 1)
CLASSES = 4


def tiny(**kwargs):
    options = dict(backbone_filters=(4, 8, 8), attention_filters=4, attention_convs=1)
    options.update(kwargs)
    return ABN("small_cnn", CLASSES, SHAPE, **options)


def quadrant_data(count=32, seed=0):
    """Class c has a bright 8x8 quadrant c on a dark noisy background (easy, spatially localised)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % CLASSES
    images = rng.uniform(0, 40, (count,) + SHAPE).astype(np.float32)
    for i, label in enumerate(labels):
        row, column = divmod(int(label), 2)
        images[i, 8 * row : 8 * row + 8, 8 * column : 8 * column + 8] += 200
    return images, labels.astype(np.int32)


def compiled(model, learning_rate=1e-2):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return model


def test_forward_outputs_shapes_and_ranges():
    model = tiny(use_mining=True, use_pc=True)
    images, _ = quadrant_data(4)
    out = model.forward(images)
    assert out["attention"].shape == (4, 4, 4, 1)  # split after block 2: 16 -> 4
    assert out["attention_logits"].shape == out["logits"].shape == (4, CLASSES)
    assert float(tf.reduce_min(out["attention"])) >= 0.0 and float(tf.reduce_max(out["attention"])) <= 1.0
    np.testing.assert_allclose(np.sum(model(images), axis=-1), 1.0, rtol=1e-5)
    maps, probabilities = model.explain(images)
    assert maps.shape == (4, 16, 16) and probabilities.shape == (4, CLASSES)
    np.testing.assert_allclose(probabilities, model(images), rtol=1e-5)
    assert model.mechanism == "multiply" and tiny().mechanism == "residual"


def test_attention_mechanisms():
    features = tf.constant(np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2))
    attention = tf.constant([[[[0.0], [0.5]], [[1.0], [0.25]]]])
    np.testing.assert_allclose(AttentionMechanism("residual")(features, attention), features * (1 + attention))
    np.testing.assert_allclose(AttentionMechanism("multiply")(features, attention), features * attention)
    with pytest.raises(TfxaiError, match="unknown attention mechanism"):
        AttentionMechanism("add")


@pytest.mark.parametrize("mechanism", ["residual", "multiply"])
def test_perception_branch_runs_on_the_attended_features(mechanism):
    """logits = head(GAP(trunk(g(F, M)))) with g(F, M) = F * (1 + M) or F * M, written out by hand."""
    model = tiny(mechanism=mechanism)
    images, _ = quadrant_data(4)
    out = model.forward(images, training=False)
    features, attention = out["features"].numpy(), out["attention"].numpy()
    attended = features * (1.0 + attention) if mechanism == "residual" else features * attention
    np.testing.assert_allclose(out["attended"], attended, rtol=1e-5, atol=1e-6)
    trunk = model.perception_trunk(tf.constant(attended), training=False).numpy()
    head = model.perception_head
    expected = trunk.mean(axis=(1, 2)) @ head.kernel.numpy() + head.bias.numpy()
    np.testing.assert_allclose(out["logits"], expected, rtol=1e-4, atol=1e-5)
    unattended = model.perception_trunk(tf.constant(features), training=False).numpy().mean(axis=(1, 2)) @ head.kernel.numpy()
    assert not np.allclose(unattended + head.bias.numpy(), expected, atol=1e-3)  # M changes the logits


def test_mining_branch_shares_the_perception_branch_variables():
    model = tiny(use_mining=True)
    images, _ = quadrant_data(2)
    features, _, attention = model.features_and_attention(images)
    with tf.GradientTape() as tape:
        mining_logits = model.mining(features, attention)
    with tf.GradientTape() as perception_tape:
        _, perception_logits = model.perceive(features)
    mining_variables = {id(v) for v in tape.watched_variables()}
    perception_variables = {id(v) for v in perception_tape.watched_variables()}
    assert mining_variables == perception_variables and len(mining_variables) > 0
    # the mining branch is the perception branch applied to F* = F - T(M) F
    _, expected = model.perceive(mask_out(features, attention, model.sigma, model.omega))
    np.testing.assert_allclose(mining_logits, expected, rtol=1e-5, atol=1e-6)
    # no extra weights: ABN with the mining branch has exactly as many variables as plain ABN
    assert len(model.trainable_variables) == len(tiny().trainable_variables)
    assert perception_logits.shape == mining_logits.shape


def test_mining_loss_gradient_reaches_the_attention_branch():
    model = tiny(use_mining=True, use_pc=True)
    images, labels = quadrant_data(8)
    branch = model.attention_branch
    with tf.GradientTape() as tape:
        terms, _ = model.loss_terms(images, labels, training=True)
        mining = tf.reduce_sum(terms["mining"])
    gradients = tape.gradient(mining, [branch.map_conv.kernel, branch.class_maps.kernel, model.perception_head.kernel])
    for gradient in gradients:
        assert gradient is not None and float(tf.reduce_max(tf.abs(gradient))) > 0.0
    # and the attention-branch cross-entropy never reaches the perception head (sanity of the graph)
    with tf.GradientTape() as tape:
        terms, _ = model.loss_terms(images, labels, training=True)
        attention_only = tf.reduce_mean(terms["attention"])
    assert tape.gradient(attention_only, model.perception_head.kernel) is None


def test_loss_terms_per_update():
    model = tiny(use_mining=True, use_pc=True, use_cot=True)
    assert model.updates == ("main", COMPLEMENT)
    assert model.loss_term_names == ["attention", "perception", "pc", "cot"]  # no L_am with COT, as in the paper
    assert tiny(use_mining=True).loss_term_names == ["attention", "perception", "mining"]
    images, labels = quadrant_data(4)
    terms, probabilities = model.loss_terms(images, labels, update=COMPLEMENT)
    assert set(terms) == {"cot"} and terms["cot"].shape == (4,) and probabilities.shape == (4, CLASSES)
    assert float(tf.reduce_min(terms["cot"])) >= -1e-6  # log(K-1) - C >= 0


def test_pretraining_gate_switches_mining_terms_on_at_the_given_step():
    model = compiled(tiny(use_mining=True, pretrain_steps=5, mining_weight=10.0))
    images, labels = quadrant_data(4)
    terms, _ = model.loss_terms(images, labels)
    plain = float(np.mean(terms["attention"]) + np.mean(terms["perception"]))
    assert float(model._objective(terms, "main", None)) == pytest.approx(plain, rel=1e-5)
    model.optimizer.iterations.assign(4)  # the last pretraining step: still off
    assert float(model._objective(terms, "main", None)) == pytest.approx(plain, rel=1e-5)
    model.optimizer.iterations.assign(5)
    with_mining = plain + 10.0 * float(np.sum(terms["mining"]))
    assert float(model._objective(terms, "main", None)) == pytest.approx(with_mining, rel=1e-5)


def test_training_on_tiny_data_lowers_the_losses():
    images, labels = quadrant_data(32)
    model = compiled(tiny(use_mining=True, use_pc=True, use_cot=True))
    history = model.fit(images, labels, epochs=6, batch_size=8, verbose=0, shuffle=False)
    h = history.history
    assert h["perception_loss"][-1] < h["perception_loss"][0]
    assert h["attention_loss"][-1] < h["attention_loss"][0]
    assert h["cot_loss"][-1] < h["cot_loss"][0]
    # two gradient updates per step: the COT optimizer ran as often as the main one
    assert int(model.optimizer.iterations) == int(model.update_optimizers[COMPLEMENT].iterations) == 6 * 4
    plain = compiled(tiny())
    h = plain.fit(images, labels, epochs=6, batch_size=8, verbose=0, shuffle=False).history
    # seeds 0-3 (2-core CPU, TF 2.21): last-epoch accuracy 1.0 on all four (1.0 from the 3rd or 4th epoch)
    assert h["loss"][-1] < h["loss"][0] and h["accuracy"][-1] >= 0.9


# Training under a distribution strategy: tests/distribute/test_equality.py trains ABN (mining, PC, COT, map
# supervision) for one epoch on two logical CPUs and checks the weights equal one device's at the same global batch.


def test_keras_round_trip_keeps_outputs_config_and_hyperparameters(tmp_path):
    images, labels = quadrant_data(16)
    model = compiled(tiny(use_mining=True, use_pc=True, use_cot=True, sigma=0.3, omega=7.0, pc_weight=0.5))
    model.sigma.assign(0.35)  # scheduled hyperparameters are saved with their current value
    path = str(tmp_path / "abn.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, ABN) and loaded.updates == model.updates
    assert loaded.get_config() == model.get_config()
    assert loaded.get_config()["sigma"] == pytest.approx(0.35)
    np.testing.assert_allclose(loaded(images), model(images), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loaded.explain(images)[0], model.explain(images)[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loaded.perception_prototypes.perception.centroids, model.perception_prototypes.perception.centroids)
    # the compiled state came back (both optimizers): training continues
    assert set(loaded.update_optimizers) == {COMPLEMENT}
    loaded.fit(images[:8], labels[:8], epochs=1, batch_size=8, verbose=0)
    assert int(loaded.update_optimizers[COMPLEMENT].iterations) == 1


def test_savedmodel_serves_probabilities_and_attention_maps(tmp_path):
    from tfxai.io.export import export_saved_model

    images, _ = quadrant_data(3)
    model = tiny(use_mining=True)
    path = export_saved_model(model, str(tmp_path / "saved"), explain=model.explain)
    reloaded = tf.saved_model.load(path)
    outputs = reloaded.signatures["serving_default"](images=tf.constant(images))
    maps, probabilities = model.explain(images)
    np.testing.assert_allclose(outputs["probabilities"], probabilities, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs["heatmap"], maps, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(outputs["class_id"], np.argmax(probabilities, axis=-1))
    as_uint8 = reloaded.signatures["serve_uint8"](images=tf.constant(images.astype(np.uint8)))
    maps8, probabilities8 = model.explain(images.astype(np.uint8).astype(np.float32))
    np.testing.assert_allclose(as_uint8["probabilities"], probabilities8, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(as_uint8["heatmap"], maps8, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(use_cot=True), "turn on use_mining"),
        (dict(num_classes=2, use_mining=True, use_cot=True), "at least 3 classes"),
        (dict(num_classes=1), "at least 2 classes"),
        (dict(mechanism="add"), "unknown attention mechanism"),
        (dict(backbone="nope"), "nope"),
    ],
)
def test_bad_options_raise(kwargs, message):
    options = dict(backbone="small_cnn", num_classes=CLASSES, input_shape=SHAPE, backbone_filters=(4, 8, 8), attention_filters=4)
    options.update(kwargs)
    with pytest.raises(TfxaiError, match=message):
        ABN(**options)


def test_compile_rejects_a_loss_and_dict_inputs_need_images():
    model = tiny()
    with pytest.raises(TfxaiError, match="computes its own losses"):
        model.compile(optimizer="adam", loss="mse")
    with pytest.raises(TfxaiError, match="no 'images'"):
        model({"pixels": np.zeros((1,) + SHAPE, np.float32)})


def test_small_preset_with_another_backbone_leaves_that_backbone_its_own_widths():
    from tfxai.attention.abn_training import ABNConfig, build_abn

    config = ABNConfig.from_preset("small", backbone="mobilenet_v2", image_size=64, channels=3)
    model = build_abn(config, num_classes=3, steps_per_epoch=1)
    assert model.backbone_filters is None
    assert model(np.zeros((1, 64, 64, 3), np.float32)).shape == (1, 3)


def test_init_starts_from_the_saved_weights_and_the_human_map_loss_falls(tmp_path):
    from tfxai.attention.abn_training import ABNConfig, build_abn

    images, labels = quadrant_data(16)
    trained = compiled(tiny(use_mining=True, pretrain_steps=50))
    trained.fit(images, labels, epochs=1, batch_size=8, verbose=0)
    trained.save(tmp_path / "abn.keras")
    config = ABNConfig.from_preset("small", init=str(tmp_path / "abn.keras"), human_maps=str(tmp_path), map_weight=3.0,
                                   image_size=16, channels=1)
    tuned = build_abn(config, num_classes=CLASSES, steps_per_epoch=2)
    assert (tuned.get_config()["map_weight"], tuned.pretrain_steps) == (3.0, 0)
    for start, saved in zip(tuned.weights, trained.weights):
        np.testing.assert_array_equal(start.numpy(), saved.numpy(), err_msg=saved.path)
    masks = np.zeros((16, 16, 16), np.float32)  # "attend to the class quadrant"
    for i, label in enumerate(labels):
        row, column = divmod(int(label), 2)
        masks[i, 8 * row : 8 * row + 8, 8 * column : 8 * column + 8] = 1.0
    x = {"images": images, "attention_maps": masks, "has_attention_map": np.ones(16, np.float32)}
    history = compiled(tuned).fit(x, labels, epochs=6, batch_size=8, verbose=0, shuffle=False).history
    # map loss end/start, seeds 0-3 (2-core CPU, TF 2.21): 0.76, 0.54, 0.50, 0.53
    assert history["map_loss"][-1] < 0.85 * history["map_loss"][0], history["map_loss"]


def test_a_weights_file_is_loaded_into_a_small_cnn_with_custom_widths(tmp_path):
    from tfxai.classify.backbones import small_cnn

    keras.utils.set_random_seed(5)
    base = small_cnn((16, 16, 1), filters=(4, 8, 8))
    path = str(tmp_path / "small.weights.h5")
    base.save_weights(path)
    abn = ABN(backbone="small_cnn", num_classes=3, input_shape=(16, 16, 1), weights=path, backbone_filters=(4, 8, 8))
    loaded = [v.numpy() for v in abn.feature_extractor.weights if "block1_conv1" in v.path]
    assert loaded, [v.path for v in abn.feature_extractor.weights]
    np.testing.assert_array_equal(loaded[0], base.get_layer("block1_conv1").kernel.numpy())
    with pytest.raises(TfxaiError, match="does not exist"):
        ABN(backbone="small_cnn", num_classes=3, input_shape=(16, 16, 1), weights=str(tmp_path / "missing.h5"), backbone_filters=(4, 8, 8))


@pytest.mark.parametrize("variant", ["paper", "chen"])
def test_cot_update_uses_the_chosen_complement_entropy_of_the_mining_branch(variant):
    from tfxai.attention import losses

    options = {} if variant == "paper" else {"cot_variant": "chen"}  # the paper's variant is the default
    model = tiny(use_mining=True, use_cot=True, **options)
    assert model.cot_variant == variant and model.get_config()["cot_variant"] == variant
    images, labels = quadrant_data(4)
    terms, _ = model.loss_terms(images, labels, update=COMPLEMENT)
    features, _, attention = model.features_and_attention(images)
    mining_logits = model.mining(features, attention)
    expected = losses.complement_entropy_gap(labels, logits=mining_logits, reduction="none", variant=variant)
    np.testing.assert_allclose(terms["cot"], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(TfxaiError, match="unknown cot_variant"):
        tiny(use_mining=True, use_cot=True, cot_variant="flat")


def test_hard_mask_erases_whole_features_and_still_trains_the_attention_branch():
    model = tiny(use_mining=True, mask="hard", sigma=0.5)
    assert model.get_config()["mask"] == "hard" and ABN.from_config(model.get_config()).mask == "hard"
    images, labels = quadrant_data(4)
    features, _, attention = model.features_and_attention(images)
    sigma = float(np.median(attention.numpy()))
    model.sigma.assign(sigma)  # half of the map covered, whatever the initial attention
    masked = model.masked_features(features, attention).numpy()
    covered = attention.numpy() > sigma
    assert covered.any() and not covered.all()  # both cases occur
    np.testing.assert_array_equal(masked, np.where(covered, 0.0, features.numpy()))
    with tf.GradientTape() as tape:
        terms, _ = model.loss_terms(images, labels)
        mining = tf.reduce_sum(terms["mining"])
    gradients = tape.gradient(mining, model.attention_branch.trainable_variables)
    assert any(float(tf.reduce_max(tf.abs(g))) > 0 for g in gradients if g is not None)
    with pytest.raises(TfxaiError, match="unknown mask"):
        tiny(use_mining=True, mask="binary")


def test_pc_term_is_summed_over_the_batch_with_the_papers_reduction_and_normalized_by_default():
    images, labels = quadrant_data(8)
    model = compiled(tiny(use_mining=True, use_pc=True, pc_reduction="sum", pc_weight=0.5))
    assert model.pc_normalize and model.perception_prototypes.perception.normalize  # bounded form by default
    config = model.get_config()
    assert config["pc_reduction"] == "sum" and config["pc_normalize"] is True
    terms, _ = model.loss_terms(images, labels)
    values = {name: float(np.mean(v)) for name, v in terms.items()}
    expected = values["attention"] + values["perception"] + 1e-4 * 8 * values["mining"] + 0.5 * 8 * values["pc"]
    assert float(model._objective(terms, "main", None)) == pytest.approx(expected, rel=1e-5)
    assert np.all(terms["pc"].numpy() >= -8.0 - 1e-5) and np.all(terms["pc"].numpy() <= 4.0 + 1e-5)
    raw = tiny(use_mining=True, use_pc=True, pc_normalize=False)
    assert raw.perception_prototypes.attention.normalize is False and raw.get_config()["pc_reduction"] == "mean"
    with pytest.raises(TfxaiError, match="unknown pc_reduction"):
        tiny(use_pc=True, pc_reduction="max")


def test_paper_preset_pretrains_plain_abn_for_300_epochs_then_trains_the_full_method_for_300():
    from tfxai.attention.abn_training import ABNConfig, build_abn

    paper = ABNConfig.from_preset("paper")
    assert (paper.pretrain_epochs, paper.epochs - paper.pretrain_epochs) == (300, 300)  # step 1, then steps 2-4
    assert (paper.mask, paper.cot_variant, paper.pc_reduction, paper.pc_normalize) == ("hard", "paper", "sum", True)
    assert (paper.use_mining, paper.use_pc, paper.use_cot, paper.batch_size, paper.sigma, paper.mining_weight) == (
        True, True, True, 16, 0.78, 1e-4)
    # the same values on a tiny backbone: the model gets them, epochs become optimizer steps
    config = ABNConfig.from_preset("paper", backbone="small_cnn", weights="none", backbone_filters=(4, 8, 8), image_size=16,
                                   channels=1, attention_filters=4, attention_convs=1)
    model = build_abn(config, num_classes=4, steps_per_epoch=7)
    assert model.pretrain_steps == 300 * 7
    assert (model.mask, model.cot_variant, model.pc_reduction, model.pc_normalize) == ("hard", "paper", "sum", True)
    assert {term.name: term.start_step for term in model._terms.values()} == {"attention": 0, "perception": 0, "pc": 2100, "cot": 2100}
    assert model._terms["pc"].reduction == "sum"
    with pytest.raises(TfxaiError, match=r"pretrain_epochs \(300\) must be below epochs \(10\)"):
        ABNConfig.from_preset("paper", epochs=10)
    small = ABNConfig.from_preset("small")
    assert (small.pretrain_epochs, small.mask, small.pc_reduction) == (0, "soft", "mean")
