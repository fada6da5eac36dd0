"""Images as float arrays in [0, 1]: image folders, labelled data sets (``.npz`` or class folders), PNG writing.

What ``tfxai generate`` and ``tfxai train mixed`` read and write. Files are found and decoded by
:mod:`tfxai.data.image_folder` (one list of image extensions, one decoder for every app).
"""

import dataclasses
import os
from typing import ClassVar

import cv2
import numpy as np

from tfxai.errors import TfxaiError

from tfxai.data.image_folder import IMAGE_EXTENSIONS, FileRows, check_images, convert_channels

__all__ = [
    "LabelledImageFiles",
    "list_folder_images",
    "load_labelled_data",
    "read_image",
    "read_image_folder",
    "read_rows",
    "to_uint8",
    "write_png",
]


def list_folder_images(directory):
    """Sorted image file names in ``directory`` (not recursive; :func:`tfxai.data.list_images` searches a tree)."""
    if not os.path.isdir(directory):
        raise TfxaiError(f"image folder {directory} does not exist: pass a folder of PNG/JPEG images")
    return sorted(name for name in os.listdir(directory) if name.lower().endswith(IMAGE_EXTENSIONS))


def read_image(path, size=None, channels=3):
    """One image as float32 ``(h, w, channels)`` in [0, 1], RGB order, resized to ``size = (h, w)`` if given.

    ``channels=None`` keeps the file's own channels (1, 3 or 4); the readers
    below convert with :func:`tfxai.data.to_model_channels`, the apps' one channel rule.
    """
    from tfxai.data.image_folder import read_image as read_pixels

    image = read_pixels(os.fspath(path))
    if size is not None and image.shape[:2] != tuple(size):
        image = cv2.resize(image, (int(size[1]), int(size[0])), interpolation=cv2.INTER_AREA).reshape(int(size[0]), int(size[1]), -1)
    if channels is not None:
        image = _model_channels([image], channels)[0]
    return image.astype("float32") / 255.0


def _model_channels(images, channels):
    from tfxai.data.image_folder import to_model_channels

    return to_model_channels(images, channels)


def read_image_folder(directory, size=None, channels=3):
    """The images of an image file, a flat folder or a class-folder tree (the apps' one image reader).

    Returns ``(images (n, h, w, c) in [0, 1], names)``: each name is the file's
    path relative to ``directory`` (its base name when ``directory`` is a file).
    """
    from tfxai.data.image_folder import list_images as find_images

    paths = find_images(directory)
    root = os.path.dirname(directory) if os.path.isfile(directory) else directory
    names = [os.path.relpath(path, root) for path in paths]
    images = _model_channels([read_image(path, size, None) for path in paths], channels)
    shapes = {image.shape for image in images}
    if len(shapes) > 1:
        raise TfxaiError(f"images in {directory} have different sizes {sorted(shapes)}: resize them or use a fixed-size model")
    return np.stack(images), names


def to_uint8(image):
    """[0, 1] float image -> uint8 (rounded)."""
    return np.clip(np.round(np.asarray(image) * 255.0), 0, 255).astype("uint8")


def write_png(path, image):
    """Write a [0, 1] float image ``(h, w, c)`` as an 8-bit PNG (RGB or grey)."""
    pixels = to_uint8(image)
    if pixels.ndim == 3 and pixels.shape[-1] == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    elif pixels.ndim == 3:
        pixels = pixels[..., 0]
    os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
    if not cv2.imwrite(os.fspath(path), pixels):
        raise TfxaiError(f"cannot write {path}: check that the folder is writable")


