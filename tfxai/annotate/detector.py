"""A small anchor-free detector (CenterNet-style) to bootstrap from a few hand-labelled frames.

Zhou et al., "Objects as Points", 2019: a heatmap per class peaks at object
centres; two more maps give each centre's box size and sub-cell offset. Here
on a small 5-stage CNN with a two-step upsampling path (output stride 4), so it
trains on 20-30 labelled frames in minutes on two CPU cores and runs on the
tracker's search region at several frames per second.

Any other detector plugs in through :class:`SavedModelDetector` (the TF Object
Detection API signature, see ``docs/annotate.md``). Both give
``detect(image) -> [Detection]`` on one RGB uint8 image.
"""

from dataclasses import dataclass

import cv2
import keras
import numpy as np
import tensorflow as tf

from tfxai.errors import TfxaiError

__all__ = ["CenterNetLoss", "Detection", "CenterNetDetector", "SavedModelDetector", "build_centernet",
           "centernet_targets", "decode_centernet", "export_detector", "load_detector"]

STRIDE = 4


@dataclass
class Detection:
    box: tuple  # (x, y, w, h) in the image's pixels
    score: float
    class_id: int


# === Model ===


def build_centernet(num_classes=1, input_size=256, width=16):
    """The detector: ``(S, S, 3)`` RGB 0-255 -> ``(S/4, S/4, num_classes + 4)``.

    Output channels: class heatmaps (sigmoid), box width and height as
    fractions of the input size, centre offset within the output cell.
    """
    if input_size % 32:
        raise TfxaiError(f"detector input size {input_size} must be a multiple of 32: use e.g. 256 or 320")

    def conv(x, filters, strides=1):
        x = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)  # few steps: moving stats must settle fast
        return keras.layers.ReLU()(x)

    # === Layers: backbone (strides 2, 4, 8, 16, 32) ===
    inputs = keras.Input((input_size, input_size, 3), name="images")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)
    skips = []
    for stage, filters in enumerate((width, 2 * width, 4 * width, 8 * width, 8 * width)):
        x = conv(conv(x, filters, strides=2), filters)
        skips.append(x)
    # === Layers: upsampling to stride 4 ===
    for skip in (skips[3], skips[2], skips[1]):
        x = keras.layers.UpSampling2D(2)(x)
        x = keras.layers.Concatenate()([x, keras.layers.Conv2D(skip.shape[-1], 1)(skip)])
        x = conv(x, 2 * width)
    # === Heads ===
    heat = keras.layers.Conv2D(num_classes, 1, activation="sigmoid", name="heatmap",
                               bias_initializer=keras.initializers.Constant(-2.19))(conv(x, 2 * width))
    size = keras.layers.Conv2D(2, 1, name="size")(conv(x, 2 * width))
    offset = keras.layers.Conv2D(2, 1, name="offset")(conv(x, 2 * width))
    outputs = keras.layers.Concatenate(name="centernet")([heat, size, offset])
    return keras.Model(inputs, outputs, name="centernet")


