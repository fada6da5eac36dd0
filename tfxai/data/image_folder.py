"""Image folders: one sub-folder per class (the TensorFlow flowers layout).

Files are checked before training starts (:func:`check_images`: each decoded
once, pixels dropped), so a corrupt image is reported by name up front
instead of crashing an epoch half-way. Training reads them as a stream
(:class:`ImageFiles`): only paths stay in memory, and ``tf.data`` decodes
them in parallel, batch by batch.
"""

import collections
import concurrent.futures
import dataclasses
import logging
import os
from typing import ClassVar

import cv2
import numpy as np
import tensorflow as tf

from tfxai.errors import TfxaiError, plural

#: The image files every app reads (decoded by OpenCV).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")

__all__ = ["FileRows", "ImageFiles", "ImageFolder", "check_images", "scan_image_folder", "list_images", "load_image", "read_image", "image_dataset",
           "to_model_channels"]


@dataclasses.dataclass
class ImageFolder:
    """The files of an image folder: paths, integer labels and class names."""

    paths: list
    labels: np.ndarray
    class_names: list


def list_images(path):
    """Image files in ``path`` (a file, or a folder searched recursively), sorted."""
    path = os.fspath(path)
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise TfxaiError(f"{path} does not exist: pass an image file or a folder of images")
    found = []
    for root, _, files in os.walk(path):
        found.extend(os.path.join(root, f) for f in files if f.lower().endswith(IMAGE_EXTENSIONS))
    if not found:
        raise TfxaiError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found in {path}: check the folder")
    return sorted(found)


def scan_image_folder(path):
    """Read the class layout of ``path`` (``path/<class>/<image>``)."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise TfxaiError(f"data folder {path} does not exist: pass a folder with one sub-folder of images per class")
    class_names = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)) and not d.startswith("."))
    paths, labels = [], []
    for index, name in enumerate(class_names):
        files = sorted(
            os.path.join(path, name, f) for f in os.listdir(os.path.join(path, name)) if f.lower().endswith(IMAGE_EXTENSIONS)
        )
        if not files:
            raise TfxaiError(f"class folder {os.path.join(path, name)} has no images: add images or remove the folder")
        paths.extend(files)
        labels.extend([index] * len(files))
    if len(class_names) < 2:
        raise TfxaiError(f"{path} has {plural(len(class_names), 'class sub-folder')}: a classifier needs at least 2 (one sub-folder per class)")
    return ImageFolder(paths, np.asarray(labels, np.int32), class_names)


def read_image(path, channels=None, convert=False):
    """Read an image file as uint8 (H, W, C) RGB / grayscale.

    Parameters
    ----------
    channels : int or None
        Expected channel count (1 or 3). A mismatch raises :class:`TfxaiError`
        unless ``convert`` is True, which converts gray <-> RGB and drops alpha.
    """
    data = np.fromfile(path, np.uint8) if os.path.isfile(path) else None
    if data is None:
        raise TfxaiError(f"image {path} does not exist: check the path")
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise TfxaiError(f"cannot decode image {path} (corrupt or not an image): remove or replace the file")
    if image.dtype != np.uint8:
        image = (image / (np.iinfo(image.dtype).max / 255.0)).astype(np.uint8) if image.dtype.kind == "u" else image.astype(np.uint8)
    if image.ndim == 2:
        image = image[..., None]
    elif image.shape[-1] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    elif image.shape[-1] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    if channels is not None and image.shape[-1] != channels:
        if not convert:
            kind = {1: "grayscale", 3: "RGB", 4: "RGBA"}.get(image.shape[-1], f"{image.shape[-1]}-channel")
            raise TfxaiError(
                f"image {path} is {kind} but the model expects {channels} channel(s): convert it, or read it with convert=True"
            )
        image = convert_channels(image, channels)
    return image


def convert_channels(image, channels):
    """Convert a uint8 (H, W, C) image to 1 or 3 channels (alpha dropped)."""
    if image.shape[-1] == 4:
        image = image[..., :3]
    if channels == 3 and image.shape[-1] == 1:
        return np.repeat(image, 3, axis=-1)
    if channels == 1 and image.shape[-1] == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None]
    return image


_CHANNEL_KINDS = {1: "grayscale", 3: "RGB", 4: "RGBA"}


def to_model_channels(images, channels):
    """The one channel rule of every app: convert images to the model's ``channels`` and say so in one line.

    ``images`` are (H, W, C) arrays (uint8 or float) with 1, 3 or 4 channels;
    grayscale becomes RGB by repetition, RGB grayscale by luminance, alpha is
    dropped. When any image changes, one line ``converted 2 grayscale images to
    the model's 3 channels (RGB)`` goes to the ``tfxai`` logger (the apps print
    it on stderr). Returns a list of (H, W, channels) arrays.
    """
    images = list(images)
    _note_conversions(collections.Counter(image.shape[-1] for image in images), channels)
    return [image if image.shape[-1] == channels else convert_channels(image, channels) for image in images]


def _note_conversions(found, channels):
    """Log :func:`to_model_channels`' one line for a Counter of channel counts (those equal to ``channels`` ignored)."""
    found = {c: count for c, count in found.items() if c != channels}
    if found:
        kinds = " and ".join(plural(count, f"{_CHANNEL_KINDS.get(c, f'{c}-channel')} image") for c, count in sorted(found.items()))
        target = f"{plural(channels, 'channel')} ({_CHANNEL_KINDS.get(channels, 'other')})"
        logging.getLogger("tfxai").info(f"converted {kinds} to the model's {target}")


def _resized(image, size):
    return cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA).reshape(size[0], size[1], -1)


