"""Two image domains as folders, batched for :meth:`StarGANv2.train_step`.

A domain folder holds one sub-folder of images per class (labelled) or images
directly (unlabelled). Each training batch is half source, half target; every
image is paired with two references of the other domain to translate into.

A folder is read as a stream: :func:`load_domain` checks every file once (an
unreadable one is a one-line :class:`~tfxai.errors.TfxaiError` before training
starts) and keeps only the paths; :func:`two_domain_dataset` shuffles the paths
and decodes them in parallel in ``tf.data``, giving the batches the loaded
array gave.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from tfxai.data.image_folder import ImageFiles, check_images, list_images, scan_image_folder
from tfxai.errors import TfxaiError

__all__ = ["Domain", "load_domain", "scan_domain", "two_domain_dataset"]


@dataclasses.dataclass
class Domain:
    """Images (N, H, W, 3) uint8, labels (N,) with -1 when unlabelled, class names or None.

    ``images`` is an array or, for a folder (:func:`load_domain`), an
    :class:`~tfxai.data.image_folder.ImageFiles` read on demand (int index,
    slices and ``np.asarray`` read those images).
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list = None


def _has_class_folders(path):
    return any(os.path.isdir(os.path.join(path, d)) and not d.startswith(".") for d in os.listdir(path))


def scan_domain(path, require_labels=False):
    """The files of a domain folder, not read: ``(paths, labels (-1 when unlabelled), class names or None)``."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise TfxaiError(f"domain folder {path} does not exist: pass a folder of images (or of class sub-folders)")
    if _has_class_folders(path):
        folder = scan_image_folder(path)
        return folder.paths, folder.labels, folder.class_names
    if require_labels:
        raise TfxaiError(f"{path} has no class sub-folders: the class-aware model needs labelled source images (one sub-folder per class)")
    paths = list_images(path)
    return paths, np.full(len(paths), -1, np.int32), None


def load_domain(path, image_size, require_labels=False):
    """A domain folder as :class:`~tfxai.data.image_folder.ImageFiles` (resized to ``image_size``, converted to RGB, read on demand).

    Every file is decoded once here (pixels dropped), so an unreadable one is
    reported by name before training; channel conversions are logged as
    :func:`~tfxai.data.image_folder.load_images` logs them.
    """
    paths, labels, class_names = scan_domain(path, require_labels)
    check_images(paths, 3)
    return Domain(ImageFiles(tuple(paths), (int(image_size), int(image_size)), 3), labels, class_names)


def two_domain_dataset(source, target, batch_size=8, seed=0):
    """An endless ``tf.data`` of training dicts from two :class:`Domain` s (source = domain 0, target = domain 1).

    Target labels are never used for training (they are set to -1). Images
    given as :class:`~tfxai.data.image_folder.ImageFiles` are streamed: only
    their paths are shuffled (same seeds, so the same order) and each is
    decoded in parallel in order, so the batches equal those of the loaded arrays.
    """
    if batch_size < 2 or batch_size % 2:
        raise TfxaiError(f"batch size {batch_size} must be even and >= 2: each batch is half source, half target")
    half = batch_size // 2
    for name, domain in (("source", source), ("target", target)):
        if len(domain.images) < half:
            raise TfxaiError(f"the {name} domain has {len(domain.images)} images, fewer than half a batch ({half}): add images or lower the batch size")

    def stream(domain, labels, offset):
        files = domain.images if isinstance(domain.images, ImageFiles) else None
        data = tf.data.Dataset.from_tensor_slices((domain.images if files is None else files.encoded_paths(), labels))
        data = data.shuffle(len(domain.images), seed=seed + offset, reshuffle_each_iteration=True).repeat()
        if files is not None:
            data = data.map(lambda path, label: (files.decode(path), label), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return data.batch(half, drop_remainder=True)

    target_labels = np.full(len(target.images), -1, np.int32)
    streams = (stream(source, source.labels, 0), stream(target, target_labels, 1),
               stream(source, source.labels, 2), stream(target, target_labels, 3))

    def combine(src, tgt, src_ref, tgt_ref):
        images = tf.cast(tf.concat([src[0], tgt[0]], 0), tf.float32)
        references = tf.cast(tf.concat([tgt_ref[0], src_ref[0]], 0), tf.float32)
        domains = tf.concat([tf.zeros(half, tf.int32), tf.ones(half, tf.int32)], 0)
        return {"images": images, "domains": domains, "references": references,
                "references2": tf.cast(tf.concat([tf.roll(tgt_ref[0], 1, 0), tf.roll(src_ref[0], 1, 0)], 0), tf.float32),
                "reference_domains": 1 - domains,
                "labels": tf.concat([tf.cast(src[1], tf.int32), tf.cast(tgt[1], tf.int32)], 0)}

    return tf.data.Dataset.zip(streams).map(combine, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
