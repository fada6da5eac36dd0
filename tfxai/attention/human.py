"""Human knowledge in the loop: export attention maps, edit them, fine-tune ABN on the edits.

Mitsuhara et al., "Embedding Human Knowledge into Deep Neural Network via
Attention Map", VISAPP 2021: a person corrects ABN's attention maps of chosen
images (for example the misclassified ones) and ABN is fine-tuned with an
added L2 loss between the corrected map and its own map.

The workflow, each step a function here and an app in ``tfxai``:

1. :func:`export_attention_maps` (``tfxai attention export-maps``) writes a
   folder: ``images/0000.png`` (the image), ``maps/0000.png`` (its attention
   map, grayscale, image size), ``overlays/``, ``contact_sheet.png``,
   ``manifest.json`` and an empty ``edited/``.
2. A person edits maps: with any paint program (save the edited map as
   ``edited/0000.png``: white = attend, black = ignore) or with
   the studio's attention page (``tfxai attention edit``, :mod:`tfxai.studio`), whose
   painting and undo follow the display-free :class:`AttentionEditor`.
3. :func:`load_edited_maps` reads them back (keyed by each image's source),
   :func:`attach_attention_maps` builds the model inputs
   ``{"images", "attention_maps", "has_attention_map"}`` in which images
   without an edited map carry a zero map and flag 0, so mixed batches
   train as usual for them.
"""

import json
import os

import cv2
import numpy as np

from tfxai.errors import TfxaiError
from tfxai.io import staged_directory, write_image, write_json, write_text

__all__ = [
    "SELECTIONS",
    "AttentionEditor",
    "attach_attention_maps",
    "export_attention_maps",
    "load_edited_maps",
    "load_manifest",
]

SELECTIONS = ("misclassified", "all", "correct")
MANIFEST = "manifest.json"

_README = """Attention maps exported by tfxai for editing (Mitsuhara et al., VISAPP 2021).

images/NNNN.png    the image
maps/NNNN.png      the network's attention map (grayscale, white = high attention)
overlays/NNNN.png  the map over the image, with true and predicted class
edited/            put your edited maps here, same name and size as in maps/

Edit with any paint program (white adds attention, black removes it) or run
  tfxai attention edit --maps THIS_FOLDER
then fine-tune with
  tfxai train abn --init MODEL --human-maps THIS_FOLDER --data DATA ...
Images without a file in edited/ train as usual.
"""


# === 1. Export ===


