"""The apps end to end on tiny image folders: train, explain, export, demo; bad input exits 2."""

import csv
import os

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from tfxai.apps.cli import main
from tfxai.testing import one_line_error


def make_folder(root, classes=("cats", "dogs"), per_class=6, size=20, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    for index, name in enumerate(classes):
        os.makedirs(root / name, exist_ok=True)
        for i in range(per_class):
            image = rng.integers(0, 60, (size, size, channels), dtype=np.uint8)
            image[:, : size // 2] += np.uint8(150 * (index == 0))
            image[:, size // 2 :] += np.uint8(150 * (index == 1))
            cv2.imwrite(str(root / name / f"{i}.png"), image)
    return root


def run(args):
    result = CliRunner().invoke(main, args)
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("apps")
    data = make_folder(root / "data")
    out = root / "model"
    result = run(["train", "classifier", "--data", str(data), "--out", str(out), "--preset", "small",
                  "--image-size", "16", "--epochs", "2", "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    return root, data, out


def test_train_writes_all_outputs(trained):
    _, _, out = trained
    for name in ("model.keras", "class_names.json", "history.csv", "metrics.json", "saved_model"):
        assert os.path.exists(out / name), name


def predicting_both_classes(out, data, folder):
    """The trained classifier saved in ``folder`` with its output bias moved so that it predicts both classes on ``data``.

    Two epochs on 12 images leave it predicting one class for every image (cats 0.61 / dogs 0.59),
    and a report that wrote class 0's column for every row would then pass unnoticed.
    """
    from tfxai.classify.classifier import load_classifier, save_classifier
    from tfxai.data import load_images

    model, names = load_classifier(str(out))
    images = load_images(sorted(str(p) for p in data.rglob("*.png")), (16, 16), 3)
    probabilities = model.predict(images, verbose=0)
    margins = np.log(probabilities[:, 0]) - np.log(probabilities[:, 1])  # logit of class 0 minus class 1
    head = [layer for layer in model.layers if getattr(layer, "bias", None) is not None][-1]
    bias = head.bias.numpy()
    bias[0] -= np.median(margins)  # half the images now go to each class
    head.bias.assign(bias)
    save_classifier(model, str(folder), names)
    return folder


def test_explain_writes_overlays_sheet_and_csv(trained):
    root, data, out = trained
    report = root / "report"
    model_folder = predicting_both_classes(out, data, root / "both_classes")
    result = run(["explain", "--model", str(model_folder), "--images", str(data), "--out", str(report)])
    assert result.exit_code == 0, result.output
    with open(report / "predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 and {r["true"] for r in rows} == {"cats", "dogs"}
    # each row is the reloaded model's prediction on that file
    from tfxai.classify.classifier import load_classifier
    from tfxai.data import load_images

    model, names = load_classifier(str(model_folder))
    probabilities = model.predict(load_images([r["image"] for r in rows], (16, 16), 3), verbose=0)
    assert [r["predicted"] for r in rows] == [names[i] for i in np.argmax(probabilities, axis=1)]
    assert {r["predicted"] for r in rows} == {"cats", "dogs"}
    np.testing.assert_allclose([float(r["probability"]) for r in rows], probabilities.max(axis=1), atol=1e-4)
    assert [r["true"] for r in rows] == [os.path.basename(os.path.dirname(r["image"])) for r in rows]
    assert [r["correct"] for r in rows] == [str(int(r["true"] == r["predicted"])) for r in rows]
    assert len(os.listdir(report / "overlays")) == 12
    sheet = cv2.imread(str(report / "contact_sheet.png"))
    assert sheet is not None and sheet.shape[0] > 16
    again = run(["explain", "--model", str(model_folder), "--images", str(data), "--out", str(report)])
    assert again.exit_code == 2 and "already exists" in again.output


@pytest.mark.parametrize("method", ["smoothgrad", "scorecam", "layercam"])
def test_explain_with_tf_keras_vis_methods_reaches_the_nested_backbone(trained, method):
    # the trained classifier nests its backbone (small_cnn) inside the transfer model
    root, data, out = trained
    result = run(["explain", "--model", str(out), "--images", str(data / "cats" / "0.png"), "--out", str(root / method),
                  "--method", method, "--target", "1"])
    assert result.exit_code == 0, result.output
    assert len(os.listdir(root / method / "overlays")) == 1


def test_explain_one_target_over_more_images_than_a_batch(trained):
    root, _, out = trained
    many = make_folder(root / "many", per_class=20, size=16, seed=3)
    result = run(["explain", "--model", str(out), "--images", str(many), "--out", str(root / "many_lc"),
                  "--method", "layercam", "--target", "0"])
    assert result.exit_code == 0, result.output
    assert len(os.listdir(root / "many_lc" / "overlays")) == 40


@pytest.mark.parametrize("method", ["gradcam++", "cam"])
def test_export_app_serves_the_chosen_method_on_uint8_images(trained, method):
    import tensorflow as tf

    from tfxai.explain import CAM, GradCAMPlusPlus
    from tfxai.io import load_model

    root, _, out = trained
    exported = root / f"exported_{method}"
    result = run(["export", "--model", str(out / "model.keras"), "--out", str(exported), "--input-dtype", "uint8", "--method", method])
    assert result.exit_code == 0, result.output
    x = np.random.default_rng(5).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    served = tf.saved_model.load(str(exported)).signatures["serving_default"](images=tf.constant(x))
    model, _ = load_model(out / "model.keras")
    heatmaps, probabilities = {"gradcam++": GradCAMPlusPlus, "cam": CAM}[method](model).explain(x.astype(np.float32))
    np.testing.assert_allclose(served["probabilities"].numpy(), np.asarray(probabilities), atol=1e-5)
    np.testing.assert_allclose(served["heatmap"].numpy(), np.asarray(heatmaps), atol=1e-4)
    assert float(np.ptp(np.asarray(heatmaps))) > 0.1  # a real map, not a constant both sides agree on


def test_bad_inputs_exit_2_and_write_nothing(trained, tmp_path):
    root, data, out = trained
    corrupt = tmp_path / "corrupt"
    make_folder(corrupt)
    (corrupt / "cats" / "broken.png").write_bytes(b"not a png")
    assert "cannot decode image" in one_line_error(
        run(["train", "classifier", "--data", str(corrupt), "--out", str(tmp_path / "m1"), "--preset", "small", "--epochs", "1"])
    )
    assert not os.path.exists(tmp_path / "m1")
    empty = tmp_path / "empty"
    (empty / "a").mkdir(parents=True)
    (empty / "b").mkdir()
    assert "has no images" in one_line_error(run(["train", "classifier", "--data", str(empty), "--out", str(tmp_path / "m2"), "--preset", "small"]))
    gray = tmp_path / "gray"
    make_folder(gray, channels=1)
    converted = run(["explain", "--model", str(out), "--images", str(gray), "--out", str(tmp_path / "r1")])
    assert converted.exit_code == 0 and "converted 12 grayscale images to the model's 3 channels (RGB)" in converted.output
    assert "not found" in one_line_error(run(["explain", "--model", str(out), "--images", str(data), "--out", str(tmp_path / "r2"), "--layer", "nope"]))
    assert "out of range" in one_line_error(run(["explain", "--model", str(out), "--images", str(data), "--out", str(tmp_path / "r3"), "--target", "9"]))
    assert "does not exist" in one_line_error(run(["export", "--model", str(tmp_path / "missing"), "--out", str(tmp_path / "e")]))
    (tmp_path / "bad.keras").write_bytes(b"garbage")
    assert "cannot load model" in one_line_error(run(["explain", "--model", str(tmp_path / "bad.keras"), "--images", str(data), "--out", str(tmp_path / "r4")]))
    assert "no images" in one_line_error(run(["explain", "--model", str(out), "--images", str(empty), "--out", str(tmp_path / "r5")]))
    assert "unknown backbone" in one_line_error(run(["train", "classifier", "--data", str(data), "--out", str(tmp_path / "m3"), "--backbone", "nope"]))


def test_help_of_every_command():
    for args in (["--help"], ["train", "--help"], ["train", "classifier", "--help"], ["explain", "--help"], ["export", "--help"], ["demo", "--help"]):
        result = run(args)
        assert result.exit_code == 0 and "Usage" in result.output


def test_demo_runs_offline_on_bundled_data(tmp_path):
    from tfxai.classify.demo import DemoConfig, run_demo

    results = run_demo(DemoConfig(out=str(tmp_path / "demo"), epochs=1, train_images=256, explain_images=8), log=lambda *_: None, verbose=0)
    assert results["saved_model_max_abs_diff_heatmap"] < 1e-4
    assert results["saved_model_max_abs_diff_probabilities"] < 1e-4
    # the reported accuracy is the saved model's on the demo test split (1 epoch on 256 images: not above chance yet)
    from tfxai.classify.classifier import load_classifier
    from tfxai.data import load_demo

    _, (x_test, y_test), _ = load_demo()
    model, _ = load_classifier(str(tmp_path / "demo" / "model"))
    predicted = np.argmax(model.predict(x_test.astype("float32"), batch_size=256, verbose=0), axis=1)
    assert results["test_accuracy"] == pytest.approx(float(np.mean(predicted == y_test)), abs=1e-6)
    for name in ("report/index.html", "report/contact_sheet.png", "report/predictions.csv", "model/model.keras", "saved_model/saved_model.pb"):
        assert os.path.exists(tmp_path / "demo" / name), name


def test_a_file_broken_after_the_check_stops_training_with_one_line(tmp_path, monkeypatch):
    """A file deleted or overwritten while training streams the folder: the one line naming it, exit 2, no model written."""
    import tfxai.data.image_folder as image_folder

    data = make_folder(tmp_path / "data")
    broken = data / "dogs" / "3.png"
    real_check = image_folder.check_images

    def check_then_break(paths, channels, workers=2):  # the file passes the up-front check, then is overwritten
        real_check(paths, channels, workers)
        broken.write_bytes(b"overwritten mid-run")

    monkeypatch.setattr(image_folder, "check_images", check_then_break)
    result = run(["train", "classifier", "--data", str(data), "--out", str(tmp_path / "m"), "--preset", "small",
                  "--image-size", "16", "--epochs", "1", "--batch-size", "4"])
    message = one_line_error(result)
    assert message == f"error: cannot decode image {broken} (corrupt or not an image): remove or replace the file"
    assert "Traceback" not in result.output and "PyFunc" not in result.output
    assert not os.path.exists(tmp_path / "m" / "model.keras")
