"""ABN apps end to end on a tiny image folder: train abn, attention export-maps / edit, evaluate attention; bad input exits 2."""

import csv
import json
import os

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from tfxai.apps.cli import main
from tfxai.testing import one_line_error, tensorboard_summaries

CLASSES = ("left", "middle", "right")


def make_folder(root, per_class=6, size=16, seed=0):
    """Class c is a bright vertical band at third c of the image (3-channel PNGs)."""
    rng = np.random.default_rng(seed)
    third = size // 3
    for index, name in enumerate(CLASSES):
        os.makedirs(root / name, exist_ok=True)
        for i in range(per_class):
            image = rng.integers(0, 50, (size, size, 3), dtype=np.uint8)
            image[:, index * third : (index + 1) * third] += 180
            cv2.imwrite(str(root / name / f"{i}.png"), image)
    return root


def run(args):
    return CliRunner().invoke(main, args)


TRAIN = ["--preset", "small", "--image-size", "16", "--channels", "1", "--epochs", "2", "--batch-size", "6", "--no-cot",
         "--validation-split", "0.25"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("abn_apps")
    data = make_folder(root / "data")
    out = root / "abn"
    result = run(["train", "abn", "--data", str(data), "--out", str(out), "--tensorboard", str(root / "tb"), *TRAIN])
    assert result.exit_code == 0, result.output
    return root, data, out


def test_train_abn_writes_model_maps_export_and_tensorboard(trained):
    root, _, out = trained
    for name in ("model.keras", "class_names.json", "history.csv", "metrics.json", "saved_model/saved_model.pb",
                 "attention/contact_sheet.png"):
        assert os.path.exists(out / name), name
    with open(out / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and {"attention_loss", "perception_loss", "mining_loss", "pc_loss", "val_accuracy"} <= set(rows[0])
    with open(out / "class_names.json") as handle:
        assert json.load(handle) == list(CLASSES)
    sheets = tensorboard_summaries(root / "tb" / "attention")["attention_maps"]
    assert set(sheets) == {0, 1} and sheets[1].ndim == 3 and sheets[1].shape[-1] == 3  # an RGB contact sheet per epoch
    assert np.ptp(sheets[1]) > 50  # overlays, not a blank image


def test_export_edit_and_fine_tune_with_human_maps(trained):
    root, data, out = trained
    maps = root / "maps"
    result = run(["attention", "export-maps", "--model", str(out), "--data", str(data), "--out", str(maps), "--select", "all", "--limit", "5"])
    assert result.exit_code == 0, result.output
    with open(maps / "manifest.json") as handle:
        entries = json.load(handle)["entries"]
    assert len(entries) == 5 and len(os.listdir(maps / "maps")) == 5
    band = np.zeros((16, 16), np.uint8)
    label = entries[0]["label"]
    band[:, label * 5 : (label + 1) * 5] = 255  # "attend to the band"
    cv2.imwrite(str(maps / entries[0]["edited"]), band)
    tuned = root / "tuned"
    result = run(["train", "abn", "--data", str(data), "--out", str(tuned), "--init", str(out), "--human-maps", str(maps),
                  "--map-weight", "2", *TRAIN, "--epochs", "1", "--no-export"])
    assert result.exit_code == 0, result.output
    assert "1 human-edited attention maps" in result.output
    with open(tuned / "history.csv") as handle:
        assert "map_loss" in next(csv.reader(handle))
    assert not os.path.exists(tuned / "saved_model")


def test_evaluate_attention_writes_curves_and_tables(trained):
    root, data, out = trained
    report = root / "evaluation"
    result = run(["evaluate", "attention", "--model", str(out), "--data", str(data), "--out", str(report), "--limit", "9",
                  "--mode", "threshold", "--mode", "rise", "--step", "32"])
    assert result.exit_code == 0, result.output
    for name in ("curves.png", "curves.csv", "results.csv", "results.md", "results.json"):
        assert os.path.isfile(report / name), name
    with open(report / "results.json") as handle:
        summary = json.load(handle)
    assert summary["images"] == 9 and set(summary["results"]) == {"threshold", "rise"}
    for mode, values in summary["results"].items():
        x = np.asarray(values["x"])
        for curve in ("insertion", "deletion"):  # the area of the written curve, over the x range
            y = np.asarray(values[curve])
            area = float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)) / (x[-1] - x[0]))
            assert values[f"{curve}_auc"] == pytest.approx(area, abs=1e-6), (mode, curve)
        # all pixels inserted = none deleted: the unmodified images at both ends
        assert values["insertion"][-1] == pytest.approx(values["deletion"][0], abs=1e-5), mode
        assert values["score"] == pytest.approx(values["insertion_auc"] - values["deletion_auc"])
    assert len(summary["results"]["threshold"]["x"]) == 11 and len(summary["results"]["rise"]["x"]) == 9  # 256 px / 32 + 1
    assert "| threshold |" in (report / "results.md").read_text()


