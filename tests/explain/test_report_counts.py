"""The report's counts: accuracy over the labelled images only, and a contact sheet that says when it shows fewer."""

import numpy as np

from tfxai.explain.report import Explanation, report_summary, write_report


def _explanations(true_labels):
    heat = np.zeros((8, 8), np.float32)
    return [Explanation(f"{i}.png", np.zeros((8, 8, 3), np.uint8), heat, np.array([0.8, 0.2]), 0, t)
            for i, t in enumerate(true_labels)]


def test_accuracy_counts_labelled_images_only(tmp_path):
    explanations = _explanations([0, 1, -1, -1])  # one right, one wrong, two without labels
    assert report_summary(explanations) == ("4 images, 2 labelled, accuracy 0.500", 0.5)
    assert write_report(explanations, ["a", "b"], tmp_path) == 0.5
    page = (tmp_path / "index.html").read_text()
    assert "4 images, 2 labelled, accuracy 0.500" in page and "first" not in page
    assert report_summary(_explanations([-1]))[0] == "1 image, 0 labelled (no accuracy without labels)"


def test_contact_sheet_says_when_it_shows_fewer_than_all(tmp_path):
    write_report(_explanations([0] * 5), ["a", "b"], tmp_path, max_sheet=3)
    assert "shows the first 3 of 5 images" in (tmp_path / "index.html").read_text()
    assert len(list((tmp_path / "overlays").iterdir())) == 5
