"""Labelled images: an image folder (read on demand, :class:`~tfxai.data.image_folder.ImageFiles`) or the bundled demo set (in memory), with a source string per image."""

import dataclasses
import os

import numpy as np

from tfxai.errors import TfxaiError

__all__ = ["DEMO", "LabelledImages", "load_labelled_images"]

#: ``--data demo``: the bundled Fashion-MNIST subset.
DEMO = "demo"


@dataclasses.dataclass
class LabelledImages:
    """uint8 images (N, H, W, C) (an array, or :class:`~tfxai.data.image_folder.ImageFiles` for a folder), int labels, a source string per image and the class names."""

    images: np.ndarray
    labels: np.ndarray
    sources: list
    class_names: list

    def subset(self, indices):
        indices = np.asarray(indices, np.int64)
        return LabelledImages(self.images[indices], self.labels[indices], [self.sources[i] for i in indices], self.class_names)

    def first(self, count):
        """The first ``count`` images (all when there are fewer)."""
        return self.subset(np.arange(min(int(count), len(self.labels))))


def load_labelled_images(data, image_size, channels, split="train"):
    """An image folder (one sub-folder per class) or ``"demo"`` (bundled Fashion-MNIST subset).

    Sources are the paths relative to the folder (``class/file.png``) or
    ``demo:<split>:<index>``; they link edited attention maps and masks to images.
    A folder's files are checked (decoded once, :func:`~tfxai.data.image_folder.check_images`)
    but not kept: ``images`` is an :class:`~tfxai.data.image_folder.ImageFiles`
    that training streams and ``np.asarray`` reads whole.
    """
    import cv2

    from tfxai.data.demo import load_demo
    from tfxai.data.image_folder import ImageFiles, check_images, scan_image_folder, to_model_channels

    size = (int(image_size), int(image_size))
    if data == DEMO:
        (x_train, y_train), (x_test, y_test), class_names = load_demo()
        images, labels = (x_train, y_train) if split == "train" else (x_test, y_test)
        if images.shape[1:3] != size:
            images = np.stack([cv2.resize(image, size[::-1], interpolation=cv2.INTER_AREA).reshape(size + (-1,)) for image in images])
        if images.shape[-1] != channels:
            images = np.stack(to_model_channels(images, channels))
        sources = [f"demo:{split}:{i}" for i in range(len(images))]
        return LabelledImages(images, labels.astype(np.int32), sources, class_names)
    if not data:
        raise TfxaiError("no training data given: pass --data FOLDER (one sub-folder per class) or --data demo")
    folder = scan_image_folder(data)
    check_images(folder.paths, channels)
    images = ImageFiles(tuple(folder.paths), size, channels)
    sources = [os.path.relpath(path, data).replace(os.sep, "/") for path in folder.paths]
    return LabelledImages(images, folder.labels, sources, folder.class_names)
