"""Model files are loaded in safe mode: Python code in them (Lambda layers) is refused unless the user allows it."""

import os

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from tfxai.apps.cli import main
from tfxai.errors import TfxaiError
from tfxai.io import load_model
from tfxai.testing import one_line_error


def lambda_model():
    return keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Lambda(lambda t: t * 2.0), keras.layers.Conv2D(4, 3),
                             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax")])


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_lambda_layer_is_refused_naming_the_flag_and_loads_with_safe_mode_off(tmp_path, suffix):
    model = lambda_model()
    path = tmp_path / f"untrusted{suffix}"
    model.save(path)
    with pytest.raises(TfxaiError, match=r"holds a Lambda layer .* refused in safe mode: pass --unsafe-deserialization \(safe_mode=False"):
        load_model(path)
    loaded, _ = load_model(path, safe_mode=False)
    x = np.random.default_rng(0).random((2, 16, 16, 1)).astype("float32")
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)


def test_apps_refuse_an_untrusted_model_and_the_flag_allows_it(tmp_path):
    lambda_model().save(tmp_path / "untrusted.keras")
    refused = CliRunner().invoke(main, ["export", "--model", str(tmp_path / "untrusted.keras"), "--out", str(tmp_path / "refused")])
    assert refused.exit_code == 2
    assert "--unsafe-deserialization" in one_line_error(refused)
    assert not (tmp_path / "refused").exists()
    allowed = CliRunner().invoke(main, ["export", "--model", str(tmp_path / "untrusted.keras"), "--out", str(tmp_path / "allowed"),
                                        "--unsafe-deserialization"])
    assert allowed.exit_code == 0, allowed.output
    assert os.path.isfile(tmp_path / "allowed" / "saved_model.pb")
    # the flag held for that command only: the same process is in safe mode again
    again = CliRunner().invoke(main, ["export", "--model", str(tmp_path / "untrusted.keras"), "--out", str(tmp_path / "again")])
    assert again.exit_code == 2 and "--unsafe-deserialization" in one_line_error(again)
    with pytest.raises(TfxaiError, match="refused in safe mode"):
        load_model(tmp_path / "untrusted.keras")


def _load_translator(folder):
    from tfxai.gan.stargan.training import load_translator

    lambda_model().save(folder / "stargan.keras")
    return load_translator(folder)


def _load_signal_run(folder):
    from tfxai.signal.training import load_trained

    lambda_model().save(folder / "model.keras")
    (folder / "preprocessor.json").write_text("{}")
    return load_trained(folder)


def _load_detector(folder):
    from tfxai.annotate.detector import load_detector

    lambda_model().save(folder / "detector.keras")
    return load_detector(str(folder / "detector.keras"))


@pytest.mark.parametrize("load", [_load_translator, _load_signal_run, _load_detector], ids=["stargan", "signal", "detector"])
def test_every_loader_refuses_a_lambda_layer_naming_the_flag(tmp_path, load):
    with pytest.raises(TfxaiError, match=r"holds a Lambda layer .* refused in safe mode: pass --unsafe-deserialization"):
        load(tmp_path)
