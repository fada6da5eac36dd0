"""``model_card.json``: what an exported model takes, what it returns, and how closely it agrees with Keras;
the images an export is calibrated and checked on.

Written beside every export (inside the export folder). The agreement is
measured at export time by running the exported file in its own runtime
(TensorFlow, the LiteRT interpreter or ONNX Runtime) on check images and
comparing with the Keras model's outputs.
"""

import json
import os

import numpy as np

from tfxai.errors import TfxaiError
from tfxai.io.files import write_json

__all__ = ["CARD_NAME", "agreement", "calibration_images", "check_images", "heatmap_correlations", "training_data", "write_model_card"]

CARD_NAME = "model_card.json"

#: Outputs holding maps (compared by max |diff| and per-image Pearson r).
MAP_OUTPUTS = ("heatmap", "spatial", "temporal", "attention")


def heatmap_correlations(expected, got):
    """Pearson r per image between two batches of maps; two constant maps count as 1 if equal, else 0."""
    a = np.asarray(expected, np.float64).reshape(len(expected), -1)
    b = np.asarray(got, np.float64).reshape(len(got), -1)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    flat = norms < 1e-12
    r = np.where(flat, 0.0, (a * b).sum(axis=1) / np.where(flat, 1.0, norms))
    same = flat & np.all(np.isclose(a, b, atol=1e-6), axis=1)
    return np.where(same, 1.0, r)


def _summary(values):
    values = np.asarray(values, np.float64)
    return {"min": float(values.min()), "p5": float(np.percentile(values, 5)), "median": float(np.median(values)),
            "max": float(values.max())}


def agreement(reference, exported):
    """How ``exported`` outputs (dict of arrays) agree with ``reference`` (the Keras model's).

    Returns max |diff| of probabilities and of every map output, the top-1
    agreement (fraction of images with the same class id), the per-image
    Pearson r of the heatmap (min, 5th percentile, median, max) and how many
    images have r < 0.95, of which how many got another class id.
    """
    result = {"images": int(len(reference["probabilities"]))}
    result["max_abs_diff_probabilities"] = float(np.abs(reference["probabilities"] - exported["probabilities"]).max())
    result["top1_agreement"] = float(np.mean(np.asarray(reference["class_id"]) == np.asarray(exported["class_id"])))
    for name in MAP_OUTPUTS:
        if name in reference and name in exported:
            result[f"max_abs_diff_{name}"] = float(np.abs(np.asarray(reference[name]) - np.asarray(exported[name])).max())
    if "heatmap" in reference and "heatmap" in exported:
        r = heatmap_correlations(reference["heatmap"], exported["heatmap"])
        other = np.asarray(reference["class_id"]) != np.asarray(exported["class_id"])
        result["heatmap_pearson_r"] = _summary(r)
        # a map of another predicted class explains that class, not Keras' one: low r there is a top-1 flip, not map noise
        result["heatmap_pearson_r_below_0.95"] = {"images": int(np.sum(r < 0.95)), "other_class": int(np.sum((r < 0.95) & other))}
    return result


def write_model_card(folder, card):
    """Write ``card`` (a JSON-ready dict) to ``folder/model_card.json`` atomically; returns the path."""
    path = os.path.join(folder, CARD_NAME)
    write_json(path, card)
    return path


def calibration_images(source, shape, count=300, input_dtype="float32"):
    """Up to ``count`` images of ``shape`` (H, W, C) from an array, ``"demo"`` (the bundled training images) or an image folder.

    Images are spread evenly over a folder's sorted files, so every class is represented.
    """
    from tfxai.data import list_images, load_images, load_labelled_images

    height, width, channels = (int(size) for size in shape[-3:])
    if isinstance(source, str) and source == "demo":
        if height != width:
            raise TfxaiError(f"the demo images are square but the model takes {height}x{width}: pass --calibration FOLDER")
        images = load_labelled_images("demo", height, channels, split="train").images
        images = images.reshape(len(images), height, width, channels)
    elif isinstance(source, (str, os.PathLike)):
        paths = list_images(source)
        images = load_images(paths[:: max(1, len(paths) // count)], (height, width), channels)
    else:
        images = np.asarray(source)
    images = images[np.linspace(0, len(images) - 1, min(count, len(images))).astype(int)] if len(images) > count else images
    if tuple(images.shape[1:]) != tuple(shape):
        raise TfxaiError(f"calibration images have shape {tuple(images.shape[1:])}, the model takes {tuple(shape)}: pass images of its size")
    return images.astype(input_dtype)


def training_data(model_path):
    """The training data a run folder's ``metrics.json`` names (``config.data``), for int8 calibration; a one-line error otherwise."""
    folder = model_path if os.path.isdir(model_path) else os.path.dirname(os.path.abspath(model_path))
    try:
        with open(os.path.join(folder, "metrics.json"), encoding="utf-8") as handle:
            data = json.load(handle)["config"]["data"]
    except (OSError, KeyError, TypeError, ValueError):
        data = ""
    if not data:
        raise TfxaiError(f"int8 quantization needs calibration images and {model_path} does not name its training data: "
                         "pass --calibration FOLDER (or demo)")
    return data


def check_images(shape, input_dtype, calibration, count=32):
    """The images an export is checked on: calibration images, else seeded uniform noise in [0, 255]."""
    if calibration is not None:
        return calibration[np.linspace(0, len(calibration) - 1, min(count, len(calibration))).astype(int)]
    images = np.random.default_rng(0).uniform(0, 255, (8, *shape))
    return images.astype(input_dtype)
