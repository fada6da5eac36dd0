"""Pre-training (on the hand labels) and main training (on the reviewed labels) of the CenterNet detector.

Training samples are square crops of the labelled frames, the size of the
tracker's search region, placed at random around a labelled box (as the
search region is around the previous box), flipped at random and resized to
the detector's input.
"""

import dataclasses

import cv2
import keras
import numpy as np

from tfxai.annotate.boxes import search_region
from tfxai.annotate.config import DetectorTrainingConfig
from tfxai.annotate.detector import CenterNetLoss, build_centernet, centernet_targets
from tfxai.errors import TfxaiError
from tfxai.training.result import RunResult, run_result

__all__ = ["DetectorTrainingConfig", "exported_frames", "labelled_frames", "make_samples", "train_detector"]


def make_samples(frames, labels, num_classes, config):
    """Augmented crops and targets: ``(images uint8 (N, S, S, 3), targets (N, S/4, S/4, C + 5))``.

    ``frames`` is a list of RGB frames, ``labels`` a list (per frame) of ``[(box, class_id)]`` in frame pixels.
    """
    if not frames or not any(labels):
        raise TfxaiError("no labelled boxes to train on: label some frames first ('tfxai annotate label')")
    rng = np.random.default_rng(config.seed)
    anchors = [(i, box) for i, boxes in enumerate(labels) for box, _ in boxes]
    size, region = config.input_size, config.region_size
    images = np.zeros((config.samples, size, size, 3), np.uint8)
    targets = []
    scale = size / region
    for n in range(config.samples):
        i, (x, y, w, h) = anchors[rng.integers(len(anchors))]
        # centre the region on a point within half a box of the object's centre
        jitter = (x + rng.uniform(-0.5, 0.5) * max(w, 64), y + rng.uniform(-0.5, 0.5) * max(h, 64), w, h)
        crop, (x0, y0) = search_region(frames[i], jitter, region)
        boxes, classes = [], []
        for (bx, by, bw, bh), class_id in labels[i]:
            cx, cy = bx + bw / 2 - x0, by + bh / 2 - y0
            if 0 <= cx < region and 0 <= cy < region:
                boxes.append(((bx - x0) * scale, (by - y0) * scale, bw * scale, bh * scale))
                classes.append(class_id)
        image = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
        if rng.random() < 0.5:
            image = image[:, ::-1]
            boxes = [(size - bx - bw, by, bw, bh) for bx, by, bw, bh in boxes]
        gain = rng.uniform(0.8, 1.2)
        images[n] = np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        targets.append(centernet_targets(boxes, classes, num_classes, size))
    return images, np.stack(targets)


def train_detector(frames, labels, num_classes, config=None, model=None, verbose=0, callbacks=None,
                   backup=None) -> RunResult:
    """Train (or continue training ``model``) on labelled frames; returns a :class:`~tfxai.training.RunResult` (``out`` None:
    the caller saves the model).

    Fits through :func:`tfxai.training.fit.fit`: a NaN or infinite loss stops
    training with a :class:`TfxaiError` naming the epoch, the batch and the term.
    ``backup`` (a folder, optional) backs the state up every epoch for a resume.
    """
    from tfxai.training.fit import fit

    config = (config or DetectorTrainingConfig()).validate()
    keras.utils.set_random_seed(config.seed)
    if model is None:
        model = build_centernet(num_classes, config.input_size, config.width)
    elif int(model.output_shape[-1]) - 4 != num_classes:
        raise TfxaiError(f"the detector has {int(model.output_shape[-1]) - 4} classes, the labels {num_classes}: "
                         "pass labels with the same classes or train a new detector")
    else:
        config = dataclasses.replace(config, input_size=int(model.input_shape[1]))
    images, targets = make_samples(frames, labels, num_classes, config)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=CenterNetLoss())
    history = fit(model, (images.astype(np.float32), targets), None, config.epochs, callbacks=callbacks or (), verbose=verbose,
                  backup=backup, options=config.to_dict(), batch_size=config.batch_size, shuffle=True)
    return run_result(model, history, config, legacy=(model, history.history))


def labelled_frames(video, store, sources=None):
    """``(frames, [[(box, class_id)]])`` of the store's frames with boxes from ``sources`` (default all)."""
    frames, labels = [], []
    for frame, boxes in store.items(sources):
        frames.append(video.read(frame))
        labels.append([(label.box, label.class_id) for label in boxes])
    if not frames:
        kinds = f" from {sorted(sources)}" if sources else ""
        raise TfxaiError(f"{store.folder} has no boxes{kinds}: label some frames first ('tfxai annotate label')")
    return frames, labels


def exported_frames(folder, fmt):
    """``(frames, [[(box, class_id)]], classes)`` from a YOLO/COCO/VOC export folder."""
    import os

    from tfxai.annotate.formats import read_export

    classes, boxes, images = read_export(folder, fmt)
    frames, labels = [], []
    for name, entries in sorted(boxes.items()):
        image = cv2.imread(os.path.join(images, name))
        if image is None:
            raise TfxaiError(f"cannot read image {name} of {folder}: export the labels again")
        frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        labels.append(list(entries))
    if not any(labels):
        raise TfxaiError(f"{folder} holds no boxes: export reviewed labels first")
    return frames, labels, classes
