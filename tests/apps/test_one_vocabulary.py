"""The apps as one product, continued (issue 17): one --augment, one channel rule, one run folder, --quiet everywhere."""

import json
import os
import re

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from tfxai.apps.cli import main

IMAGE_TRAINING_APPS = (["train", "classifier"], ["train", "abn"], ["train", "gain"], ["train", "mixed"])


def run(args):
    return CliRunner().invoke(main, args)


def class_tree(root, size=8, channels=3, per_class=3):
    for index, name in enumerate(("cats", "dogs")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.full((size, size, channels), 40 + 160 * index + i, np.uint8)
            cv2.imwrite(str(root / name / f"{i}.png"), pixels)
    return root


def _augment_help(app):
    text = " ".join(run([*app, "--help"]).output.split())
    choices = re.search(r"--augment \[([^\]]+)\]", text)
    default = re.search(r"Default: ([^.]+)\.", text[text.index("--augment ["):])
    return choices and choices.group(1), default and default.group(1)


def test_every_image_training_app_has_one_augment_option_without_flips_by_default():
    helps = {" ".join(app): _augment_help(app) for app in IMAGE_TRAINING_APPS}
    assert {choices for choices, _ in helps.values()} == {"none|shift|flip|flip+shift"}, helps
    for app, (_, default) in helps.items():
        assert default and "flip" not in default, (app, default)


def test_metrics_json_records_the_augmentation_used(tmp_path):
    tree = class_tree(tmp_path / "tree")
    args = ["train", "classifier", "--data", str(tree), "--preset", "small", "--image-size", "8", "--epochs", "1",
            "--batch-size", "2", "--validation-split", "0", "--no-export", "--quiet"]
    for augment in (None, "flip+shift"):
        out = tmp_path / str(augment)
        result = run([*args, "--out", str(out)] + ([] if augment is None else ["--augment", augment]))
        assert result.exit_code == 0, result.output
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["augmentation"] == (augment or "none")
        assert (metrics["config"]["augment"], metrics["config"]["shift_crop"]) == ((True, 0.1) if augment else (False, 0.0))
    refused = run([*args, "--out", str(tmp_path / "x"), "--augment", "flip", "--shift-crop", "0.2"])
    assert refused.exit_code == 2 and "use --augment flip+shift" in refused.output, refused.output


@pytest.mark.parametrize("preset", ["paper", "small"])
def test_no_image_preset_flips(preset):
    from tfxai.attention import ABNConfig, GAINConfig
    from tfxai.classifier import ClassifierConfig

    for config_class in (ClassifierConfig, ABNConfig, GAINConfig):
        assert config_class.from_preset(preset).augment is False, config_class


def test_generate_reads_the_input_range_from_the_models_preprocessing(tmp_path):
    import keras

    from tfxai.backbones import build_classifier
    from tfxai.classifier import save_classifier

    tree = class_tree(tmp_path / "tree")
    save_classifier(build_classifier("small_cnn", 2, (8, 8, 3), weights="none"), tmp_path / "tfxai_run", ["cats", "dogs"])
    plain = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
    save_classifier(plain, tmp_path / "plain_run", ["cats", "dogs"])
    for run_name, expected in (("tfxai_run", 255.0), ("plain_run", 1.0)):
        out = tmp_path / f"gen_{run_name}"
        result = run(["generate", "--model", str(tmp_path / run_name), "--images", str(tree), "--target", "dogs",
                      "--out", str(out), "--steps", "1"])
        assert result.exit_code == 0, result.output
        assert f"pixels scaled by {expected:g} (" in result.output
        assert json.loads((out / "summary.json").read_text())["scale"] == expected
