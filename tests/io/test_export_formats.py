"""LiteRT and ONNX exports serve Keras' probabilities and heatmaps, checked in a fresh process without tfxai."""

import json
import os
import sys

import keras
import numpy as np
import pytest

from tfxai.classify.backbones import build_classifier
from tfxai.errors import TfxaiError
from tfxai.explain import get_method
from tfxai.io.export import export
from tfxai.testing import serve_without_tfxai, tiny_abn, tiny_gain

pytest.importorskip("tf2onnx", reason="the export extra is not installed: pip install 'tfxai[export]'")

NAMES = ["cat", "wild dog", "émeu"]

def images(shape, count=6, seed=0):
    return (np.random.default_rng(seed).random((count, *shape)) * 255).astype("float32")


@pytest.mark.parametrize(
    "kind,method",
    [("tflite", "gradcam"), ("onnx", "gradcam"), ("tflite", "gradcam++"), ("onnx", "gradcam++"), ("tflite", "cam"), ("onnx", "cam")],
)
def test_litert_and_onnx_serve_keras_probabilities_and_heatmaps(tmp_path, kind, method):
    model = build_classifier("small_cnn", 3, (16, 16, 3), weights="none")
    x = images((16, 16, 3))
    card = export(model, tmp_path / "export", format=kind, explain=method, class_names=NAMES)
    heatmaps, probabilities = get_method(method)(model).explain(x)  # Keras, gradients from a GradientTape
    report, served = serve_without_tfxai(tmp_path, kind, tmp_path / "export" / card["file"], x)
    assert report["keys"] == ["class_id", "class_name", "heatmap", "probabilities"]
    np.testing.assert_allclose(served["probabilities"], probabilities.numpy(), atol=1e-4)
    np.testing.assert_allclose(served["heatmap"], heatmaps.numpy(), atol=1e-3)
    assert served["heatmap"].shape == (6, 16, 16) and report["dtypes"]["heatmap"] == "float32"
    predicted = np.argmax(probabilities.numpy(), axis=1)
    assert served["class_id"].tolist() == predicted.tolist()
    assert [str(n) for n in served["class_name"]] == [NAMES[i] for i in predicted]
    # bad input fails in the runtime instead of giving an answer
    assert report["refused"]["size"] is not None and report["refused"]["dtype"] is not None, report["refused"]
    written = json.loads((tmp_path / "export" / "model_card.json").read_text(encoding="utf-8"))
    assert written == card
    assert card["inputs"]["images"] == {"shape": ["batch", 16, 16, 3], "dtype": "float32", "range": [0, 255]}
    assert card["class_names"] == NAMES and card["explanation"]["method"] == method
    assert card["explanation"]["gradients"] == "written out for the GAP -> Dense head"
    assert card["agreement_with_keras"]["max_abs_diff_heatmap"] < 1e-3 and card["agreement_with_keras"]["top1_agreement"] == 1.0
    assert card["size_bytes"] == os.path.getsize(tmp_path / "export" / card["file"])
    assert sorted(os.listdir(tmp_path / "export")) == sorted([card["file"], "model_card.json"])
    if kind == "tflite":
        assert card["select_tf_ops"] == [] and card["select_tf_ops_note"] == "built-in ops only"


@pytest.mark.parametrize("kind", ["tflite", "onnx"])
@pytest.mark.parametrize("build", [tiny_abn, tiny_gain], ids=["abn", "gain"])
def test_attention_models_export_their_own_maps(tmp_path, build, kind):
    model = build()
    x = images((16, 16, 1), seed=1).astype("uint8")
    card = export(model, tmp_path / "export", format=kind, input_dtype="uint8")
    maps, probabilities = model.explain(x.astype("float32"))
    report, served = serve_without_tfxai(tmp_path, kind, tmp_path / "export" / card["file"], x)
    assert report["keys"] == ["class_id", "heatmap", "probabilities"]
    np.testing.assert_allclose(served["probabilities"], np.asarray(probabilities), atol=1e-4)
    np.testing.assert_allclose(served["heatmap"], np.asarray(maps), atol=1e-3)
    assert card["inputs"]["images"]["dtype"] == "uint8" and card["explanation"]["method"] == "own attention"