def export_attention_maps(explainer, images, labels, sources, out, class_names, select="misclassified", limit=None, batch_size=32, overwrite=False):
    """Write the attention maps of chosen images as grayscale PNGs for editing.

    Parameters
    ----------
    explainer : an attention model (ABN, GAIN), a Grad-CAM object or any explainer
        (``explain(images) -> (maps, probabilities)``, see :mod:`tfxai.explain.protocol`)
    images : uint8 array (N, H, W, C)
    labels : int array (N,)
    sources : list of str
        Where each image came from (relative path in its data folder); the key
        that links an edited map back to its training image.
    out : str
        Output folder (written only when complete).
    class_names : list of str
    select : {"misclassified", "all", "correct"}
    limit : int, optional
        Keep at most this many images (the least confident first for "misclassified").

    Returns
    -------
    list of dict
        The manifest entries written.
    """
    from tfxai.explain.overlay import caption, contact_sheet, overlay
    from tfxai.explain.protocol import explain_in_batches

    if select not in SELECTIONS:
        raise TfxaiError(f"unknown selection {select!r}: choose one of {list(SELECTIONS)}")
    images = np.asarray(images)
    labels = np.asarray(labels).astype(np.int64)
    if not (len(images) == len(labels) == len(sources)):
        raise TfxaiError(f"got {len(images)} images, {len(labels)} labels and {len(sources)} sources: pass one of each per image")
    maps, probabilities = explain_in_batches(explainer, images, batch_size)
    predicted = probabilities.argmax(axis=-1)
    confidence = probabilities[np.arange(len(labels)), labels]
    if select == "misclassified":
        chosen = np.flatnonzero(predicted != labels)
        chosen = chosen[np.argsort(confidence[chosen], kind="stable")]
    elif select == "correct":
        chosen = np.flatnonzero(predicted == labels)
    else:
        chosen = np.arange(len(labels))
    if limit is not None:
        chosen = chosen[: int(limit)]
    if len(chosen) == 0:
        raise TfxaiError(f"no {select} images to export (of {len(labels)}): choose another --select")
    entries, tiles = [], []
    with staged_directory(out, overwrite=overwrite) as staging:
        for folder in ("images", "maps", "overlays", "edited"):
            os.makedirs(os.path.join(staging, folder))
        for rank, index in enumerate(chosen):
            name = f"{rank:04d}.png"
            image = images[index]
            write_image(os.path.join(staging, "images", name), _to_bgr(image))
            write_image(os.path.join(staging, "maps", name), _map_to_uint8(maps[index]))
            lines = [
                f"true: {class_names[labels[index]]}",
                f"pred: {class_names[predicted[index]]} {probabilities[index, predicted[index]]:.2f}",
            ]
            tile = caption(overlay(image, maps[index]), lines)
            tiles.append(tile)
            write_image(os.path.join(staging, "overlays", name), cv2.cvtColor(tile, cv2.COLOR_RGB2BGR))
            entries.append(
                {
                    "name": name,
                    "source": str(sources[index]),
                    "label": int(labels[index]),
                    "class_name": str(class_names[labels[index]]),
                    "predicted": int(predicted[index]),
                    "probability": float(probabilities[index, predicted[index]]),
                    "image": f"images/{name}",
                    "map": f"maps/{name}",
                    "edited": f"edited/{name}",
                }
            )
        sheet = contact_sheet(tiles[:64], columns=8)
        write_image(os.path.join(staging, "contact_sheet.png"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
        write_json(os.path.join(staging, MANIFEST), {"class_names": list(class_names), "entries": entries})
        write_text(os.path.join(staging, "README.txt"), _README)
    return entries


# === 3. Import ===


def load_manifest(folder):
    """The ``manifest.json`` of an export folder: ``{"class_names": [...], "entries": [...]}``."""
    path = os.path.join(os.fspath(folder), MANIFEST)
    if not os.path.isfile(path):
        raise TfxaiError(f"{folder} has no {MANIFEST}: pass a folder written by 'tfxai attention export-maps'")
    try:
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
        entries = manifest["entries"]
        for entry in entries:
            entry["source"], entry["name"]
    except (ValueError, KeyError, TypeError) as error:
        raise TfxaiError(f"{path} is not a valid attention-map manifest ({error}): export the maps again") from error
    return manifest


def load_edited_maps(folder, image_size=None):
    """Edited maps of an export folder as ``{source: float32 map (H, W) in [0, 1]}``.

    Only entries with a file in ``edited/`` are returned. ``image_size``
    (H, W) resizes the maps (area interpolation) to the training images.
    """
    manifest = load_manifest(folder)
    edited = {}
    for entry in manifest["entries"]:
        path = os.path.join(os.fspath(folder), "edited", entry["name"])
        if not os.path.isfile(path):
            continue
        data = np.fromfile(path, np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
        if image is None:
            raise TfxaiError(f"cannot read edited map {path} (corrupt or not an image): save it again as PNG")
        if image_size is not None and tuple(image.shape) != tuple(image_size):
            image = cv2.resize(image, (image_size[1], image_size[0]), interpolation=cv2.INTER_AREA)
        edited[entry["source"]] = image.astype(np.float32) / 255.0
    if not edited:
        raise TfxaiError(f"no edited maps in {os.path.join(os.fspath(folder), 'edited')}: edit some with 'tfxai attention edit' or a paint program")
    return edited


def attach_attention_maps(images, sources, edited, strict=True):
    """Model inputs with optional human maps: ``{"images", "attention_maps", "has_attention_map"}``.

    ``attention_maps`` is (N, H, W) float32 (zeros where there is no edit) and
    ``has_attention_map`` (N,) float32 is 1 where ``edited`` holds the image's
    source. With ``strict``, an edited map whose source is not among
    ``sources`` raises :class:`TfxaiError` (the maps belong to other data).
    """
    images = np.asarray(images)
    height, width = images.shape[1:3]
    index = {str(source): i for i, source in enumerate(sources)}
    missing = sorted(set(edited) - set(index))
    if strict and missing:
        raise TfxaiError(
            f"{len(missing)} edited maps belong to images not in the training data (e.g. {missing[0]}): "
            "use the same --data as for export-maps"
        )
    maps = np.zeros((len(images), height, width), np.float32)
    flags = np.zeros((len(images),), np.float32)
    for source, edit in edited.items():
        if source not in index:
            continue
        if edit.shape != (height, width):
            edit = cv2.resize(edit, (width, height), interpolation=cv2.INTER_AREA)
        maps[index[source]] = edit
        flags[index[source]] = 1.0
    return {"images": images, "attention_maps": maps, "has_attention_map": flags}


# === 2. Editing (pure logic, no window) ===


class AttentionEditor:
    """Paint / erase / undo on one attention map, without any window (testable headless).

    The map is uint8 (H, W), 255 = full attention. Strokes draw filled
    circles of ``radius`` pixels joined by lines; painting sets the covered
    pixels to ``value`` (default 255), erasing sets them to 0. Each stroke is
    one undo step.

    Parameters
    ----------
    attention : array (H, W)
        uint8 in [0, 255] or float in [0, 1].
    radius : int
        Brush radius in map pixels.
    max_undo : int
        Undo steps kept.
    """

    MIN_RADIUS, MAX_RADIUS = 0, 64

    def __init__(self, attention, radius=2, value=255, max_undo=100):
        attention = np.asarray(attention)
        if attention.ndim == 3 and attention.shape[-1] == 1:
            attention = attention[..., 0]
        if attention.ndim != 2:
            raise TfxaiError(f"an attention map must be 2-D (H, W), got shape {attention.shape}")
        if attention.dtype != np.uint8:
            attention = np.clip(np.round(np.asarray(attention, np.float32) * 255.0), 0, 255).astype(np.uint8)
        self.original = attention.copy()
        self.map = attention.copy()
        self.radius = int(radius)
        self.value = int(value)
        self.erasing = False
        self.max_undo = int(max_undo)
        self._undo = []
        self._last = None

    @property
    def modified(self):
        """True when the map differs from the one the editor started with."""
        return not np.array_equal(self.map, self.original)

    def begin_stroke(self, x, y):
        """Start a stroke at (x, y) (map pixels) and draw its first dab."""
        self._undo.append(self.map.copy())
        del self._undo[: -self.max_undo]
        self._last = (int(x), int(y))
        self._draw(self._last, self._last)

    def stroke_to(self, x, y):
        """Continue the stroke to (x, y); ignored when no stroke is active."""
        if self._last is None:
            return
        point = (int(x), int(y))
        self._draw(self._last, point)
        self._last = point

    def end_stroke(self):
        """Finish the stroke."""
        self._last = None

    def _draw(self, start, end):
        # a dab of the brush (a filled circle of ``radius``) at every pixel step from start to end, so the
        # stroke is exactly ``radius`` wide everywhere (a thick cv2.line would be wider than the dab)
        color = 0 if self.erasing else self.value
        steps = max(abs(end[0] - start[0]), abs(end[1] - start[1]), 1)
        for t in np.linspace(0.0, 1.0, steps + 1):
            point = (int(round(start[0] + t * (end[0] - start[0]))), int(round(start[1] + t * (end[1] - start[1]))))
            cv2.circle(self.map, point, self.radius, color, thickness=-1, lineType=cv2.LINE_8)

    def undo(self):
        """Revert the last stroke (or reset); returns False when there is nothing to undo."""
        if not self._undo:
            return False
        self.map = self._undo.pop()
        self._last = None
        return True

    def reset(self):
        """Back to the original map (undoable)."""
        self._undo.append(self.map.copy())
        self.map = self.original.copy()

    def toggle_erase(self):
        """Switch between painting and erasing; returns True when erasing."""
        self.erasing = not self.erasing
        return self.erasing

    def resize_brush(self, delta):
        """Grow or shrink the brush by ``delta`` pixels (clamped); returns the new radius."""
        self.radius = int(np.clip(self.radius + delta, self.MIN_RADIUS, self.MAX_RADIUS))
        return self.radius

    def result(self):
        """The edited map, uint8 (H, W)."""
        return self.map.copy()


def _map_to_uint8(attention):
    return np.clip(np.round(np.asarray(attention, np.float32) * 255.0), 0, 255).astype(np.uint8)


def _to_bgr(image):
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 3:
        return cv2.cvtColor(image.astype(np.uint8), cv2.COLOR_RGB2BGR)
    return image.astype(np.uint8)
