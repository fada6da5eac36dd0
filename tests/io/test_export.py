"""Exported SavedModels serve the same probabilities and heatmaps without tfxai."""

import json
import os

import numpy as np
import pytest

from tfxai.classify.backbones import build_classifier
from tfxai.errors import TfxaiError
from tfxai.explain import GradCAM
from tfxai.io.export import export_saved_model
from tfxai.testing import run_without_tfxai, tiny_abn, tiny_gain


def test_saved_model_matches_keras_in_a_fresh_process_without_tfxai(tmp_path):
    model = build_classifier("small_cnn", 3, (16, 16, 3), weights="none")
    x = (np.random.default_rng(0).random((5, 16, 16, 3)) * 255).astype("float32")
    heatmaps, probabilities = GradCAM(model).explain(x)
    path = export_saved_model(model, tmp_path / "sm")
    np.save(tmp_path / "x.npy", x)
    out = run_without_tfxai(
        f"""
        import json, numpy as np, tensorflow as tf
        served = tf.saved_model.load({str(tmp_path / 'sm')!r})
        x = np.load({str(tmp_path / 'x.npy')!r})
        result = served.signatures["serving_default"](images=tf.constant(x))
        uint8 = served.signatures["serve_uint8"](images=tf.constant(x.astype(np.uint8)))
        np.save({str(tmp_path / 'p.npy')!r}, result["probabilities"].numpy())
        np.save({str(tmp_path / 'h.npy')!r}, result["heatmap"].numpy())
        np.save({str(tmp_path / 'p8.npy')!r}, uint8["probabilities"].numpy())
        np.save({str(tmp_path / 'h8.npy')!r}, uint8["heatmap"].numpy())
        print(json.dumps({{"keys": sorted(result), "class_id": result["class_id"].numpy().tolist(),
                           "uint8_shape": list(uint8["heatmap"].shape)}}))
        """
    )
    report = json.loads(out.strip().splitlines()[-1])
    assert report["keys"] == ["class_id", "heatmap", "probabilities"]
    assert report["uint8_shape"] == [5, 16, 16]
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), probabilities.numpy(), atol=1e-4)
    np.testing.assert_allclose(np.load(tmp_path / "h.npy"), heatmaps.numpy(), atol=1e-4)
    assert report["class_id"] == np.argmax(probabilities.numpy(), axis=1).tolist()
    # serve_uint8 is the same model on the uint8 image (not rescaled, not reinterpreted)
    heatmaps8, probabilities8 = GradCAM(model).explain(x.astype(np.uint8).astype("float32"))
    np.testing.assert_allclose(np.load(tmp_path / "p8.npy"), probabilities8.numpy(), atol=1e-4)
    np.testing.assert_allclose(np.load(tmp_path / "h8.npy"), heatmaps8.numpy(), atol=1e-4)
    assert os.path.isdir(path)


def test_export_refuses_to_overwrite(tmp_path):
    model = build_classifier("small_cnn", 2, (16, 16, 1), weights="none")
    export_saved_model(model, tmp_path / "sm")
    with pytest.raises(TfxaiError, match="already exists"):
        export_saved_model(model, tmp_path / "sm")
    assert os.listdir(tmp_path) == ["sm"]  # no temporary leftovers


def test_a_failed_write_out_leaves_the_old_export_and_no_partial_folder(tmp_path, monkeypatch):
    import keras

    model = build_classifier("small_cnn", 2, (16, 16, 1), weights="none")
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "old.txt").write_text("old")

    def crashing_write_out(self, folder, verbose=True):
        os.makedirs(os.path.join(folder, "variables"))
        open(os.path.join(folder, "saved_model.pb"), "wb").close()  # half written
        raise OSError("disk full")

    archive = type(keras.export.ExportArchive())  # the backend's subclass
    monkeypatch.setattr(archive, "write_out", crashing_write_out)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(model, tmp_path / "sm", overwrite=True)
    assert os.listdir(tmp_path) == ["sm"]  # the temporary folder was removed
    assert os.listdir(tmp_path / "sm") == ["old.txt"] and (tmp_path / "sm" / "old.txt").read_text() == "old"


@pytest.mark.parametrize("build", [tiny_abn, tiny_gain], ids=["abn", "gain"])
def test_attention_models_export_their_own_maps_by_default(tmp_path, build):
    """One export for every model (issue 10: export_saved_model(abn, path) raised AttributeError 'outputs')."""
    import tensorflow as tf

    model = build()
    x = (np.random.default_rng(1).random((3, 16, 16, 1)) * 255).astype("float32")
    path = export_saved_model(model, tmp_path / "sm")
    served = tf.saved_model.load(path).signatures["serving_default"](images=tf.constant(x))
    maps, probabilities = model.explain(x)
    np.testing.assert_allclose(served["heatmap"].numpy(), np.asarray(maps), atol=1e-4)
    np.testing.assert_allclose(served["probabilities"].numpy(), np.asarray(probabilities), atol=1e-5)
    assert served["heatmap"].shape == (3, 16, 16)


