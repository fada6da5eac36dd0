"""The one options builder: flags generated from a config's fields, errors naming the flag, the preset line, deprecated flags."""

import dataclasses
from typing import ClassVar

import click
import pytest
from click.testing import CliRunner

from tfxai.apps.cli import main
from tfxai.apps.common import echo
from tfxai.apps.options import config_options
from tfxai.training.config import ConfigError, RunOptions, option


@dataclasses.dataclass
class ToyConfig(RunOptions):
    width: int = option(4, "Width of the toy.", minimum=1)
    shape: str = option("round", "Shape of the toy.", choices=("round", "square"))

    presets: ClassVar[dict] = {"paper": {"epochs": 90, "width": 64}, "small": {"epochs": 2}}

    def validate(self):
        super().validate()
        if self.width > self.epochs * 10:
            raise ConfigError(("width", "epochs"), f"width ({self.width}) must be at most 10 times epochs ({self.epochs})")
        return self


@click.command()
@config_options(ToyConfig)
def toy(config):
    echo(f"training {config.to_dict()}")


def run(*args):
    return CliRunner().invoke(toy, list(args))


def test_options_come_from_the_fields_with_each_presets_default():
    help_text = " ".join(run("--help").output.split())
    for flag in ("--out", "--seed", "--epochs", "--batch-size", "--learning-rate", "--overwrite", "--width", "--preset"):
        assert flag in help_text
    assert "Width of the toy. [paper: 64; small: 4]" in help_text and "[round|square]" in help_text


def test_only_given_flags_override_the_preset_and_the_run_says_which_preset():
    result = run("--preset", "paper", "--batch-size", "3")
    assert result.exit_code == 0, result.output
    first, second = result.output.splitlines()[:2]
    assert first == "preset: paper"
    assert "'epochs': 90" in second and "'width': 64" in second and "'batch_size': 3" in second and "'preset': 'paper'" in second


def test_the_default_preset_is_small_without_a_gpu():
    result = run()
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "preset: small (default without a GPU; --preset paper for the paper's values)"


def test_config_errors_name_the_flag_in_one_line():
    result = run("--batch-size", "0")
    assert result.exit_code == 2 and result.output == "error: --batch-size must be at least 1, got 0\n"
    result = run("--width", "50")
    assert result.exit_code == 2 and result.output == "error: --width (50) must be at most 10 times --epochs (2)\n"


def test_a_given_seed_is_recorded_as_deterministic():
    assert "'deterministic': False" in run().output and "'seed': 0" in run().output
    assert "'deterministic': True" in run("--seed", "0").output


@pytest.mark.parametrize("app", [("train", "classifier"), ("train", "abn"), ("train", "gain"), ("train", "video"),
                                 ("train", "signal"), ("train", "collab-gan"), ("train", "stargan")])
def test_every_training_app_has_one_seed_default_and_the_run_options(app):
    help_text = " ".join(CliRunner().invoke(main, [*app, "--help"]).output.split())
    for flag in ("--out", "--seed", "--batch-size", "--overwrite"):
        assert flag in help_text, (app, flag)
    assert "--seed INTEGER Seed of the split" in help_text and "[0]" in help_text


def test_video_help_offers_only_what_video_takes():
    help_text = " ".join(CliRunner().invoke(main, ["train", "video", "--help"]).output.split())
    assert "demo" not in help_text and "paper" not in help_text and "--weights" not in help_text and "--shift-crop" not in help_text


def test_collab_gan_scorer_and_its_deprecated_classifier_flag(tmp_path):
    help_text = CliRunner().invoke(main, ["train", "collab-gan", "--help"]).output
    assert "--scorer" in help_text and "--classifier" not in help_text
    result = CliRunner().invoke(main, ["train", "collab-gan", "--data", str(tmp_path / "none"), "--classifier", "none",
                                       "--image-size", "12"])
    assert result.exit_code == 2 and "warning: --classifier is deprecated: use --scorer" in result.output
