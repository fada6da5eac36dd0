import json
import os
import textwrap

import keras
import numpy as np
import pytest

from tfxai.classify.backbones import BACKBONES, build_backbone, build_classifier, mini_xception
from tfxai.errors import TfxaiError
from tfxai.explain import GradCAM
from tfxai.testing import run_python

FIXTURE = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "mini_xception_64x64x1_7cls.config.json")  # copy of ../shared/fixtures


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_backbone_knows_its_feature_and_split_layers(name):
    spec = BACKBONES[name]
    base = build_backbone(name, (32, 32, 3), weights="none")
    names = {layer.name for layer in base.layers}
    assert spec.feature_layer in names and spec.split_layer in names
    assert base.get_layer(spec.feature_layer).output is base.outputs[0] or len(base.get_layer(spec.feature_layer).output.shape) == 4


@pytest.mark.parametrize(
    "name, reference",
    [("mobilenet_v2", keras.applications.mobilenet_v2.preprocess_input),
     ("resnet50", keras.applications.resnet50.preprocess_input),
     ("vgg16", keras.applications.vgg16.preprocess_input)],
)
def test_preprocessing_layers_equal_keras_applications_preprocess_input(name, reference):
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 5, 7, 3)).astype(np.float32)
    np.testing.assert_allclose(BACKBONES[name].preprocessing()(pixels), reference(pixels.copy()), atol=1e-4)


def test_classifier_grayscale_input_and_gradcam_in_nested_backbone():
    model = build_classifier("mobilenet_v2", 4, (32, 32, 1), weights="none")
    x = np.random.default_rng(0).integers(0, 255, (2, 32, 32, 1)).astype("float32")
    assert model(x).shape == (2, 4)
    cam = GradCAM(model)
    assert cam.layer.name == "out_relu"
    assert cam(x).shape == (2, 32, 32)


def test_imagenet_without_network_fails_with_one_line(tmp_path):
    code = textwrap.dedent(
        """
        import tfxai
        from tfxai.classify.backbones import build_backbone
        from tfxai.errors import TfxaiError
        try:
            build_backbone("mobilenet_v2", (96, 96, 3), weights="imagenet")
            print("DOWNLOADED")
        except TfxaiError as error:
            print("ERROR", error)
        """
    )
    env = dict(os.environ, KERAS_HOME=str(tmp_path), HTTPS_PROXY="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9",
               HTTP_PROXY="http://127.0.0.1:9", http_proxy="http://127.0.0.1:9", NO_PROXY="", no_proxy="")
    # An inherited NO_PROXY naming the weights' host would let the download reach the network.
    result = run_python(code, env=env, returncode=None)
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("ERROR could not download the ImageNet weights of mobilenet_v2"), result.stdout + result.stderr
    assert "--weights" in line


def test_bad_backbone_options():
    with pytest.raises(TfxaiError, match="unknown backbone"):
        build_backbone("resnet9000", (32, 32, 3))
    with pytest.raises(TfxaiError, match="does not exist"):
        build_backbone("vgg16", (32, 32, 3), weights="/no/such/file.h5")
    with pytest.raises(TfxaiError, match="at least 32x32"):
        build_backbone("resnet50", (16, 16, 3), weights="none")


def test_mini_xception_matches_the_shared_fixture():
    with open(FIXTURE) as handle:
        reference = keras.Model.from_config(json.load(handle))
    ours = mini_xception()
    assert [type(layer).__name__ for layer in ours.layers] == [type(layer).__name__ for layer in reference.layers]
    assert [tuple(layer.output.shape) for layer in ours.layers] == [tuple(layer.output.shape) for layer in reference.layers]
    assert ours.count_params() == reference.count_params()


def test_mini_xception_trains_and_is_explained_without_crashing_the_process():
    """DESIGN.md hazard: with oneDNN on, fit and the input gradient of this architecture crashed on AMD and Intel CPUs
    (strided 1x1 shortcuts). tfxai now leaves oneDNN on and computes those convolutions by subsampling: this must run.

    Runs in a child process (a crash would kill pytest) that imports tfxai first,
    exactly as library users and the apps do.
    """
    code = textwrap.dedent(
        """
        import tfxai, numpy as np, keras
        from tfxai.classify.backbones import mini_xception
        from tfxai.explain import GradCAM, GradCAMPlusPlus, SmoothGrad
        keras.utils.set_random_seed(0)
        model = mini_xception()
        model.compile("adam", "sparse_categorical_crossentropy")
        x = np.random.default_rng(0).random((16, 64, 64, 1)).astype("float32")
        y = np.arange(16) % 7
        history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        heat = GradCAM(model)(x[:4]).numpy()
        heat2 = GradCAMPlusPlus(model)(x[:4]).numpy()
        smooth = SmoothGrad(model, samples=4)(x[:4]).numpy()  # the input gradient: through every strided 1x1 shortcut
        assert smooth.shape[:3] == (4, 64, 64) and np.isfinite(smooth).all(), smooth.shape
        print("OK", tfxai.ONEDNN_SETTING, heat.shape, float(heat.min()), float(heat.max()), np.isfinite(history.history["loss"]).all())
        """
    )
    result = run_python(code)  # fails with the exit code and the output's tail if the process dies
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("OK 1 ") and "(4, 64, 64)" in last and last.endswith("True")  # oneDNN on (tfxai's default)
