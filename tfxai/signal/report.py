"""Confusion matrices with per-class percentages (as reported in the 1D-SAN thesis), as CSV and plot."""

import io

import numpy as np
from matplotlib.figure import Figure

from tfxai.io import atomic_path, write_text


def confusion_matrix(true, predicted, num_classes):
    """Counts ``(num_classes, num_classes)``: row = true class, column = predicted class."""
    counts = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(counts, (np.asarray(true, dtype=int), np.asarray(predicted, dtype=int)), 1)
    return counts


def row_percentages(counts):
    """Each row of a confusion matrix as percentages of that true class (rows without samples stay 0)."""
    counts = np.asarray(counts, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(100.0 * counts, totals, out=np.zeros_like(counts), where=totals > 0)


def write_confusion_csv(path, counts, class_names):
    """Write the per-class percentages (rows: true class, columns: predicted class, plus n) atomically."""
    percentages = row_percentages(counts)
    buffer = io.StringIO()
    buffer.write(",".join(["true \\ predicted"] + [_csv(c) for c in class_names] + ["n"]) + "\n")
    for name, row, total in zip(class_names, percentages, np.asarray(counts).sum(axis=1)):
        buffer.write(",".join([_csv(name)] + [f"{v:.1f}" for v in row] + [str(int(total))]) + "\n")
    write_text(path, buffer.getvalue())
    return path


def plot_confusion(path, counts, class_names, title=None):
    """Plot the per-class percentage confusion matrix with the values written in the cells; atomic."""
    percentages = row_percentages(counts)
    size = max(4.0, 0.7 * len(class_names) + 2.0)
    figure = Figure(figsize=(size, size * 0.85), constrained_layout=True)
    axes = figure.subplots()
    image = axes.imshow(percentages, cmap="Blues", vmin=0, vmax=100)
    ticks = range(len(class_names))
    axes.set_xticks(ticks, class_names, rotation=45, ha="right")
    axes.set_yticks(ticks, class_names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    for i in ticks:
        for j in ticks:
            value = percentages[i, j]
            axes.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=8, color="white" if value > 60 else "black")
    if title:
        axes.set_title(title)
    figure.colorbar(image, ax=axes, label="% of true class")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=110)
    return path


def _csv(text):
    text = str(text)
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text
