"""Insertion and deletion scores of attention maps / saliency maps, for any map source.

Two protocols:

- ``mode="threshold"`` (Iwayoshi et al., Attention Mining Branch): for each
  threshold t of a sweep over the attention value, *insertion* keeps only the
  pixels with attention >= t (the rest becomes the baseline), *deletion*
  keeps only the pixels with attention < t; the curves are the top-1
  accuracy over the images, and the scores are the normalised areas under
  them. ``score = insertion - deletion``: a map that finds the evidence keeps
  accuracy when only its region is kept and loses it when its region is removed.
- ``mode="rise"`` (Petsiuk et al., "RISE: Randomized Input Sampling for
  Explanation of Black-box Models", BMVC 2018): per image, pixels are inserted
  into a blurred canvas (insertion) or removed to black (deletion) in order of
  decreasing attention, ``step`` pixels at a time; the curve is the
  true-class probability against the fraction of pixels changed, and the
  area under it is averaged over the images.

Maps can come from anything: ABN's attention branch (``model.explain``),
Grad-CAM (:mod:`tfxai.explain`), GAIN, or a file.
"""

import dataclasses

import cv2
import numpy as np

from tfxai.errors import TfxaiError

__all__ = ["InsertionDeletionResult", "InsertionDeletionSums", "insertion_deletion", "area_under_curve", "MODES"]

MODES = ("threshold", "rise")


@dataclasses.dataclass
class InsertionDeletionResult:
    """Curves and areas of one insertion/deletion evaluation.

    Attributes
    ----------
    mode : str
        ``"threshold"`` or ``"rise"``.
    x : numpy.ndarray
        Thresholds (threshold mode) or fraction of pixels changed (rise mode).
    insertion, deletion : numpy.ndarray
        The curves at ``x``: accuracy (threshold mode) or mean true-class probability (rise mode).
    insertion_auc, deletion_auc : float
        Normalised areas under the curves, in [0, 1].
    per_image_insertion, per_image_deletion : numpy.ndarray or None
        Per-image areas (rise mode).
    """

    mode: str
    x: np.ndarray
    insertion: np.ndarray
    deletion: np.ndarray
    insertion_auc: float
    deletion_auc: float
    per_image_insertion: np.ndarray = None
    per_image_deletion: np.ndarray = None

    @property
    def score(self):
        """insertion - deletion (higher is better)."""
        return self.insertion_auc - self.deletion_auc

    def to_dict(self):
        """JSON-friendly summary with the curves."""
        return {
            "mode": self.mode,
            "x": [float(v) for v in self.x],
            "insertion": [float(v) for v in self.insertion],
            "deletion": [float(v) for v in self.deletion],
            "insertion_auc": float(self.insertion_auc),
            "deletion_auc": float(self.deletion_auc),
            "score": float(self.score),
        }


