"""The apps as one product, continued (issue 17): one --augment, one channel rule, one run folder, --quiet everywhere."""

import json
import os
import re

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from tfxai.apps.cli import main
from tfxai.testing import tiny_cnn

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
        assert (metrics["config"]["augment"], metrics["config"]["shift_crop"]) == ((augment, 0.1) if augment else ("none", 0.0))
    refused = run([*args, "--out", str(tmp_path / "x"), "--augment", "flip", "--shift-crop", "0.2"])
    assert refused.exit_code == 2 and "use --augment flip+shift" in refused.output, refused.output


@pytest.mark.parametrize("preset", ["paper", "small"])
def test_no_image_preset_flips(preset):
    from tfxai.attention import ABNConfig, GAINConfig
    from tfxai.classify.classifier import ClassifierConfig

    for config_class in (ClassifierConfig, ABNConfig, GAINConfig):
        assert config_class.from_preset(preset).flip is False, config_class


def test_generate_reads_the_input_range_from_the_models_preprocessing(tmp_path):
    import keras

    from tfxai.classify.backbones import build_classifier
    from tfxai.classify.classifier import save_classifier

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


@pytest.fixture(scope="module")
def rgb_teacher(tmp_path_factory):
    from tfxai.classify.classifier import save_classifier

    root = tmp_path_factory.mktemp("channels")
    save_classifier(tiny_cnn((8, 8, 3)), root / "run", ["cats", "dogs"])
    gray = class_tree(root / "gray", channels=1)
    pixels = np.stack([cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted(gray.glob("*/*.png"))])
    np.savez(root / "gray.npz", x=pixels, y=np.repeat([0, 1], 3))
    return root


@pytest.mark.parametrize("app", ["explain", "generate", "train mixed (folder)", "train mixed (.npz)", "train classifier"])
def test_every_app_converts_to_the_models_channels_and_says_so_in_one_line(app, rgb_teacher, tmp_path):
    root = rgb_teacher
    out = str(tmp_path / "out")
    mixed = ["train", "mixed", "--teacher", str(root / "run" / "model.keras"), "--out", out, "--epochs", "1",
             "--generation-steps", "1", "--validation-split", "0", "--no-export"]
    args = {
        "explain": ["explain", "--model", str(root / "run"), "--images", str(root / "gray"), "--out", out],
        "generate": ["generate", "--model", str(root / "run"), "--images", str(root / "gray"), "--target", "dogs",
                     "--out", out, "--steps", "1"],
        "train mixed (folder)": [*mixed, "--data", str(root / "gray")],
        "train mixed (.npz)": [*mixed, "--data", str(root / "gray.npz")],
        "train classifier": ["train", "classifier", "--data", str(root / "gray"), "--preset", "small", "--image-size", "8",
                             "--channels", "3", "--epochs", "1", "--validation-split", "0", "--no-export", "--out", out],
    }[app]
    result = run(args)
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if "converted" in line]
    assert notes == ["converted 6 grayscale images to the model's 3 channels (RGB)"], result.output


def test_every_app_takes_quiet_and_then_prints_only_its_final_line(rgb_teacher, tmp_path):
    from tfxai.apps.cli import COMMANDS

    for path in COMMANDS:
        assert "--quiet" in run([*path, "--help"]).output, path
    root = rgb_teacher
    apps = {
        "explain": ["explain", "--model", str(root / "run"), "--images", str(root / "gray"), "--out", str(tmp_path / "e")],
        "generate": ["generate", "--model", str(root / "run"), "--images", str(root / "gray"), "--target", "dogs",
                     "--steps", "1", "--out", str(tmp_path / "g")],
        "export": ["export", "--model", str(root / "run"), "--out", str(tmp_path / "x")],
    }
    for name, args in apps.items():
        loud, quiet = run(args[:-1] + [args[-1] + "_loud"]), run([*args, "--quiet"])
        assert loud.exit_code == 0 and quiet.exit_code == 0, (loud.output, quiet.output)
        assert quiet.output.splitlines() == [line.replace("_loud", "") for line in loud.output.splitlines()[-1:]], (name, quiet.output)
        assert len(loud.output.splitlines()) > 1 or name == "export"
    failed = run(["explain", "--model", str(tmp_path / "missing"), "--images", ".", "--out", str(tmp_path / "m"), "--quiet"])
    assert failed.exit_code == 2 and failed.output.startswith("error: "), failed.output


def test_explain_overlays_show_the_image_at_its_own_resolution_and_aspect_ratio(rgb_teacher, tmp_path):
    photo = np.random.default_rng(0).integers(0, 256, (100, 200, 3), np.uint8)  # 2:1, the model takes 8x8
    cv2.imwrite(str(tmp_path / "wide.png"), photo)
    out = tmp_path / "report"
    result = run(["explain", "--model", str(rgb_teacher / "run"), "--images", str(tmp_path / "wide.png"), "--out", str(out), "--alpha", "0"])
    assert result.exit_code == 0, result.output
    (name,) = os.listdir(out / "overlays")
    written = cv2.imread(str(out / "overlays" / name))
    assert written.shape[1] == 200 and written.shape[0] > 100
    np.testing.assert_array_equal(written[:100], photo)  # alpha 0: the file itself, not a squashed 8x8 copy
    heat = run(["explain", "--model", str(rgb_teacher / "run"), "--images", str(tmp_path / "wide.png"), "--out", str(tmp_path / "h")])
    (name,) = os.listdir(tmp_path / "h" / "overlays")
    assert cv2.imread(str(tmp_path / "h" / "overlays" / name)).shape == written.shape and heat.exit_code == 0
