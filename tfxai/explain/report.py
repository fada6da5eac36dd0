"""Explanation reports: overlays with labels, a contact sheet, a CSV and an HTML page."""

import csv
import dataclasses
import html
import io
import os

import cv2
import numpy as np

from tfxai.errors import TfxaiError
from tfxai.explain.protocol import explain_in_batches
from tfxai.explain.overlay import caption, contact_sheet, overlay
from tfxai.io import write_image, write_text

__all__ = ["Explanation", "explain_batch", "prediction_row", "report_summary", "source_files", "summary_text", "write_overlay",
           "write_report", "write_summary_page"]


@dataclasses.dataclass
class Explanation:
    """One explained image."""

    name: str
    image: np.ndarray
    heatmap: np.ndarray
    probabilities: np.ndarray
    predicted: int
    true: int = -1
    source: str = ""  # the image file, when the overlay should show it at its own resolution

    def tile(self, class_names, alpha=0.4, own_resolution=False):
        """The captioned overlay; ``own_resolution`` draws it on the source file at its own size and aspect ratio (heatmap upsampled)."""
        probability = float(self.probabilities[self.predicted])
        lines = [f"pred: {class_names[self.predicted]} {probability:.2f}"]
        if self.true >= 0:
            mark = "ok" if self.true == self.predicted else "WRONG"
            lines.insert(0, f"true: {class_names[self.true]} ({mark})")
        image = self.image
        if own_resolution and self.source:
            from tfxai.data import read_image

            image = _as_rgb(read_image(self.source))
        return caption(overlay(image, self.heatmap, alpha), lines)


def _as_rgb(image):
    from tfxai.data.image_folder import convert_channels

    return convert_channels(image, 3)


def explain_batch(explainer, images, names, true_labels=None, targets=None, batch_size=32, sources=None):
    """Explain uint8 ``images`` (N, H, W, C) with any explainer (``explain(images) -> (maps, probabilities)``).

    ``sources`` are the image files: :func:`write_report` then draws each
    overlay on its file at the file's own resolution and aspect ratio.
    """
    images = np.asarray(images)
    if len(images) == 0:
        raise TfxaiError("no images to explain: pass at least one image")
    heatmaps, probabilities = explain_in_batches(explainer, images, batch_size, targets)
    if probabilities.shape[-1] == 1:  # single sigmoid output -> two classes
        probabilities = np.concatenate([1.0 - probabilities, probabilities], axis=-1)
    true = np.full(len(images), -1) if true_labels is None else np.asarray(true_labels)
    return [
        Explanation(names[i], images[i], heatmaps[i], probabilities[i], int(np.argmax(probabilities[i])), int(true[i]),
                    "" if sources is None else sources[i])
        for i in range(len(images))
    ]


def source_files(root, names):
    """The image file of each name relative to the folder ``root`` ("" where there is none, e.g. bundled demo images).

    What :func:`explain_batch` takes as ``sources`` to draw overlays on the files at their own resolution.
    """
    paths = [os.path.join(str(root), name) for name in names]
    return [path if os.path.isfile(path) else "" for path in paths]


def report_summary(explanations):
    """``("N images, M labelled, accuracy X", accuracy)``: the accuracy is over the labelled images only (None without any)."""
    labelled = [e for e in explanations if e.true >= 0]
    return summary_text(len(explanations), len(labelled), sum(e.true == e.predicted for e in labelled))


def summary_text(count, labelled, correct):
    """:func:`report_summary` from running counts: ``count`` images, ``labelled`` of them labelled, ``correct`` right."""
    accuracy = correct / labelled if labelled else None
    text = f"{count} image{'s' if count != 1 else ''}, {labelled} labelled"
    text += f", accuracy {accuracy:.3f}" if accuracy is not None else " (no accuracy without labels)"
    return text, accuracy


def _png(path, rgb):
    write_image(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


PREDICTIONS_HEADER = ("image", "true", "predicted", "probability", "correct")


def prediction_row(item, class_names):
    """One explained image's predictions.csv row."""
    true = class_names[item.true] if item.true >= 0 else ""
    correct = "" if item.true < 0 else int(item.true == item.predicted)
    return [item.name, true, class_names[item.predicted], f"{item.probabilities[item.predicted]:.4f}", correct]


def write_overlay(directory, index, item, class_names, alpha=0.4, tile=True):
    """Write the ``index``-th image's overlay into ``directory``/overlays; return its tile at the model's input size (for the sheet).

    ``tile=False`` returns None and skips drawing the small tile where the overlay is drawn on the source file.
    """
    small = item.tile(class_names, alpha) if tile or not item.source else None  # the model's input size: the sheet stays small
    stem = os.path.splitext(os.path.basename(item.name))[0]
    _png(os.path.join(directory, "overlays", f"{index:04d}_{stem}.png"), item.tile(class_names, alpha, own_resolution=True) if item.source else small)
    return small if tile else None


def write_summary_page(directory, tiles, count, summary, title="tfxai explanations", columns=8, extra_html=""):
    """Write contact_sheet.png (``tiles``: the first of ``count`` images) and index.html (``summary``: :func:`summary_text`'s)."""
    _png(os.path.join(directory, "contact_sheet.png"), contact_sheet(tiles, columns=columns))
    sheet_note = "" if len(tiles) == count else (
        f"<p>The contact sheet shows the first {len(tiles)} of {count} images; overlays/ has all of them.</p>")
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{summary}</p>{extra_html}"
        f"<h2>Contact sheet</h2>{sheet_note}<img src='contact_sheet.png' style='max-width:100%'>"
        "<p>Files: <a href='predictions.csv'>predictions.csv</a>, overlays/ (one PNG per image).</p></body></html>"
    )
    write_text(os.path.join(directory, "index.html"), page)


def write_report(explanations, class_names, directory, title="tfxai explanations", alpha=0.4, columns=8, max_sheet=64, extra_html=""):
    """Write overlays/, contact_sheet.png, predictions.csv and index.html into ``directory``."""
    os.makedirs(os.path.join(directory, "overlays"), exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(PREDICTIONS_HEADER)
    tiles = []
    for index, item in enumerate(explanations):
        tile = write_overlay(directory, index, item, class_names, alpha)
        if index < max_sheet:
            tiles.append(tile)
        writer.writerow(prediction_row(item, class_names))
    write_text(os.path.join(directory, "predictions.csv"), buffer.getvalue())
    summary, accuracy = report_summary(explanations)
    write_summary_page(directory, tiles, len(explanations), summary, title, columns, extra_html)
    return accuracy