def load_labelled_data(path, size=None, channels=None, stream=False):
    """Labelled images from an ``.npz`` file or a folder of class subfolders.

    An ``.npz`` holds ``x`` (or ``images``) of shape ``(n, h, w[, c])`` — uint8
    or floats in [0, 1] — and ``y`` (or ``labels``) integers; optional
    ``class_names``. A folder holds one subfolder of images per class, named
    after the class.

    Returns
    -------
    images : ndarray ``(n, h, w, c)`` float32 in [0, 1]
    labels : ndarray ``(n,)`` int64
    class_names : list of str or None

    ``stream=True`` with a folder and a ``size`` returns a :class:`LabelledImageFiles`
    (only the paths in memory, each image decoded when read, to the same values;
    every file is decoded once first, pixels dropped, to report unreadable files and channel conversions)
    instead of the array; an ``.npz`` (or a folder without ``size``, whose images
    could differ in size) is still read whole.
    """
    if not os.path.exists(path):
        raise TfxaiError(f"training data {path} does not exist: pass an .npz file or a folder of class subfolders")
    if os.path.isdir(path):
        files, labels, classes = _list_class_folders(path, size, channels or 3)
        if stream and size is not None:
            check_images(files.paths, files.channels)  # unreadable files fail here, in one line; conversions noted once
            return files, labels, classes
        return _load_class_folders(files, path), labels, classes
    try:
        with np.load(path, allow_pickle=False) as data:
            x = data["x"] if "x" in data else data["images"]
            y = data["y"] if "y" in data else data["labels"]
            names = [str(n) for n in data["class_names"]] if "class_names" in data else None
    except (KeyError, ValueError, OSError) as error:
        raise TfxaiError(
            f"cannot read {path}: {error}; an .npz needs arrays 'x' (images) and 'y' (integer labels)"
        ) from None
    if x.ndim == 3:
        x = x[..., None]
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    whole = np.issubdtype(y.dtype, np.integer) or (
        np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y))
    )
    if y.ndim != 1 or not whole:
        raise TfxaiError(f"{path}: y has shape {y.shape} and dtype {y.dtype}; need one integer class index per image (not one-hot)")
    if x.ndim != 4 or len(x) != len(y) or len(x) == 0:
        raise TfxaiError(f"{path}: x has shape {x.shape} and y {y.shape}; need (n, h, w[, c]) images and n labels, n > 0")
    x = x.astype("float32") / 255.0 if x.dtype == np.uint8 or x.max() > 1.0 else x.astype("float32")
    if channels is not None and x.shape[-1] != channels:
        x = np.stack(_model_channels(x, channels))
    return x, y.astype("int64"), names


@dataclasses.dataclass(frozen=True, eq=False)
class LabelledImageFiles(FileRows):
    """The images of a folder of class subfolders, read on demand: a stand-in for :func:`load_labelled_data`'s array.

    Each row is the float32 image in [0, 1] that :func:`load_labelled_data` gives for
    its file (:func:`read_image` at ``size``, then the apps' channel rule); indexing,
    ``np.asarray`` and the ``tf.data`` streaming protocol are
    :class:`~tfxai.data.image_folder.FileRows`'. ``size`` is required (every image is
    resized to it, so all rows have one shape).
    """

    size: tuple
    channels: int
    dtype: ClassVar = np.dtype("float32")

    @property
    def row_shape(self):
        return (int(self.size[0]), int(self.size[1]), int(self.channels))

    def read(self, path):
        """One file as float32 ``(h, w, channels)`` in [0, 1]."""
        image = read_image(path, self.size, None)
        return (image if image.shape[-1] == self.channels else convert_channels(image, self.channels)).reshape(self.row_shape)


def read_rows(images, indices):
    """Rows ``indices`` of an image array or a :class:`LabelledImageFiles` (only those files read), as one float32 array."""
    return np.asarray(images[np.asarray(indices).reshape(-1)], dtype="float32")


def _list_class_folders(directory, size, channels):
    classes = sorted(d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d)))
    if not classes:
        raise TfxaiError(f"{directory} has no class subfolders: put each class's images in a folder named after it")
    paths, labels = [], []
    for label, name in enumerate(classes):
        folder = os.path.join(directory, name)
        for file_name in list_folder_images(folder):
            paths.append(os.path.join(folder, file_name))
            labels.append(label)
    if not paths:
        raise TfxaiError(f"no images in the class subfolders of {directory}: add PNG or JPEG files")
    return LabelledImageFiles(tuple(paths), None if size is None else tuple(size), int(channels)), np.asarray(labels, "int64"), classes


def _load_class_folders(files, directory):
    images = _model_channels([read_image(path, files.size, None) for path in files.paths], files.channels)
    if len({image.shape for image in images}) > 1:
        raise TfxaiError(f"images under {directory} have different sizes: resize them or pass a fixed-size model")
    return np.stack(images)
