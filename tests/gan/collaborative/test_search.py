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
