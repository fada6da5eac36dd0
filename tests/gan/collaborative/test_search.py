"""Gate search: resumable Optuna study, best graph export and drawing."""

import os

import pytest

from tfxai.errors import TfxaiError
from tfxai.gan.collaborative.graph import KnowledgeTransferGraph
from tfxai.gan.collaborative.search import best_graph, completed_trials, draw_graph, search_gates


def score(graph):
    """A stand-in for 'train and take the mean IS': counts PositiveLinear edges into G1."""
    return sum(gate == "positive_linear" for _, gate in graph.incoming(0)) + 0.1 * (graph.gate("D", 1) == "through")


def test_search_resumes_from_its_stored_study_and_exports_the_best_graph(tmp_path):
    storage = str(tmp_path / "search" / "study.db")
    seen = []
    study = search_gates(lambda g: seen.append(g) or score(g), 3, 4, storage)
    assert len(seen) == 4 and len(completed_trials(study)) == 4
    study = search_gates(lambda g: seen.append(g) or score(g), 3, 6, storage)  # resumes: runs 2 more, not 6
    assert len(seen) == 6 and len(completed_trials(study)) == 6
    study = search_gates(lambda g: seen.append(g) or score(g), 3, 6, storage)  # budget already met
    assert len(seen) == 6
    best = best_graph(study, 3)
    assert score(best) == pytest.approx(max(score(g) for g in seen))
    assert KnowledgeTransferGraph.from_json(best.to_json()) == best
    with pytest.raises(TfxaiError, match="searches 3 generators"):
        search_gates(score, 2, 8, storage)


def test_drawing_of_a_graph_is_an_image_file(tmp_path):
    import cv2

    path = str(tmp_path / "graph.png")
    draw_graph(KnowledgeTransferGraph(3, {"G2->G1": "positive_linear", "G3->G2": "negative_linear", "D->G3": "cutoff"}), path)
    image = cv2.imread(path)
    assert image is not None and image.shape[0] > 100
    # the PositiveLinear edge is drawn red (#d62728), the NegativeLinear one blue (#1f77b4)
    assert ((image[..., 2] > 200) & (image[..., 1] < 60) & (image[..., 0] < 60)).sum() > 50
    assert ((image[..., 0] > 160) & (image[..., 2] < 60)).sum() > 50
    assert not os.path.exists(str(tmp_path / ".graph.tmp.png"))


def _open_files(name):
    """The paths this process holds open whose name ends with ``name`` (a removed file shows as ``... (deleted)``)."""
    paths = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if os.path.basename(target).split(" ")[0] == name:
            paths.append(target)
    return paths


def _nan(graph):
    raise TfxaiError("training stopped at epoch 1, batch 1: the d_loss became NaN or infinite; lower --learning-rate")


def test_a_search_stopped_by_a_nan_trial_leaves_its_study_file_closed_and_resumable(tmp_path):
    storage = str(tmp_path / "study.db")
    search_gates(score, 2, 1, storage)
    with pytest.raises(TfxaiError, match="d_loss became NaN"):
        search_gates(_nan, 2, 3, storage)
    assert _open_files("study.db") == []
    study = search_gates(score, 2, 2, storage)  # reopens and resumes: 1 completed + 1 more (the failed trial does not count)
    assert len(completed_trials(study)) == 2 and best_graph(study, 2).num_generators == 2
    assert _open_files("study.db") == []  # after the reads too
    os.remove(storage)
    assert _open_files("study.db") == []


def test_the_gate_search_app_closes_its_study_after_a_nan_trial(tmp_path):
    import cv2
    import keras
    import numpy as np

    from tfxai.gan.collaborative.search_training import run_gate_search

    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        os.makedirs(tmp_path / "data" / name)
        for i in range(8):
            cv2.imwrite(str(tmp_path / "data" / name / f"{i}.png"), rng.integers(0, 255, (8, 8), np.uint8))
    keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")]).save(
        str(tmp_path / "scorer.keras"))
    options = dict(data=str(tmp_path / "data"), scorer=str(tmp_path / "scorer.keras"), image_size=8, channels=1, latent_dim=4,
                   filters=2, generators=2, batch_size=8, score_images=4, score_splits=1, search_epochs=1, log=lambda *_: None)
    out = tmp_path / "search"
    run_gate_search("small", str(out), search_trials=1, **options)
    with pytest.raises(TfxaiError, match="NaN"):
        run_gate_search("small", str(out), search_trials=2, learning_rate=1e20, **options)
    assert _open_files("study.db") == []
    study, _ = run_gate_search("small", str(out), search_trials=2, **options)  # the kept study reopens and resumes
    assert len(completed_trials(study)) == 2
    fresh = tmp_path / "fresh"
    with pytest.raises(TfxaiError, match="NaN"):
        run_gate_search("small", str(fresh), search_trials=1, learning_rate=1e20, **options)
    assert not fresh.exists() and _open_files("study.db") == []  # removed, and not held open as a deleted file
