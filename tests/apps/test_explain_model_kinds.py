"""``tfxai explain`` knows every model kind: video and signal models get one line naming their app; attention models their own maps."""

import csv
import os

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

import tfxai  # noqa: F401  (before TensorFlow)
import keras

from tfxai.apps.cli import main
from tfxai.testing import one_line_error


def run(args):
    return CliRunner().invoke(main, args)


@pytest.fixture
def image_folder(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(2):
        cv2.imwrite(str(folder / f"{index}.png"), rng.integers(0, 255, (16, 16), dtype=np.uint8))
    return folder


def _save(model, path):
    model.save(path)
    return str(path)


def _stabn():
    from tfxai.video import STABN

    return STABN(num_classes=2, input_shape=(4, 8, 8, 1), depth=10, base_width=4, attention_filters=4)


def _r3d():
    from tfxai.video import R3D

    return R3D(2, (4, 16, 16, 1), depth=10, base_width=4)


def _san1d():
    from tfxai.signal import SAN1D

    return SAN1D(num_classes=2, window_length=16, channels=3, filters=4)


@pytest.mark.parametrize("build,expected", [
    (_stabn, "is a video model (STABN, clips (4, 8, 8, 1)): use 'tfxai explain video'"),
    (_r3d, "is a video model (Functional, clips (4, 16, 16, 1)): use 'tfxai explain video'"),
    (_san1d, "is a signal model (SAN1D, windows (16, 3)): its attention is plotted by 'tfxai train signal'"),
])
def test_a_video_or_signal_model_is_one_line_naming_its_app_and_exit_2(build, expected, tmp_path, image_folder):
    keras.utils.set_random_seed(0)
    path = _save(build(), tmp_path / "model.keras")
    result = run(["explain", "--model", path, "--images", str(image_folder), "--out", str(tmp_path / "out")])
    assert one_line_error(result) == f"error: {path} {expected}" + (" (attention.png, --attention-recording)" if "signal" in expected else "")
    assert not os.path.exists(tmp_path / "out")


def test_an_abn_is_explained_with_its_own_maps_and_gradcam_on_it_names_that_method(tmp_path, image_folder):
    from tfxai.attention import ABN

    keras.utils.set_random_seed(0)
    path = _save(ABN("small_cnn", 2, (16, 16, 1), backbone_filters=(4, 8, 8), attention_filters=4, attention_convs=1),
                 tmp_path / "abn.keras")
    out = tmp_path / "out"
    result = run(["explain", "--model", path, "--images", str(image_folder), "--out", str(out), "--method", "abn"])
    assert result.exit_code == 0, result.output
    with open(out / "predictions.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 2
    assert len(os.listdir(out / "overlays")) == 2
    refused = run(["explain", "--model", path, "--images", str(image_folder), "--out", str(tmp_path / "x")])
    assert "ABN is an attention model without a separate classifier, so gradcam cannot explain it: use --method abn" in one_line_error(refused)
    wrong = run(["explain", "--model", path, "--images", str(image_folder), "--out", str(tmp_path / "x"), "--method", "abn", "--target", "1"])
    assert "abn shows the model's own attention, the same for every class: drop --target" in one_line_error(wrong)


def test_method_choices_are_the_registry_names_for_image_and_attention_models():
    from tfxai.explain import explainer_names

    result = run(["explain", "--help"])
    assert result.exit_code == 0
    names = explainer_names(("image", "attention"))
    assert set(names) == {"cam", "gradcam", "gradcam++", "scorecam", "smoothgrad", "layercam", "abn", "gain"}
    assert "[" + "|".join(names) + "]" in result.output.replace("\n", "").replace(" ", "")
    bad = run(["explain", "--model", "m.keras", "--images", ".", "--out", "o", "--method", "stabn"])
    assert bad.exit_code == 2 and "'stabn' is not one of" in bad.output
