"""``tfxai train collab-gan`` and ``tfxai search gates`` on tiny folders."""

import json
import os

import cv2
import keras
import numpy as np
import pytest
from click.testing import CliRunner

from tfxai.apps.cli import main

TINY = ["--image-size", "8", "--channels", "1", "--latent-dim", "4", "--filters", "2", "--batch-size", "8", "--epochs", "1",
        "--score-images", "10", "--generators", "2", "--quiet"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("gan")
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        os.makedirs(root / "data" / name)
        for i in range(12):
            cv2.imwrite(str(root / "data" / name / f"{i}.png"), rng.integers(0, 255, (8, 8), np.uint8))
    classifier = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(4, activation="relu"),
                                   keras.layers.Dense(3, activation="softmax")])
    classifier.save(str(root / "classifier.keras"))
    return root


def test_train_collab_gan_writes_generators_samples_and_scores(folder, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "collab-gan", "--data", str(folder / "data"), "--out", str(out),
                                       "--classifier", str(folder / "classifier.keras"), "--graph", "mad-gan", *TINY])
    assert result.exit_code == 0, result.output
    assert "done: 2 generator(s)" in result.output and "IS" in result.output
    generator = keras.saving.load_model(str(out / "generator_2.keras"))
    assert generator.output_shape == (None, 8, 8, 1)
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["is"]) == 2 and all(1.0 <= s <= 3.0 for s in metrics["is"]) and "own classifier" in metrics["scored_with"]
    assert cv2.imread(str(out / "samples" / "generator_1.png"), cv2.IMREAD_UNCHANGED).shape == (8 * 8, 8 * 8)
    assert json.loads((out / "graph.json").read_text())["gates"]["G1->G2"] == "cutoff"


def test_default_run_scores_with_the_demo_scorer_and_measures_collapse(folder, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "collab-gan", "--data", str(folder / "data"), "--out", str(out), *TINY])
    assert result.exit_code == 0, result.output + result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["scored_with"] == "demo scorer, not comparable with papers" and len(metrics["is"]) == len(metrics["fid"]) == 2
    assert "(demo scorer, not comparable with papers)" in result.stderr + result.output
    assert len(metrics["diversity"]) == 2 and metrics["collapsed"] == [d < metrics["collapse_threshold"] for d in metrics["diversity"]]
    warned = "warning: mode collapse" in result.stderr  # printed even under --quiet, exactly when a generator collapsed
    assert warned == any(metrics["collapsed"])


def test_search_gates_resumes_and_exports_the_best_graph(folder, tmp_path):
    out = tmp_path / "search"
    args = ["search", "gates", "--data", str(folder / "data"), "--out", str(out), "--classifier", str(folder / "classifier.keras"), "--trial-epochs", "1", *TINY]
    result = CliRunner().invoke(main, [*args, "--trials", "1"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, [*args[:-1], "--trials", "2"])
    assert result.exit_code == 0, result.output
    assert "resuming: 1 trial(s) already done, 1 to run" in result.output
    graph = json.loads((out / "best_graph.json").read_text())
    assert graph["num_generators"] == 2 and set(graph["gates"]) == {"D->G1", "D->G2", "G1->G2", "G2->G1"}
    assert (out / "best_graph.png").is_file() and len((out / "trials.csv").read_text().splitlines()) == 3


@pytest.mark.parametrize("extra, message", [
    (["--image-size", "12"], "power of two"),
    (["--graph", "nowhere.json"], "neither 'all-through'"),
    (["--batch-size", "100"], "less than one batch"),
    (["--classifier", "missing.keras"], "does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(folder, tmp_path, extra, message):
    result = CliRunner().invoke(main, ["train", "collab-gan", "--data", str(folder / "data"), "--out", str(tmp_path / "run"), *TINY, *extra])
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "run").exists()


def test_search_without_a_classifier_is_refused(folder, tmp_path):
    result = CliRunner().invoke(main, ["search", "gates", "--data", str(folder / "data"), "--out", str(tmp_path / "s"), *TINY, "--trial-epochs", "1",
                                       "--scorer", "none"])
    assert result.exit_code == 2 and "maximises IS" in result.output


def test_thesis_preset_carries_the_documents_values():
    from tfxai.gan.collaborative.training import CollabGANConfig

    config = CollabGANConfig.from_preset("thesis", data="x")
    assert (config.image_size, config.channels, config.generators, config.batch_size, config.latent_dim) == (64, 3, 3, 256, 100)
    assert (config.transfer_weight, config.epochs, config.spectral_norm) == (1000.0, 200, True)
