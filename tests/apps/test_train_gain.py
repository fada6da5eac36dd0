"""``tfxai train gain`` end to end on a tiny image folder with masks; bad input exits 2 and writes nothing."""

import json
import os

import cv2
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from tfxai.apps.cli import main
from tfxai.testing import one_line_error

SIZE = 16


def make_folder(root, per_class=8, seed=0):
    """Class ``object`` holds a bright square (also its mask); class ``plain`` is noise only."""
    rng = np.random.default_rng(seed)
    masks = root / "masks" / "object"
    os.makedirs(masks)
    for name in ("object", "plain"):
        os.makedirs(root / "data" / name)
        for i in range(per_class):
            image = rng.integers(0, 80, (SIZE, SIZE, 3), dtype=np.uint8)
            if name == "object":
                r, c = rng.integers(0, SIZE - 6, 2)
                image[r : r + 6, c : c + 6] = 230
                if i % 2 == 0:  # half of the positives come with a mask
                    mask = np.zeros((SIZE * 2, SIZE * 2), np.uint8)  # another size: resized on load
                    mask[2 * r : 2 * r + 12, 2 * c : 2 * c + 12] = 255
                    cv2.imwrite(str(masks / f"{i}.png"), mask)
            cv2.imwrite(str(root / "data" / name / f"{i}.png"), image)
    return root / "data", root / "masks"


def run(args):
    return CliRunner().invoke(main, ["train", "gain", *map(str, args)])


SMALL = ["--preset", "small", "--image-size", SIZE, "--epochs", 2, "--batch-size", 4, "--hidden", "8"]


def leftovers(parent):
    return [name for name in os.listdir(parent) if name.startswith(".")]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("gain_app")
    data, masks = make_folder(root)
    out = root / "model"
    result = run(["--data", data, "--masks", masks, "--out", out, *SMALL])
    assert result.exit_code == 0, result.output
    return root, data, masks, out, result.output


def test_train_gain_writes_model_report_and_savedmodel(trained):
    root, data, _, out, output = trained
    for name in ("model.keras", "class_names.json", "history.csv", "metrics.json", "saved_model", "attention"):
        assert os.path.exists(out / name), name
    assert "GAIN_ext:" in output and "done: 2 classes" in output
    metrics = json.loads((out / "metrics.json").read_text())
    final = metrics["final"]
    assert {"loss", "classification_loss", "mining_loss", "map_loss", "accuracy", "val_accuracy"} <= set(final)
    assert final["map_loss"] > 0.0 and all(np.isfinite(v) for v in final.values())
    assert json.loads((out / "class_names.json").read_text()) == ["object", "plain"]
    assert leftovers(root) == []


def test_exported_savedmodel_serves_probability_and_attention_like_the_keras_model(trained):
    _, data, _, out, _ = trained
    from tfxai.attention import GAIN
    from tfxai.io import load_model

    images = np.stack([cv2.cvtColor(cv2.imread(str(data / c / f"{i}.png")), cv2.COLOR_BGR2RGB) for c in ("object", "plain") for i in (0, 1)])
    served = tf.saved_model.load(str(out / "saved_model")).signatures["serving_default"](images=tf.constant(images, tf.float32))
    assert served["probabilities"].shape == (4, 1) and served["heatmap"].shape == (4, SIZE, SIZE)
    heatmap = served["heatmap"].numpy()
    assert heatmap.min() >= 0.0 and heatmap.max() <= 1.0
    gain, class_names = load_model(out, expect=GAIN)
    attention, probabilities = gain.explain(images.astype(np.float32))
    np.testing.assert_allclose(served["probabilities"].numpy(), probabilities, atol=1e-5)
    np.testing.assert_allclose(heatmap, attention, atol=1e-4)
    assert class_names == ["object", "plain"]


def test_existing_output_is_kept_without_overwrite(trained):
    _, data, _, out, _ = trained
    before = (out / "metrics.json").read_text()
    error = one_line_error(run(["--data", data, "--out", out, *SMALL]))
    assert "already exists" in error
    assert (out / "metrics.json").read_text() == before


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing_data", "does not exist"),
        ("one_class", "at least 2"),
        ("corrupt_image", "cannot decode"),
        ("missing_masks", "mask folder"),
        ("unmatched_masks", "matches an image"),
        ("corrupt_mask", "cannot decode"),
        ("nan_learning_rate", "--learning-rate must be a positive number"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, case, message):
    data, masks = make_folder(tmp_path, per_class=4)
    extra = ["--masks", masks]
    if case == "missing_data":
        data = tmp_path / "nowhere"
    elif case == "one_class":
        os.rename(data / "plain", tmp_path / "plain")
    elif case == "corrupt_image":
        (data / "plain" / "1.png").write_bytes(b"not a png")
    elif case == "missing_masks":
        extra = ["--masks", tmp_path / "no_masks"]
    elif case == "unmatched_masks":
        os.rename(masks / "object", masks / "elsewhere")
    elif case == "corrupt_mask":
        (masks / "object" / "0.png").write_bytes(b"\x89PNG broken")
    elif case == "nan_learning_rate":  # once trained through to NaN weights; now refused up front
        extra += ["--learning-rate", "nan"]
    out = tmp_path / "out"
    error = one_line_error(run(["--data", data, *extra, "--out", out, *SMALL]))
    assert message in error, error
    assert not out.exists() and leftovers(tmp_path) == []


def test_help_names_the_paper_preset():
    result = CliRunner().invoke(main, ["train", "gain", "--help"])
    assert result.exit_code == 0
    assert "VGG16" in result.output and "--masks" in result.output