def load_image(path, size, channels):
    """One file as :func:`load_images` reads it: uint8 (H, W, ``channels``), resized (INTER_AREA), channels converted, nothing logged."""
    image = _resized(read_image(path), size)
    return image if image.shape[-1] == channels else convert_channels(image, channels)


def check_images(paths, channels, workers=2):
    """Decode every file once (pixels dropped at once) and log the channel conversions :func:`load_images` would.

    Raises :class:`TfxaiError` naming the first file (in ``paths`` order)
    that cannot be read; memory does not grow with the number of files.
    """
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:  # OpenCV releases the GIL while decoding
        found = collections.Counter(pool.map(lambda path: read_image(path).shape[-1], paths, chunksize=64))
    _note_conversions(found, channels)


@dataclasses.dataclass(frozen=True, eq=False)
class FileRows:
    """An array whose rows are files read on demand: only the paths stay in memory.

    Subclasses say what a row is (:attr:`row_shape`, ``dtype``) and how one
    file becomes one (:meth:`read`). Indexing with an int reads one row; with a
    slice or index array it gives the same kind of object for those files;
    ``np.asarray`` (or :meth:`astype`) reads them all. :meth:`encoded_paths` and
    :meth:`decode` are the streaming protocol of :func:`tfxai.training.make_dataset`,
    which shuffles the paths and decodes each row in the ``tf.data`` pipeline.
    """

    paths: tuple
    dtype: ClassVar = np.dtype(np.uint8)

    @property
    def row_shape(self):
        raise NotImplementedError

    def read(self, path):
        """One row (``row_shape``, ``dtype``) from its file."""
        raise NotImplementedError

    @property
    def shape(self):
        return (len(self.paths), *self.row_shape)

    @property
    def ndim(self):
        return 1 + len(self.row_shape)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            return self.read(self.paths[index])
        picked = self.paths[index] if isinstance(index, slice) else [self.paths[i] for i in np.arange(len(self.paths))[index]]
        return dataclasses.replace(self, paths=tuple(picked))

    def __array__(self, dtype=None, copy=None):
        out = np.empty(self.shape, self.dtype)
        for i, path in enumerate(self.paths):
            out[i] = self.read(path)
        return out if dtype is None else out.astype(dtype)

    def astype(self, dtype):
        return np.asarray(self, dtype)

    def encoded_paths(self):
        """The paths as bytes (``os.fsencode``), for ``tf.data.Dataset.from_tensor_slices``."""
        return np.array([os.fsencode(path) for path in self.paths], dtype=object).reshape(len(self.paths))

    def decode(self, path):
        """``tf.data`` map: a path tensor (from :meth:`encoded_paths`) to the row :meth:`read` gives."""
        row = tf.numpy_function(lambda p: self.read(os.fsdecode(p)), [path], tf.as_dtype(self.dtype), stateful=False)
        return tf.ensure_shape(row, self.row_shape)


@dataclasses.dataclass(frozen=True, eq=False)
class ImageFiles(FileRows):
    """Image files read on demand: a stand-in for the uint8 array (N, H, W, C) :func:`load_images` would return.

    Each row is :func:`load_image` of its file (resized, channels converted);
    ``np.asarray`` equals :func:`load_images` of the paths.
    """

    size: tuple
    channels: int

    @property
    def row_shape(self):
        return (*self.size, self.channels)

    def read(self, path):
        return load_image(path, self.size, self.channels)


def load_images(paths, size, channels, convert=True):
    """Read and resize images into one uint8 array (N, H, W, C), converted to ``channels`` (:func:`to_model_channels`).

    ``convert=False`` refuses images of other channel counts instead.
    """
    images = [_resized(read_image(path, None if convert else channels), size) for path in paths]
    out = np.empty((len(paths), size[0], size[1], channels), np.uint8)
    for i, image in enumerate(to_model_channels(images, channels)):
        out[i] = image.reshape(size[0], size[1], channels)
    return out


def split_stratified(labels, fraction, seed=0):
    """Boolean mask of a per-class validation split: ``round(n * fraction)`` samples of each class.

    The one split rule of every image training app (classifier, ABN, GAIN), so
    the same folder, fraction and seed give the same validation images.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    validation = np.zeros(len(labels), bool)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        validation[members[: int(round(len(members) * fraction))]] = True
    return validation


def image_dataset(folder, image_size, channels=3, batch_size=32, validation_split=0.2, seed=0, augment=False):
    """Train/validation ``tf.data`` pipelines for an :class:`ImageFolder`.

    Every file is checked once up front (corrupt files are reported by name),
    then read as a stream: only paths are shuffled, and ``tf.data`` decodes
    them in parallel. The split is stratified per class. Images stay uint8
    values in [0, 255]; models carry their own preprocessing.

    Returns
    -------
    train, validation : tf.data.Dataset
        Batches of (images float32 (B, H, W, C), labels int32). ``validation``
        is None when ``validation_split`` is 0.
    """
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    check_images(folder.paths, channels)
    files = ImageFiles(tuple(folder.paths), size, channels)
    validation = split_stratified(folder.labels, validation_split, seed)

    def pipeline(mask, training):
        data = tf.data.Dataset.from_tensor_slices((files.encoded_paths()[mask], folder.labels[mask]))
        if training:
            data = data.shuffle(int(mask.sum()), seed=seed, reshuffle_each_iteration=True)
        data = data.map(lambda x, y: (tf.cast(files.decode(x), tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
        if training and augment:
            data = data.map(lambda x, y: (tf.image.random_flip_left_right(x), y), num_parallel_calls=tf.data.AUTOTUNE)
        return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    train = pipeline(~validation, True)
    val = pipeline(validation, False) if validation.any() else None
    return train, val
