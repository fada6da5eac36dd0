"""The shared training run: base config, one dataset pipeline (flips, shifts and crops of images and maps together), early stopping."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from tfxai.apps.cli import main
from tfxai.attention import ABNConfig, GAINConfig
from tfxai.classify.classifier import ClassifierConfig
from tfxai.errors import TfxaiError
from tfxai.training import early_stopping_callbacks, make_dataset, shift_and_crop


def test_shift_and_crop_moves_images_and_their_maps_together():
    rng = np.random.default_rng(0)
    maps = np.zeros((8, 24, 24), np.float32)
    for i in range(8):
        r, c = rng.integers(2, 16, 2)
        maps[i, r : r + 6, c : c + 6] = 1.0
    images = np.repeat(maps[..., None] * 255.0, 3, axis=-1)  # every channel is the map
    inputs = {"images": images, "attention_maps": maps, "has_attention_map": np.ones(8, np.float32)}
    batch, _ = next(iter(make_dataset(inputs, np.zeros(8), 8, augment=True, shift_crop=0.2)))
    out_images, out_maps = batch["images"].numpy(), batch["attention_maps"].numpy()
    assert out_images.shape == images.shape and out_maps.shape == maps.shape
    np.testing.assert_allclose(out_images[..., 0] / 255.0, out_maps, atol=1e-4)  # the same box for both
    np.testing.assert_array_equal(batch["has_attention_map"].numpy(), np.ones(8))
    assert np.abs(out_maps - maps).max() > 0.5  # the content moved


def test_flip_mirrors_each_image_and_its_map_together():
    rng = np.random.default_rng(1)
    maps = rng.random((32, 6, 6)).astype(np.float32)  # no symmetry: a flip always shows
    images = np.stack([maps, 1.0 - maps], axis=-1) * 255.0
    inputs = {"images": images, "attention_maps": maps, "has_attention_map": np.ones(32, np.float32)}
    batch, labels = next(iter(make_dataset(inputs, np.arange(32), 32, augment=True)))
    out_images, out_maps = batch["images"].numpy(), batch["attention_maps"].numpy()
    np.testing.assert_array_equal(labels.numpy(), np.arange(32))  # order and labels kept
    mirrored = [bool(np.array_equal(m, maps[i, :, ::-1])) for i, m in enumerate(out_maps)]
    for i in range(32):
        expected = images[i, :, ::-1] if mirrored[i] else images[i]
        np.testing.assert_array_equal(out_images[i], expected)  # the image follows its map
        assert mirrored[i] or np.array_equal(out_maps[i], maps[i])  # a horizontal flip or nothing
    assert 4 <= sum(mirrored) <= 28  # about half are flipped


def test_shift_and_crop_stays_within_the_fraction():
    image = np.zeros((40, 40, 1), np.float32)
    image[18:22, 18:22] = 1.0  # a centred square
    for _ in range(20):
        (out,) = shift_and_crop([image], 0.1)
        rows, cols = np.nonzero(out.numpy()[..., 0] > 0.5)
        centre = (rows.mean() + 0.5, cols.mean() + 0.5)
        # shift up to 10% of the side each way plus the crop's zoom about its centre (<= 1 / 0.9)
        assert abs(centre[0] - 20) <= 40 * 0.1 * 1.12 + 1 and abs(centre[1] - 20) <= 40 * 0.1 * 1.12 + 1


def test_early_stopping_restores_the_best_validation_accuracy():
    (callback,) = early_stopping_callbacks(3)
    assert (callback.monitor, callback.mode, callback.patience, callback.restore_best_weights) == ("val_accuracy", "max", 3, True)
    assert early_stopping_callbacks(0) == []


@pytest.mark.parametrize("config_class", [ClassifierConfig, ABNConfig, GAINConfig])
def test_every_image_config_shares_the_run_options_and_checks_them(config_class):
    config = config_class.from_preset("small", early_stopping=2, shift_crop=0.1)
    assert (config.early_stopping, config.shift_crop) == (2, 0.1)
    with pytest.raises(TfxaiError, match="early_stopping watches validation accuracy: set validation_split above 0"):
        config_class.from_preset("small", early_stopping=2, validation_split=0.0)
    with pytest.raises(TfxaiError, match="shift_crop must be at most 0.49, got 0.7"):
        config_class.from_preset("small", shift_crop=0.7)
    with pytest.raises(TfxaiError, match="unknown option"):
        config_class.from_preset("small", output="x")


@pytest.mark.parametrize("app", ["classifier", "abn", "gain", "signal", "mixed"])
def test_every_training_app_takes_early_stopping(app):
    result = CliRunner().invoke(main, ["train", app, "--help"])
    assert result.exit_code == 0 and "--early-stopping" in result.output and "PATIENCE" in result.output


def test_train_gain_stops_early_and_says_so(tmp_path):
    import cv2

    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(6):
            cv2.imwrite(str(tmp_path / "data" / name / f"{i}.png"), rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
    out = tmp_path / "out"
    # a learning rate too small to change the validation accuracy: patience 1 stops after the second epoch
    result = CliRunner().invoke(main, ["train", "gain", "--data", str(tmp_path / "data"), "--out", str(out), "--preset", "small",
                                       "--image-size", "16", "--hidden", "4", "--epochs", "8", "--batch-size", "4",
                                       "--learning-rate", "1e-12", "--early-stopping", "1", "--validation-split", "0.34",
                                       "--no-export"])
    assert result.exit_code == 0, result.output
    assert "early stopping after 2 epochs" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2 and metrics["config"]["early_stopping"] == 1
    assert metrics["kept_epoch"] == 1 and metrics["kept"]["val_accuracy"] == metrics["final"]["val_accuracy"]  # no improvement: epoch 1 kept
    assert "weights of epoch 1 kept" in result.output


def test_the_kept_epoch_is_the_first_best_validation_accuracy_with_early_stopping():
    from types import SimpleNamespace

    from tfxai.training import kept_epoch

    history = SimpleNamespace(history={"val_accuracy": [0.5, 0.8, 0.7, 0.8, 0.6]}, epoch=[0, 1, 2, 3, 4])
    assert kept_epoch(history, GAINConfig.from_preset("small", early_stopping=3)) == 1
    assert kept_epoch(history, GAINConfig.from_preset("small")) == 4  # no early stopping: the last epoch's weights