@pytest.mark.parametrize("kind", ["tflite", "onnx"])
def test_video_attention_model_exports_spatial_and_temporal_maps(tmp_path, kind):
    from tfxai.video import STABN

    model = STABN(num_classes=3, input_shape=(4, 16, 16, 3), depth=10, base_width=4, attention_filters=8)
    x = (np.random.default_rng(2).random((2, 4, 16, 16, 3)) * 255).astype("float32")
    expected = {k: np.asarray(v) for k, v in model.serve_attention(x).items()}
    card = export(model, tmp_path / "export", format=kind)
    report, served = serve_without_tfxai(tmp_path, kind, tmp_path / "export" / card["file"], x)
    assert {"spatial", "temporal", "heatmap"} <= set(served)
    for name in ("probabilities", "spatial", "temporal"):
        np.testing.assert_allclose(served[name], expected[name], atol=1e-3, err_msg=name)
    assert card["outputs"]["spatial"]["shape"] == ["batch", 4, 16, 16] and card["outputs"]["temporal"]["shape"] == ["batch", 4]
    assert report["refused"]["size"] is not None, report["refused"]
    if kind == "tflite":  # the stem's max pool is a per-frame 2-D pool: the plain interpreter runs the file
        assert card["select_tf_ops"] == [] and card["agreement_with_keras"]["max_abs_diff_temporal"] < 1e-4


def test_a_head_without_gap_dense_keeps_traced_gradients_and_names_select_ops(tmp_path):
    """Grad-CAM at an earlier layer: gradients go back through convolutions (traced), so ops without built-in kernels fall back."""
    model = build_classifier("small_cnn", 3, (16, 16, 3), weights="none")
    card = export(model, tmp_path / "export", format="tflite", layer="block2_pool")
    assert card["explanation"]["gradients"] == "as in the SavedModel (traced)"
    assert "ReluGrad" in card["select_tf_ops"]  # the backward pass of block 3's ReLUs has no LiteRT built-in
    assert card["select_tf_ops_note"].startswith("ReluGrad") or "ReluGrad" in card["select_tf_ops_note"]
    assert os.path.getsize(tmp_path / "export" / "model.tflite") > 0
    # this interpreter has no Flex delegate: the card says the agreement could not be measured, and why
    assert card["agreement_with_keras"] is None and "Flex" in card["agreement_not_measured"]


def test_int8_is_small_agrees_on_top1_and_keeps_a_float_heatmap(tmp_path):
    """The small twin of the 600-image benchmark: a briefly trained demo CNN, calibrated on demo training images."""
    from tfxai.classify.classifier import compile_classifier
    from tfxai.data import load_demo

    (x_train, y_train), (x_test, _), _ = load_demo()
    keras.utils.set_random_seed(0)
    model = build_classifier("small_cnn", 10, (28, 28, 1), weights="none", name="demo")
    compile_classifier(model, 2e-3)
    model.fit(x_train[:1500].astype("float32"), y_train[:1500], epochs=1, batch_size=64, verbose=0)
    float32 = export(model, tmp_path / "f32", format="tflite", calibration=x_test[:100])
    int8 = export(model, tmp_path / "int8", format="tflite", quantize="int8", calibration="demo")
    assert int8["quantize"] == "int8" and int8["outputs"]["heatmap"]["dtype"] == "float32"
    size8 = os.path.getsize(tmp_path / "int8" / "model.tflite")
    assert size8 <= 0.30 * os.path.getsize(tmp_path / "f32" / "model.tflite")
    from tfxai.io.export_litert import litert_interpreter, run_litert
    from tfxai.io.model_card import heatmap_correlations

    test = x_test[:200].astype("float32")
    served = run_litert(litert_interpreter(tmp_path / "int8" / "model.tflite"), test, batch_size=50)
    heatmaps, probabilities = get_method("gradcam")(model).explain(test)
    assert np.mean(served["class_id"] == np.argmax(probabilities.numpy(), 1)) >= 0.95
    assert np.median(heatmap_correlations(heatmaps.numpy(), served["heatmap"])) >= 0.9
    # the heatmap path after the int8 feature map runs in float32: not rounded to int8's 1/255 steps, and close to Keras
    assert len(np.unique(served["heatmap"])) > 1000
    same = served["class_id"] == np.argmax(probabilities.numpy(), 1)
    assert heatmap_correlations(heatmaps.numpy()[same], served["heatmap"][same]).min() >= 0.99
    tensors = litert_interpreter(tmp_path / "int8" / "model.tflite").get_tensor_details()
    assert not {t["dtype"].__name__ for t in tensors if "float_heatmap/" in t["name"]} & {"int8", "int16"}
    # so does the head after the feature map (pooling, logits, softmax, argmax): probabilities are not int8's 1/256
    # steps, and the class id is the argmax of float logits (int8 logits, steps of ~0.06, tied or flipped near ties)
    assert len(np.unique(served["probabilities"])) > 256
    assert served["class_id"].tolist() == np.argmax(served["probabilities"], 1).tolist()
    assert float32["agreement_with_keras"]["max_abs_diff_probabilities"] < 1e-4