def test_load_model_names_the_wrong_kind(tmp_path):
    from tfxai.attention import ABN, GAIN
    from tfxai.io import load_model

    model = tiny_abn()
    model.save(tmp_path / "model.keras")
    loaded, names = load_model(tmp_path, expect=ABN)
    assert isinstance(loaded, ABN) and names is None
    assert isinstance(load_model(tmp_path)[0], ABN)  # no expectation: any kind
    with pytest.raises(TfxaiError, match=r"holds an ABN, not a GAIN: pass a model written by 'tfxai train gain'"):
        load_model(tmp_path, expect=GAIN)


def test_saved_model_serves_class_names_from_its_asset_without_tfxai(tmp_path):
    """A server answers names from the SavedModel alone: asset class_names.txt and a string output class_name."""
    from click.testing import CliRunner

    from tfxai.apps.cli import main
    from tfxai.classify.classifier import save_classifier

    model = build_classifier("small_cnn", 3, (16, 16, 3), weights="none")
    save_classifier(model, tmp_path / "run", ["cat", "wild dog", "émeu"])
    result = CliRunner().invoke(main, ["export", "--model", str(tmp_path / "run"), "--out", str(tmp_path / "sm")])
    assert result.exit_code == 0 and "class_name" in result.output, result.output
    x = (np.random.default_rng(1).random((6, 16, 16, 3)) * 255).astype("float32")
    np.save(tmp_path / "x.npy", x)
    out = run_without_tfxai(
        f"""
        import json, os, shutil, numpy as np, tensorflow as tf
        shutil.move({str(tmp_path / 'sm')!r}, {str(tmp_path / 'moved')!r})  # no run folder beside it
        served = tf.saved_model.load({str(tmp_path / 'moved')!r})
        result = served.signatures["serving_default"](images=tf.constant(np.load({str(tmp_path / 'x.npy')!r})))
        print(json.dumps({{"names": [n.decode() for n in result["class_name"].numpy()],
                           "ids": result["class_id"].numpy().tolist(),
                           "asset": open(os.path.join({str(tmp_path / 'moved')!r}, "assets", "class_names.txt"), encoding="utf-8").read()}}))
        """
    )
    report = json.loads(out.strip().splitlines()[-1])
    names = ["cat", "wild dog", "émeu"]
    assert report["names"] == [names[i] for i in report["ids"]]
    assert report["asset"].splitlines() == names


def test_export_serves_the_registry_in_graph_explainers_by_name_and_refuses_tf_keras_vis_ones(tmp_path):
    import tensorflow as tf

    from tfxai.explain import GradCAMPlusPlus
    from tfxai.io.export import serving_function
    from tfxai.testing import tiny_cnn
    from tfxai.video import R3D

    model = tiny_cnn((16, 16, 1), 3, filters=4, seed=0)
    x = np.random.default_rng(0).random((2, 16, 16, 1)).astype("float32")
    served = tf.function(serving_function(model, "Grad-CAM++", layer="features"))(tf.constant(x))
    np.testing.assert_allclose(served["heatmap"].numpy(), GradCAMPlusPlus(model, "features").explain(x)[0].numpy(), atol=1e-5)
    clips = np.random.default_rng(1).uniform(0, 255, (2, 4, 16, 16, 1)).astype("float32")
    video = R3D(2, (4, 16, 16, 1), depth=10, base_width=4)
    served = tf.function(serving_function(video, "r3d-gradcam"))(tf.constant(clips))
    np.testing.assert_allclose(served["heatmap"].numpy(), GradCAM(video).explain(clips)[0].numpy(), atol=1e-5)
    for name in ("scorecam", "smoothgrad", "layercam"):
        with pytest.raises(TfxaiError, match=rf"^{name} runs tf-keras-vis in Python \(numpy\), which cannot run inside a "
                                             r"SavedModel: export with one of gradcam, gradcam\+\+, cam, r3d-gradcam"):
            export_saved_model(model, tmp_path / name, explain=name)
        assert not os.path.exists(tmp_path / name)
    with pytest.raises(TfxaiError, match="unknown explainer 'nope'"):
        export_saved_model(model, tmp_path / "nope", explain="nope")