def test_bad_inputs_exit_2_with_one_line_and_write_nothing(trained, tmp_path):
    root, data, out = trained
    missing = tmp_path / "missing"
    assert "does not exist" in one_line_error(run(["train", "abn", "--data", str(missing), "--out", str(tmp_path / "m1"), *TRAIN]))
    assert not os.path.exists(tmp_path / "m1")
    corrupt = make_folder(tmp_path / "corrupt", per_class=2)
    (corrupt / "left" / "broken.png").write_bytes(b"not a png")
    assert "cannot decode image" in one_line_error(run(["train", "abn", "--data", str(corrupt), "--out", str(tmp_path / "m2"), *TRAIN]))
    assert not os.path.exists(tmp_path / "m2")
    assert "--init" in one_line_error(run(["train", "abn", "--data", str(data), "--out", str(tmp_path / "m3"), "--human-maps", str(root), *TRAIN]))
    assert "--mining" in one_line_error(run(["train", "abn", "--data", str(data), "--out", str(tmp_path / "m4"), *TRAIN, "--cot", "--no-mining"]))
    wrong_size = ["--preset", "small", "--image-size", "20", "--channels", "1", "--epochs", "1"]
    assert "match the model" in one_line_error(run(["train", "abn", "--data", str(data), "--out", str(tmp_path / "m5"), "--init", str(out), *wrong_size]))
    # an existing output folder is kept as it was
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "note.txt").write_text("mine")
    assert "already exists" in one_line_error(run(["attention", "export-maps", "--model", str(out), "--data", str(data), "--out", str(keep)]))
    assert os.listdir(keep) == ["note.txt"]
    assert "does not exist" in one_line_error(run(["attention", "export-maps", "--model", str(missing), "--data", str(data), "--out", str(tmp_path / "x")]))
    (tmp_path / "bad.keras").write_bytes(b"garbage")
    assert "cannot load model" in one_line_error(
        run(["evaluate", "attention", "--model", str(tmp_path / "bad.keras"), "--data", str(data), "--out", str(tmp_path / "e1")])
    )
    empty = tmp_path / "empty"
    (empty / "a").mkdir(parents=True)
    (empty / "b").mkdir()
    assert "has no images" in one_line_error(run(["evaluate", "attention", "--model", str(out), "--data", str(empty), "--out", str(tmp_path / "e2")]))
    assert not os.path.exists(tmp_path / "e2")
    assert "manifest" in one_line_error(run(["attention", "edit", "--maps", str(tmp_path)]))


def test_help_of_the_abn_commands():
    for args in (["train", "abn", "--help"], ["attention", "--help"], ["attention", "export-maps", "--help"],
                 ["attention", "edit", "--help"], ["evaluate", "attention", "--help"]):
        result = run(args)
        assert result.exit_code == 0 and "Usage" in result.output, args