@keras.saving.register_keras_serializable(package="tfxai")
class CenterNetLoss(keras.losses.Loss):
    """Penalty-reduced focal loss on the heatmaps + L1 on size and offset at the centres.

    ``y_true`` is ``(S/4, S/4, C + 5)``: target heatmaps (Gaussian bumps, 1 at
    each centre), size (2), offset (2) and a centre mask (1), as made by
    :func:`centernet_targets`; ``y_pred`` has the first ``C + 4`` channels.
    """

    def __init__(self, size_weight=5.0, offset_weight=1.0, name="centernet_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.size_weight = size_weight
        self.offset_weight = offset_weight

    def call(self, y_true, y_pred):
        classes = y_pred.shape[-1] - 4
        heat_true, heat = y_true[..., :classes], tf.clip_by_value(y_pred[..., :classes], 1e-4, 1 - 1e-4)
        mask = y_true[..., -1:]
        positive = tf.cast(heat_true >= 1.0 - 1e-6, heat.dtype)
        pos_loss = positive * tf.math.log(heat) * (1 - heat) ** 2
        neg_loss = (1 - positive) * tf.math.log(1 - heat) * heat**2 * (1 - heat_true) ** 4
        count = tf.maximum(tf.reduce_sum(mask, axis=[1, 2, 3]), 1.0)
        focal = -tf.reduce_sum(pos_loss + neg_loss, axis=[1, 2, 3]) / count
        size = tf.reduce_sum(mask * tf.abs(y_pred[..., classes : classes + 2] - y_true[..., classes : classes + 2]), axis=[1, 2, 3])
        offset = tf.reduce_sum(mask * tf.abs(y_pred[..., classes + 2 : classes + 4] - y_true[..., classes + 2 : classes + 4]), axis=[1, 2, 3])
        return focal + (self.size_weight * size + self.offset_weight * offset) / count

    def get_config(self):
        return {**super().get_config(), "size_weight": self.size_weight, "offset_weight": self.offset_weight}


def centernet_targets(boxes, classes, num_classes, input_size):
    """Training target ``(S/4, S/4, C + 5)`` for boxes ``(x, y, w, h)`` in input pixels."""
    grid = input_size // STRIDE
    target = np.zeros((grid, grid, num_classes + 5), np.float32)
    ys, xs = np.mgrid[0:grid, 0:grid].astype(np.float32)
    for (x, y, w, h), class_id in zip(boxes, classes):
        cx, cy = (x + w / 2.0) / STRIDE, (y + h / 2.0) / STRIDE
        col, row = int(np.clip(np.floor(cx), 0, grid - 1)), int(np.clip(np.floor(cy), 0, grid - 1))
        sx, sy = max(w / STRIDE / 6.0, 0.5), max(h / STRIDE / 6.0, 0.5)
        bump = np.exp(-((xs - col) ** 2) / (2 * sx**2) - ((ys - row) ** 2) / (2 * sy**2))
        target[..., class_id] = np.maximum(target[..., class_id], bump)
        target[row, col, num_classes : num_classes + 5] = (w / input_size, h / input_size, cx - col, cy - row, 1.0)
    return target


def decode_centernet(output, input_size, threshold=0.3, top_k=20):
    """Detections from one model output ``(S/4, S/4, C + 4)`` (numpy): local heatmap maxima above ``threshold``."""
    output = np.asarray(output)
    classes = output.shape[-1] - 4
    heat = output[..., :classes]
    peaks = heat == cv2.dilate(heat, np.ones((3, 3), np.uint8)).reshape(heat.shape)
    scores = np.where(peaks, heat, 0.0)
    flat = scores.reshape(-1)
    order = np.argsort(flat)[::-1][:top_k]
    detections = []
    for index in order:
        score = float(flat[index])
        if score < threshold:
            break
        row, col, class_id = np.unravel_index(index, scores.shape)
        w, h, ox, oy = output[row, col, classes:]
        w, h = max(float(w), 1e-3) * input_size, max(float(h), 1e-3) * input_size
        cx, cy = (col + ox) * STRIDE, (row + oy) * STRIDE
        detections.append(Detection((cx - w / 2.0, cy - h / 2.0, w, h), score, int(class_id)))
    return detections


# === Detectors: detect(image) -> [Detection] ===


class CenterNetDetector:
    """A trained :func:`build_centernet` model applied to one image of any size (resized to its input)."""

    def __init__(self, model, threshold=0.3):
        self.model = model
        self.input_size = int(model.input_shape[1])
        self.threshold = float(threshold)
        self._forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def detect(self, image):
        height, width = image.shape[:2]
        resized = cv2.resize(image, (self.input_size, self.input_size), interpolation=cv2.INTER_AREA)
        output = self._forward(tf.constant(resized[None], tf.float32))[0].numpy()
        sx, sy = width / self.input_size, height / self.input_size
        return [Detection((d.box[0] * sx, d.box[1] * sy, d.box[2] * sx, d.box[3] * sy), d.score, d.class_id)
                for d in decode_centernet(output, self.input_size, self.threshold)]


class SavedModelDetector:
    """Any SavedModel with the TF Object Detection API serving signature.

    ``serving_default`` takes one uint8 tensor ``(1, H, W, 3)`` (RGB) and
    returns ``detection_boxes`` ``(1, K, 4)`` as ``(ymin, xmin, ymax, xmax)``
    in [0, 1], ``detection_scores`` ``(1, K)`` and ``detection_classes``
    ``(1, K)`` (class ids, 1-based as in the TF2 Detection Model Zoo).
    ``class_offset`` is subtracted from the classes (1 for those models, so
    class 1 becomes tfxai class 0); ``keep_classes`` drops other classes.
    """

    def __init__(self, path, threshold=0.3, class_offset=1, keep_classes=None):
        try:
            loaded = tf.saved_model.load(path)
        except (OSError, ValueError, tf.errors.OpError) as error:
            raise TfxaiError(f"cannot load SavedModel {path} ({str(error).splitlines()[0]}): pass a SavedModel folder") from None
        signature = getattr(loaded, "signatures", {}).get("serving_default")
        if signature is None:
            raise TfxaiError(f"{path} has no serving_default signature: export it with the signature in docs/annotate.md")
        inputs = signature.structured_input_signature[1]
        if len(inputs) != 1:
            raise TfxaiError(f"{path}'s serving_default takes {sorted(inputs)}, not one image tensor: see docs/annotate.md")
        outputs = set(signature.structured_outputs)
        missing = {"detection_boxes", "detection_scores", "detection_classes"} - outputs
        if missing:
            raise TfxaiError(f"{path}'s serving_default lacks outputs {sorted(missing)}: see docs/annotate.md")
        self._loaded = loaded
        self._signature = signature
        self._input = next(iter(inputs))
        self._dtype = inputs[self._input].dtype
        self.threshold = float(threshold)
        self.class_offset = int(class_offset)
        self.keep_classes = None if keep_classes is None else set(keep_classes)

    def detect(self, image):
        height, width = image.shape[:2]
        result = self._signature(**{self._input: tf.constant(np.asarray(image)[None], self._dtype)})
        boxes = result["detection_boxes"].numpy()[0]
        scores = result["detection_scores"].numpy()[0]
        classes = result["detection_classes"].numpy()[0].astype(int) - self.class_offset
        detections = []
        for (y0, x0, y1, x1), score, class_id in zip(boxes, scores, classes):
            if score < self.threshold or (self.keep_classes is not None and class_id not in self.keep_classes):
                continue
            detections.append(Detection((x0 * width, y0 * height, (x1 - x0) * width, (y1 - y0) * height), float(score), int(class_id)))
        return detections


def export_detector(model, path, threshold=0.05, top_k=20):
    """Write a :func:`build_centernet` model as a SavedModel with the signature :class:`SavedModelDetector` reads."""
    size = int(model.input_shape[1])
    classes = int(model.output_shape[-1]) - 4

    class Exported(tf.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8, name="input_tensor")])
        def serve(self, input_tensor):
            image = tf.image.resize(tf.cast(input_tensor, tf.float32), (size, size), antialias=True)
            output = self.model(image, training=False)[0]
            heat = output[..., :classes]
            peaks = tf.cast(tf.equal(heat, tf.nn.max_pool2d(heat[None], 3, 1, "SAME")[0]), heat.dtype) * heat
            scores, index = tf.math.top_k(tf.reshape(peaks, [-1]), k=top_k)
            row, rest = index // (size // STRIDE * classes), index % (size // STRIDE * classes)
            col, class_id = rest // classes, rest % classes
            picked = tf.gather_nd(output, tf.stack([row, col], axis=1))
            w, h, ox, oy = picked[:, classes], picked[:, classes + 1], picked[:, classes + 2], picked[:, classes + 3]
            cx = (tf.cast(col, tf.float32) + ox) * STRIDE / size
            cy = (tf.cast(row, tf.float32) + oy) * STRIDE / size
            boxes = tf.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], axis=1)
            return {"detection_boxes": boxes[None], "detection_scores": scores[None],
                    "detection_classes": tf.cast(class_id + 1, tf.float32)[None]}

    module = Exported()
    from tfxai.io import atomic_path

    with atomic_path(path) as tmp:
        tf.saved_model.save(module, tmp, signatures={"serving_default": module.serve})
    return path


def load_detector(path, threshold=0.3, keep_classes=None):
    """A detector from a ``.keras`` CenterNet (``tfxai annotate pretrain``) or a SavedModel folder."""
    import os

    if os.path.isdir(path):
        return SavedModelDetector(path, threshold=threshold, keep_classes=keep_classes)
    if not os.path.isfile(path):
        raise TfxaiError(f"detector {path} does not exist: train one with 'tfxai annotate pretrain' or pass a SavedModel folder")
    from tfxai.io import load_model

    model, _ = load_model(path, compile=False)  # safe mode; a bad file is one line naming the file
    return CenterNetDetector(model, threshold=threshold)
