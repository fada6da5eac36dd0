import csv
import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner

import tfxai  # noqa: F401
from tfxai.apps.cli import main
from tfxai.data.float_images import read_image, write_png

NAMES = ["cat", "dog", "frog"]


@pytest.fixture
def workspace(tmp_path):
    """A tiny trained-looking classifier with class_names.json beside it, and a folder of 3 PNGs."""
    rng = np.random.default_rng(0)
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")]
    )
    model.layers[-1].set_weights([rng.normal(0, 1, (64, 3)).astype("float32"), np.zeros(3, "float32")])
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    model.save(model_dir / "model.keras")
    (model_dir / "class_names.json").write_text(json.dumps(NAMES))
    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        write_png(images / f"img{i}.png", rng.uniform(0.2, 0.8, (8, 8, 1)))
    return tmp_path, model, str(model_dir / "model.keras"), str(images)


def _run(*args):
    return CliRunner().invoke(main, ["generate", *args])


def test_generate_writes_pngs_and_a_csv_that_match_the_model(workspace):
    tmp_path, model, model_path, images = workspace
    out = tmp_path / "out"
    result = _run("--model", model_path, "--images", images, "--target", "cat:0.6,dog:0.4", "--out", str(out),
                  "--learning-rate", "2", "--steps", "200", "--tolerance", "0.001")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(out / "results.csv", encoding="utf-8")))
    assert [r["file"] for r in rows] == ["img0.png", "img1.png", "img2.png"]
    for row in rows:
        assert row["target"] == "cat:0.6000;dog:0.4000"
        image = read_image(out / row["file"], channels=1)
        output = model.predict(image[None], verbose=0)[0]
        # CSV output is the model's output on the saved PNG.
        np.testing.assert_allclose([float(row[f"p_{n}"]) for n in NAMES], output, atol=1e-4)
        kl = 0.6 * np.log(0.6 / output[0]) + 0.4 * np.log(0.4 / output[1])
        assert float(row["kl"]) == pytest.approx(kl, abs=1e-4)
        assert float(row["kl"]) < 0.02 and row["top2_match"] == "1"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images"] == 3 and summary["top2_match_rate"] == 1.0


def test_existing_output_folder_is_kept_without_overwrite(workspace):
    tmp_path, _, model_path, images = workspace
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier result")
    result = _run("--model", model_path, "--images", images, "--target", "frog:1", "--out", str(out), "--steps", "1")
    assert result.exit_code == 2
    assert (out / "keep.txt").read_text() == "earlier result"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"--model": "missing.keras"}, "not found"),
        ({"--images": "empty"}, "no images"),
        ({"--target": "horse:1.0"}, "unknown class 'horse'"),
        ({"--target": "cat:0.9,dog:0.3"}, "sum to 1.2"),
        ({"--target": "cat0.9"}, "bad target entry"),
        ({"--classes": "a,b"}, "2 class names"),
    ],
)
def test_bad_input_exits_2_with_one_line(workspace, change, message):
    tmp_path, _, model_path, images = workspace
    (tmp_path / "empty").mkdir()
    options = {"--model": model_path, "--images": images, "--target": "cat:0.9,dog:0.1", "--out": str(tmp_path / "o")}
    for key, value in change.items():
        options[key] = value if key in ("--target", "--classes") else str(tmp_path / value)
    result = _run(*[item for pair in options.items() for item in pair], "--steps", "1")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and message in lines[-1], result.stderr
    assert not (tmp_path / "o").exists()