def test_bad_options_are_one_line_errors_and_write_nothing(tmp_path):
    model = build_classifier("small_cnn", 2, (16, 16, 1), weights="none")
    with pytest.raises(TfxaiError, match="format must be one of savedmodel, tflite, onnx"):
        export(model, tmp_path / "a", format="coreml")
    with pytest.raises(TfxaiError, match="applies to format tflite only"):
        export(model, tmp_path / "a", format="onnx", quantize="int8")
    with pytest.raises(TfxaiError, match="int8 quantization needs calibration images"):
        export(model, tmp_path / "a", format="tflite", quantize="int8")
    with pytest.raises(TfxaiError, match="calibration images have shape"):
        export(model, tmp_path / "a", format="tflite", calibration=np.zeros((4, 8, 8, 1), "uint8"))
    assert os.listdir(tmp_path) == []


def test_onnx_without_a_converter_names_the_extra_and_the_versions_that_work(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # as if not installed / not importable under this TensorFlow
    model = build_classifier("small_cnn", 2, (16, 16, 1), weights="none")
    with pytest.raises(TfxaiError, match=r"pip install 'tfxai\[export\]' \(tf2onnx 1.17 with TensorFlow") as caught:
        export(model, tmp_path / "a", format="onnx")
    assert "\n" not in str(caught.value)
    assert os.listdir(tmp_path) == []


def test_savedmodel_format_adds_its_card_inside_the_folder(tmp_path):
    import tensorflow as tf

    model = build_classifier("small_cnn", 3, (16, 16, 3), weights="none")
    card = export(model, tmp_path / "sm", class_names=NAMES)
    assert card["format"] == "savedmodel" and card["agreement_with_keras"]["max_abs_diff_heatmap"] == 0.0
    assert json.loads((tmp_path / "sm" / "model_card.json").read_text(encoding="utf-8"))["class_names"] == NAMES
    served = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"](images=tf.zeros((1, 16, 16, 3)))
    assert sorted(served) == ["class_id", "class_name", "heatmap", "probabilities"]


def test_export_app_writes_each_format(tmp_path):
    from click.testing import CliRunner

    from tfxai.apps.cli import main
    from tfxai.classify.classifier import save_classifier

    save_classifier(build_classifier("small_cnn", 3, (16, 16, 3), weights="none"), tmp_path / "run", NAMES)
    result = CliRunner().invoke(main, ["export", "--model", str(tmp_path / "run"), "--out", str(tmp_path / "lite"), "--format", "tflite",
                                       "--quantize", "float16"])
    assert result.exit_code == 0, result.output
    assert "Select TF ops: built-in ops only" in result.output and "model.tflite" in result.output.splitlines()[-1]
    assert json.loads((tmp_path / "lite" / "model_card.json").read_text(encoding="utf-8"))["quantize"] == "float16"
    result = CliRunner().invoke(main, ["export", "--model", str(tmp_path / "run"), "--out", str(tmp_path / "q"), "--format", "tflite",
                                       "--quantize", "int8"])
    assert result.exit_code == 2 and "error: int8 quantization needs calibration images" in result.output
    assert not (tmp_path / "q").exists()


def test_agreement_counts_low_heatmap_correlations_and_which_of_them_are_class_flips():
    from tfxai.io.model_card import agreement

    ramp = np.linspace(0, 1, 16).reshape(4, 4)
    reference = {"probabilities": np.full((3, 2), 0.5), "class_id": np.array([0, 1, 1]), "heatmap": np.stack([ramp, ramp, ramp])}
    exported = {"probabilities": np.full((3, 2), 0.5), "class_id": np.array([0, 0, 1]),  # image 1 flips class
                "heatmap": np.stack([ramp, ramp.T, 1 - ramp])}  # image 1: another map (r 0.2), image 2: inverted (r -1)
    result = agreement(reference, exported)
    assert result["heatmap_pearson_r_below_0.95"] == {"images": 2, "other_class": 1}
    assert result["top1_agreement"] == pytest.approx(2 / 3) and result["heatmap_pearson_r"]["min"] == pytest.approx(-1.0)
