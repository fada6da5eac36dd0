"""The run options every training config extends: pure validation naming the field, presets as data, the seed policy."""

import dataclasses
import inspect

import pytest

from tfxai.attention import ABNConfig, GAINConfig
from tfxai.classify.classifier import ClassifierConfig
from tfxai.errors import TfxaiError
from tfxai.signal.training import SignalTrainingConfig
from tfxai.training.config import ConfigError, RunOptions, TaskOptions
from tfxai.video.training import VideoConfig

TRAINING_CONFIGS = [ClassifierConfig, ABNConfig, GAINConfig, VideoConfig, SignalTrainingConfig]
RUN_FIELDS = ("out", "seed", "epochs", "batch_size", "learning_rate", "overwrite")


@pytest.mark.parametrize("config_class", TRAINING_CONFIGS)
def test_every_training_config_extends_the_run_options(config_class):
    assert issubclass(config_class, RunOptions)
    assert {field.name for field in dataclasses.fields(config_class)} >= set(RUN_FIELDS)


@pytest.mark.parametrize("field, value, message", [
    ("batch_size", 0, "batch_size must be at least 1, got 0"),
    ("epochs", 0, "epochs must be at least 1, got 0"),
    ("learning_rate", -1.0, "learning_rate must be a positive number, got -1.0"),
    ("channels", 2, "channels must be one of 1, 3, got 2"),
])
def test_validate_names_the_field(field, value, message):
    with pytest.raises(ConfigError, match=message) as error:
        ClassifierConfig.from_preset("small", **{field: value})
    assert error.value.field == field


@pytest.mark.parametrize("config_class", TRAINING_CONFIGS)
def test_validate_never_rewrites_a_field(config_class):
    config = config_class.from_preset("small")
    before = dataclasses.asdict(config)
    assert config.validate() is config and dataclasses.asdict(config) == before


def test_augment_keeps_the_choice_and_derives_what_the_run_does():
    config = ClassifierConfig.from_preset("small", augment="flip+shift", shift_crop=0.2)
    assert (config.augment, config.flip, config.shift) == ("flip+shift", True, 0.2)  # the field stays the choice
    paper = ClassifierConfig.from_preset("paper")
    assert (paper.augment, paper.augmentation, paper.flip, paper.shift) == (None, "shift", False, 0.1)
    assert ClassifierConfig.from_preset("paper", augment="none").shift == 0.0
    assert paper.to_dict()["augment"] == "shift"  # the recorded config repeats the run
    with pytest.raises(TfxaiError, match="use augment flip\\+shift or shift"):
        ClassifierConfig.from_preset("small", augment="flip", shift_crop=0.2)


def test_a_given_seed_turns_xla_off_in_python_too():
    assert SignalTrainingConfig().jit_compile is True  # no seed: fast XLA, seed 0
    assert SignalTrainingConfig().seed == 0
    assert SignalTrainingConfig(seed=1).jit_compile is False  # a seed asks for bit-for-bit repeats
    assert SignalTrainingConfig(seed=0).jit_compile is False
    assert SignalTrainingConfig(seed=1, xla=True).jit_compile is True  # an explicit choice wins
    recorded = SignalTrainingConfig(seed=3).to_dict()
    assert (recorded["seed"], recorded["deterministic"], recorded["jit_compile"]) == (3, True, False)


def test_signal_output_is_a_deprecated_name_of_out():
    with pytest.warns(DeprecationWarning, match="use out="):
        config = SignalTrainingConfig(output="somewhere")
    assert config.out == config.output == "somewhere"
    with pytest.warns(DeprecationWarning):
        assert SignalTrainingConfig.from_preset("small", output="there").out == "there"


@pytest.mark.parametrize("config_class, paper", [(ClassifierConfig, "paper"), (ABNConfig, "paper"), (VideoConfig, "thesis"),
                                                 (SignalTrainingConfig, "thesis")])
def test_the_default_preset_fits_the_machine(config_class, paper):
    assert config_class.default_preset(gpu=False) == "small"
    assert config_class.default_preset(gpu=True) == paper


@pytest.mark.parametrize("config_class", [ClassifierConfig, ABNConfig, GAINConfig])
def test_image_method_configs_check_their_backbone_though_the_engine_knows_none(config_class):
    config = config_class.from_preset("small")
    with pytest.raises(TfxaiError, match="unknown backbone 'nope'"):
        dataclasses.replace(config, backbone="nope").validate()
    assert dataclasses.replace(config, backbone="Small-CNN").validate().backbone == "Small-CNN"  # looked up, not rewritten
    from tfxai.training import RunConfig

    assert RunConfig(backbone="nope").validate().backbone == "nope"  # the engine leaves backbones to the methods


@pytest.mark.parametrize("config_class", ["tfxai.gan.stargan.training.TTAConfig", "tfxai.synthesis.training.GenerateConfig",
                                          "tfxai.attention.evaluation.EvaluateAttentionConfig"])
def test_tasks_that_do_not_train_extend_the_task_options_without_restating_them(config_class):
    import importlib

    module, _, name = config_class.rpartition(".")
    config_class = getattr(importlib.import_module(module), name)
    assert issubclass(RunOptions, TaskOptions) and issubclass(config_class, TaskOptions) and not issubclass(config_class, RunOptions)
    assert [field.name for field in dataclasses.fields(config_class)][:4] == ["out", "seed", "batch_size", "overwrite"]
    assert not {"seed", "overwrite"} & set(vars(config_class).get("__annotations__", {}))  # only defaults are changed
    own = [name for name in vars(config_class)["__annotations__"] if name not in ("out", "batch_size")]
    parameters = inspect.signature(config_class).parameters
    assert all(parameters[name].kind is inspect.Parameter.KEYWORD_ONLY for name in own)  # no positional argument moves to another field
