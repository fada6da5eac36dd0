"""``tfxai tta`` reads its images a batch at a time and counts correct predictions only: the same accuracies as all in memory."""

import os

import cv2
import keras
import numpy as np
import pytest
from click.testing import CliRunner

import tfxai  # noqa: F401  (before TensorFlow)
from tfxai.apps.cli import main

COUNTS = (41, 30)  # 71 images: --batch-size 16 splits them into 4 batches of 18, 18, 18 and 17


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """An untrained tiny StarGAN v2, a small random classifier, and 71 labelled images (some grayscale, of other sizes)."""
    from tfxai.gan.stargan import StarGANv2

    root = tmp_path_factory.mktemp("tta_stream")
    rng = np.random.default_rng(0)
    for index, (name, count) in enumerate(zip(("dark", "light"), COUNTS)):
        os.makedirs(root / "data" / name)
        for i in range(count):
            image = rng.integers(0, 140, (18, 20, 3), dtype=np.uint8) + 100 * index
            cv2.imwrite(str(root / "data" / name / f"{i:03d}.png"), image[..., 0] if i % 9 == 0 else image)
    keras.utils.set_random_seed(1)
    StarGANv2(16, 2, style_dim=8, latent_dim=4, preset="tiny").save(root / "translator.keras")
    # "light" when brighter than 143, the untrained translator's mean output: its calls then hang on the random styles drawn
    classifier = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Rescaling(1 / 255.0), keras.layers.GlobalAveragePooling2D(),
                                   keras.layers.Dense(2, activation="softmax")])
    classifier.layers[-1].set_weights([np.array([[-50.0, 50.0]] * 3, "float32"), np.array([1.0, -1.0], "float32") * 150 * 143 / 255])
    classifier.save(root / "classifier.keras")
    return root


def all_in_memory(workspace, n, batch_size, seed=0):
    """The accuracies as computed before streaming: every image in one array, each N over all of its batches in turn."""
    import tensorflow as tf

    from tfxai.classify.classifier import load_classifier
    from tfxai.gan.stargan.data import load_domain
    from tfxai.gan.stargan.training import _input_adapter, load_translator
    from tfxai.gan.stargan.tta import StyleTTA
    from tfxai.training.determinism import seed_everything

    classifier, _ = load_classifier(str(workspace / "classifier.keras"))
    translator = load_translator(str(workspace / "translator.keras"))
    domain = load_domain(str(workspace / "data"), translator.image_size)
    adapted = _input_adapter(classifier, (12, 12), 3)
    seed_everything(seed)
    results = {}
    for styles in sorted({0, 1, n}):
        tta = StyleTTA(adapted, translator.generator_ema, translator.mapping_ema, n=styles)
        batches = np.array_split(domain.images, max(len(domain.images) // batch_size, 1))
        predictions = np.concatenate([np.argmax(tta(tf.constant(batch, tf.float32)), -1) for batch in batches])
        results[f"accuracy_n{styles}"] = float(np.mean(predictions == domain.labels))
    return results


def tta(workspace, *extra):
    return CliRunner().invoke(main, ["tta", "--classifier", str(workspace / "classifier.keras"), "--translator",
                                     str(workspace / "translator.keras"), "--data", str(workspace / "data"), *extra])


@pytest.mark.parametrize("n, batch_size", [(3, 16), (1, 64)])
def test_streamed_accuracies_equal_the_all_in_memory_computation(workspace, n, batch_size):
    from tfxai.gan.stargan.training import TTAConfig, run_tta

    config = TTAConfig(classifier=str(workspace / "classifier.keras"), translator=str(workspace / "translator.keras"),
                       data=str(workspace / "data"), n=n, batch_size=batch_size)
    streamed = run_tta(config, log=lambda line: None)
    reference = all_in_memory(workspace, n, batch_size)
    assert streamed == reference
    assert 0 < streamed["accuracy_n1"] < 1 and streamed["accuracy_n0"] > 0.9  # the styles drawn decide some predictions
    assert set(streamed) == {f"accuracy_n{k}" for k in sorted({0, 1, n})}


def test_progress_bar_counts_every_pass_unless_quiet(workspace):
    shown = tta(workspace, "--n", "2", "--batch-size", "8")
    assert shown.exit_code == 0, shown.output
    assert "translating" in shown.output and "image/s" in shown.output and "/142 [" in shown.output, shown.output  # 2 passes of 71
    quiet = tta(workspace, "--n", "2", "--batch-size", "8", "--quiet")
    assert quiet.exit_code == 0 and "image/s" not in quiet.output and "translating" not in quiet.output
    lines = quiet.output.strip().splitlines()  # the result (stdout) and the final progress line (stderr) only
    assert len(lines) == 2 and lines[0].startswith("accuracy_n0=") and lines[1].startswith("N =   2: accuracy"), lines