def area_under_curve(x, y):
    """Trapezoidal area under ``y(x)`` divided by the width of ``x`` (so constant 1 gives 1)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    width = x[-1] - x[0]
    if width <= 0:
        raise TfxaiError("the curve needs at least two increasing x values: give at least two thresholds / steps")
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0 / width)


def insertion_deletion(
    model_fn,
    images,
    labels,
    maps,
    mode="threshold",
    thresholds=None,
    step=None,
    baseline=None,
    batch_size=64,
    normalize=False,
):
    """Insertion, deletion and their areas for maps of ``images``.

    Parameters
    ----------
    model_fn : callable
        ``images (n, H, W, C) float32 -> probabilities (n, K)`` (numpy or tensor),
        e.g. a Keras model's ``predict_on_batch`` or ``model``. A single sigmoid
        output, shape (n, 1) or (n,), is read as P(class 1) of a binary model and
        expanded to ``[1 - p, p]``, so labels are 0/1 (GAIN's binary classifiers).
    images : array (N, H, W, C)
        The model's input, in its own value range.
    labels : array (N,)
        True class of each image.
    maps : array (N, h, w) or (N, h, w, 1)
        Attention values in [0, 1] (resized bilinearly to the images if needed).
    mode : {"threshold", "rise"}
    thresholds : sequence of float, optional
        Threshold mode: the sweep (default 0, 0.1, ..., 1).
    step : int, optional
        Rise mode: pixels inserted / deleted per step (default: the image width).
    baseline : float, "blur", array, or an (insertion, deletion) tuple of those, optional
        What removed pixels become. Default: 0 for both in threshold mode; a
        Gaussian blur of the image (insertion) and 0 (deletion) in rise mode,
        as in RISE.
    batch_size : int
        Images per call of ``model_fn``.
    normalize : bool
        Min-max scale each map to [0, 1] first (for raw Grad-CAM or logits maps).

    Returns
    -------
    InsertionDeletionResult
    """
    sums = InsertionDeletionSums(mode, thresholds, step, baseline, batch_size, normalize)
    per_image = sums.update(model_fn, images, labels, maps)
    result = sums.result()
    if per_image is not None:
        result.per_image_insertion, result.per_image_deletion = per_image
    return result


class InsertionDeletionSums:
    """Insertion/deletion over images given a batch at a time, keeping running sums only (flat memory for any count).

    Threshold mode keeps the correct predictions per threshold; rise mode the
    sums of the per-image curves and areas. ``result()`` after any number of
    :meth:`update` calls equals :func:`insertion_deletion` on all those images
    at once (same curves; rise areas up to float rounding). :meth:`state` and
    :meth:`from_state` round-trip the sums through JSON (to resume a run).
    Parameters are those of :func:`insertion_deletion`; an array ``baseline``
    must match the images of every update.
    """

    def __init__(self, mode="threshold", thresholds=None, step=None, baseline=None, batch_size=64, normalize=False):
        if mode not in MODES:
            raise TfxaiError(f"unknown insertion/deletion mode {mode!r}: choose one of {list(MODES)}")
        if batch_size < 1:
            raise TfxaiError(f"batch_size must be at least 1, got {batch_size}")
        if mode == "threshold":
            thresholds = np.asarray(np.linspace(0.0, 1.0, 11) if thresholds is None else thresholds, np.float64)
            if thresholds.ndim != 1 or thresholds.size < 2 or np.any(np.diff(thresholds) <= 0):
                raise TfxaiError("thresholds must be at least two increasing values, e.g. 0, 0.1, ..., 1")
        elif step and int(step) < 1:
            raise TfxaiError(f"step must be at least 1 pixel, got {step}")
        self.mode, self.step, self.baseline, self.batch_size, self.normalize = mode, step, baseline, batch_size, normalize
        self.x = thresholds if mode == "threshold" else None  # rise: set by the first images (their pixel count)
        self.count = 0
        self.insertion = self.deletion = None  # threshold: correct predictions per threshold; rise: sums of the curves
        self.insertion_auc = self.deletion_auc = 0.0  # rise: sums of the per-image areas

    def update(self, model_fn, images, labels, maps):
        """Add ``images`` (with their ``labels`` and ``maps``); rise mode returns their per-image areas ``(insertion, deletion)``."""
        images, labels, maps = _check(images, labels, maps, self.normalize)
        predict = _batched(model_fn, self.batch_size)
        if self.mode == "threshold":
            insertion, deletion = _threshold_hits(predict, images, labels, maps, self.x, self.baseline)
            self.insertion = insertion if self.insertion is None else self.insertion + insertion
            self.deletion = deletion if self.deletion is None else self.deletion + deletion
            self.count += len(images)
            return None
        x, insertion, deletion = _rise_curves(predict, images, labels, maps, self.step, self.baseline)
        if self.x is not None and not np.array_equal(x, self.x):
            raise TfxaiError(f"these images have {maps.shape[1]}x{maps.shape[2]} maps, unlike the earlier ones: evaluate images of one size")
        self.x = x
        if self.insertion is None:
            self.insertion, self.deletion = np.zeros(len(x)), np.zeros(len(x))
        per_insertion = np.array([area_under_curve(x, curve) for curve in insertion])
        per_deletion = np.array([area_under_curve(x, curve) for curve in deletion])
        for index in range(len(images)):  # image by image, as numpy's mean over the first axis adds them
            self.insertion += insertion[index]
            self.deletion += deletion[index]
            self.insertion_auc += per_insertion[index]
            self.deletion_auc += per_deletion[index]
        self.count += len(images)
        return per_insertion, per_deletion

    def result(self):
        """The :class:`InsertionDeletionResult` of every image added so far (per-image areas not kept)."""
        if not self.count:
            raise TfxaiError("no images to evaluate: pass at least one image")
        insertion, deletion = np.asarray(self.insertion) / self.count, np.asarray(self.deletion) / self.count
        if self.mode == "threshold":
            return InsertionDeletionResult("threshold", self.x, insertion, deletion, area_under_curve(self.x, insertion),
                                           area_under_curve(self.x, deletion))
        return InsertionDeletionResult("rise", self.x, insertion, deletion, self.insertion_auc / self.count, self.deletion_auc / self.count)

    def state(self):
        """The running sums, JSON-friendly (floats round-trip exactly through :mod:`json`)."""
        def values(array):
            return None if array is None else [v.item() for v in np.asarray(array)]

        return {"mode": self.mode, "count": self.count, "x": values(self.x), "insertion": values(self.insertion),
                "deletion": values(self.deletion), "insertion_auc": self.insertion_auc, "deletion_auc": self.deletion_auc}

    def load_state(self, state):
        """Continue from :meth:`state`'s sums (of the same mode and thresholds)."""
        if state["mode"] != self.mode:
            raise TfxaiError(f"saved sums are of {state['mode']} mode, not {self.mode}: start afresh")
        self.count, self.insertion_auc, self.deletion_auc = int(state["count"]), float(state["insertion_auc"]), float(state["deletion_auc"])
        kind = np.int64 if self.mode == "threshold" else np.float64
        for name in ("insertion", "deletion"):
            setattr(self, name, None if state[name] is None else np.asarray(state[name], kind))
        if state["x"] is not None:
            self.x = np.asarray(state["x"], np.float64)
        return self


# === Threshold mode ===


def _threshold_hits(predict, images, labels, maps, thresholds, baseline):
    """Correct predictions per threshold, ``(insertion (T,), deletion (T,))`` int."""
    insert_base, delete_base = _baselines(baseline, images, default=(0.0, 0.0))
    insertion, deletion = [], []
    for t in thresholds:
        keep = (maps >= t)[..., None]
        inserted = predict(np.where(keep, images, insert_base))
        _check_labels(labels, inserted.shape[-1])
        insertion.append(_hits(inserted, labels))
        deletion.append(_hits(predict(np.where(keep, delete_base, images)), labels))
    return np.asarray(insertion, np.int64), np.asarray(deletion, np.int64)


def _hits(probabilities, labels):
    return int(np.sum(np.argmax(probabilities, axis=-1) == labels))


# === RISE mode ===


def _rise_curves(predict, images, labels, maps, step, baseline):
    """``(x, insertion (N, steps + 1), deletion (N, steps + 1))``: each image's true-class probability curves."""
    count, height, width = maps.shape
    pixels = height * width
    step = int(step or width)
    steps = int(np.ceil(pixels / step))
    x = np.minimum(np.arange(steps + 1) * step, pixels) / pixels
    insert_base, delete_base = _baselines(baseline, images, default=("blur", 0.0))
    insertion = np.zeros((count, steps + 1))
    deletion = np.zeros((count, steps + 1))
    for index in range(count):
        # stable order: ties keep the raster order, so analytic tests are exact
        order = np.argsort(-maps[index].reshape(-1), kind="stable")
        rank = np.empty(pixels, np.int64)
        rank[order] = np.arange(pixels)
        rank = rank.reshape(height, width)
        changed = rank[None] < (np.arange(steps + 1) * step)[:, None, None]  # (steps+1, H, W)
        image = images[index][None]
        ins_base = insert_base[index][None] if insert_base.ndim == 4 else insert_base
        del_base = delete_base[index][None] if delete_base.ndim == 4 else delete_base
        inserted = np.where(changed[..., None], image, ins_base)
        deleted = np.where(changed[..., None], del_base, image)
        probabilities = predict(np.concatenate([inserted, deleted], axis=0))
        _check_labels(labels, probabilities.shape[-1])
        true = probabilities[:, labels[index]]
        insertion[index] = true[: steps + 1]
        deletion[index] = true[steps + 1 :]
    return x, insertion, deletion


# === Helpers ===


def _baselines(baseline, images, default):
    """(insertion canvas, deletion filler); a tuple gives both, anything else is used for both."""
    if baseline is None:
        baseline = default
    pair = baseline if isinstance(baseline, tuple) and len(baseline) == 2 else (baseline, baseline)
    return tuple(_baseline(b, images) for b in pair)


def _baseline(value, images):
    if isinstance(value, str):
        if value != "blur":
            raise TfxaiError(f"unknown baseline {value!r}: use a number, 'blur' or an array of baseline images")
        return np.stack([_blur(image) for image in images]).astype(np.float32)
    value = np.asarray(value, np.float32)
    if value.ndim == 0:
        return value
    if value.shape != images.shape:
        raise TfxaiError(f"baseline images have shape {value.shape} but the images have {images.shape}: pass one baseline per image")
    return value


def _blur(image):
    """RISE's insertion canvas: Gaussian blur, kernel 11, sigma 5."""
    blurred = cv2.GaussianBlur(np.ascontiguousarray(image, np.float32), (11, 11), 5)
    return blurred.reshape(image.shape)


def _batched(model_fn, batch_size):
    def predict(batch):
        outputs = []
        for start in range(0, len(batch), batch_size):
            chunk = np.ascontiguousarray(batch[start : start + batch_size], np.float32)
            outputs.append(as_class_probabilities(np.asarray(model_fn(chunk))))
        return np.concatenate(outputs, axis=0)

    return predict


def as_class_probabilities(outputs):
    """(n, K) as is; a binary model's single sigmoid (n, 1) or (n,) becomes (n, 2) = [1 - p, p]."""
    outputs = np.asarray(outputs)
    if outputs.ndim == 1 or (outputs.ndim == 2 and outputs.shape[-1] == 1):
        positive = outputs.reshape(-1, 1)
        return np.concatenate([1.0 - positive, positive], axis=1)
    if outputs.ndim != 2:
        raise TfxaiError(f"model_fn must return probabilities of shape (n, K), got {outputs.shape}")
    return outputs


def _check_labels(labels, num_classes):
    if labels.min() < 0 or labels.max() >= num_classes:
        raise TfxaiError(
            f"labels range from {labels.min()} to {labels.max()} but the model has {num_classes} classes: "
            "pass class indices of the model's outputs"
        )


def _check(images, labels, maps, normalize):
    images = np.asarray(images, np.float32)
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    maps = np.asarray(maps, np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise TfxaiError(f"images must be (N, H, W, C), got shape {images.shape}")
    if maps.ndim == 4 and maps.shape[-1] == 1:
        maps = maps[..., 0]
    if maps.ndim != 3:
        raise TfxaiError(f"maps must be (N, H, W), got shape {maps.shape}")
    if not (len(images) == len(labels) == len(maps)):
        raise TfxaiError(f"got {len(images)} images, {len(labels)} labels and {len(maps)} maps: pass one label and one map per image")
    if len(images) == 0:
        raise TfxaiError("no images to evaluate: pass at least one image")
    height, width = images.shape[1:3]
    if maps.shape[1:] != (height, width):
        maps = np.stack([cv2.resize(m, (width, height), interpolation=cv2.INTER_LINEAR) for m in maps])
    if not np.all(np.isfinite(maps)):
        raise TfxaiError("the maps contain NaN or infinite values: check the map source")
    if normalize:
        low = maps.min(axis=(1, 2), keepdims=True)
        span = maps.max(axis=(1, 2), keepdims=True) - low
        maps = np.where(span > 1e-7, (maps - low) / np.maximum(span, 1e-7), 0.0).astype(np.float32)
    elif maps.min() < -1e-6 or maps.max() > 1 + 1e-6:
        raise TfxaiError(
            f"maps range from {maps.min():.3g} to {maps.max():.3g}, not [0, 1]: pass normalize=True (--normalize) to min-max scale them"
        )
    return images, labels, maps
