"""Replacing part of a training set by generated images (Hirano et al., section on learning with them)."""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from tfxai.data.float_images import LabelledImageFiles, read_rows
from tfxai.errors import TfxaiError
from tfxai.training.resume import epoch_shuffle, epoch_variable
from tfxai.synthesis.generator import TargetOutputGenerator, kl_divergence


def own_and_other_targets(labels, num_classes, own=0.9, rng=None):
    """Targets "own class ``own``, one random other class ``1 - own``", and the other classes drawn.

    Returns ``(targets, others)``: ``targets`` of shape ``(n, num_classes)``,
    ``others`` the randomly chosen other class of each row (uniform over the
    ``num_classes - 1`` classes that are not the label).
    """
    labels = np.asarray(labels, dtype="int64").reshape(-1)
    if num_classes < 2:
        raise TfxaiError(f"need at least 2 classes for an own/other target, got {num_classes}")
    rng = np.random.default_rng(rng)
    others = (labels + rng.integers(1, num_classes, size=len(labels))) % num_classes
    return _own_other(labels, others, num_classes, own), others


def _own_other(labels, others, num_classes, own):
    targets = np.zeros((len(labels), num_classes), dtype="float32")
    rows = np.arange(len(labels))
    targets[rows, labels] = own
    targets[rows, others] += 1.0 - own
    return targets


def flip_and_crop(image, padding=2, flip=True, seed=None):
    """Random horizontal flip (if ``flip``) and random crop after zero padding by ``padding`` pixels (one image, tf ops).

    ``seed`` (a shape (2,) integer tensor) draws statelessly: the same seed gives the same flip and
    crop, which is how :meth:`MixedDataset.as_dataset` makes a resumed run augment its epochs as an
    uninterrupted one. Without it the draws come from TensorFlow's global generator.
    """
    flip_seed, crop_seed = (None, None) if seed is None else tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    if flip:
        image = tf.image.random_flip_left_right(image) if seed is None else tf.image.stateless_random_flip_left_right(image, flip_seed)
    if padding:
        shape = tf.shape(image)
        padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
        image = tf.image.random_crop(padded, shape) if seed is None else tf.image.stateless_random_crop(padded, shape, crop_seed)
    return image


@dataclasses.dataclass
class MixedDataset:
    """A training set in which some images were replaced by generated ones.

    The images are not held as one array: ``source`` keeps the untouched training
    images (an array, or a :class:`~tfxai.data.float_images.LabelledImageFiles` whose
    rows are decoded when read) and ``generated_images`` the generated ones (an array,
    or a float32 ``.npy`` memory map when :func:`build_mixed_dataset` got ``spill``).
    :meth:`as_dataset` reads one row at a time, so memory does not grow with the set.

    Attributes
    ----------
    source : ndarray ``(n, h, w, c)`` or LabelledImageFiles
        The original training images in [0, 1].
    labels : ndarray ``(n,)``
        Original integer labels ``t`` (unchanged for generated images).
    soft_targets : ndarray ``(n, classes)``
        ``q``: the teacher's output on each generated image; the one-hot label
        for original images.
    replaced : ndarray ``(k,)``
        Indices of the generated rows, in replacement order (a smaller fraction
        with the same seed replaces a prefix of them, see :meth:`with_fraction`).
    generated_images : ndarray ``(k, h, w, c)``
        The generated image of each row in ``replaced``, in that order.
    design_targets : ndarray ``(k, classes)``
        The targets the generated images were driven to (own 0.9, other 0.1).
    kl : ndarray ``(k,)``
        ``KL(design target || teacher output)`` reached by each generated image.
    """

    source: object
    labels: np.ndarray
    soft_targets: np.ndarray
    replaced: np.ndarray
    generated_images: np.ndarray
    design_targets: np.ndarray
    kl: np.ndarray

    def __len__(self):
        return len(self.labels)

    @property
    def generated(self):
        """Boolean mask ``(n,)`` of generated rows."""
        mask = np.zeros(len(self), dtype=bool)
        mask[self.replaced] = True
        return mask

    @property
    def fraction(self):
        return len(self.replaced) / max(1, len(self))

    @property
    def images(self):
        """The whole mixed set as one array ``(n, h, w, c)`` (reads every image: for small sets)."""
        images = read_rows(self.source, np.arange(len(self)))
        images[self.replaced] = self.generated_images
        return images

    @property
    def originals(self):
        """The original images at ``replaced`` ``(k, h, w, c)`` (read when asked)."""
        return read_rows(self.source, self.replaced)

    def with_fraction(self, fraction):
        """The same set with only the first ``round(fraction * n)`` replacements kept, others restored."""
        keep = int(round(float(fraction) * len(self)))
        if keep > len(self.replaced):
            raise TfxaiError(
                f"this set has only {len(self.replaced)} generated images ({self.fraction:.0%}), "
                f"cannot keep {keep}: build it with a larger fraction"
            )
        soft = self.soft_targets.copy()
        dropped = self.replaced[keep:]
        soft[dropped] = np.eye(soft.shape[1], dtype="float32")[self.labels[dropped]]
        return MixedDataset(
            source=self.source,
            labels=self.labels,
            soft_targets=soft,
            replaced=self.replaced[:keep],
            generated_images=self.generated_images[:keep],
            design_targets=self.design_targets[:keep],
            kl=self.kl[:keep],
        )

    def as_dataset(self, batch_size=64, augmentation=None, augment_generated=False, shuffle=True, seed=0):
        """A ``tf.data.Dataset`` of ``(image, (label, soft_target))`` batches for :class:`MixedTargetModel`.

        Images are read one row at a time in the pipeline (parallel, in order), so the
        set is never copied whole into memory.

        Parameters
        ----------
        batch_size : int
        augmentation : callable or None
            Per-image augmentation ``(image, seed) -> image`` (tf ops), e.g. :func:`flip_and_crop`;
            ``seed`` is a shape (2,) stateless key made from ``seed``, the epoch and the
            image's position, so a resumed run draws what an uninterrupted one drew.
        augment_generated : bool
            False (default): generated images are shown exactly as generated, so
            their stored teacher output ``q`` is the teacher's output on what
            the student sees; only original images are augmented. True augments
            them too (their ``q`` then no longer matches the augmented image,
            the mismatch Hirano et al. suspect hurt their results).
        shuffle : bool
        seed : int
        """
        slots = np.full(len(self), -1, dtype="int64")  # row -> its index in generated_images, -1 for an original
        slots[self.replaced] = np.arange(len(self.replaced))

        def read_row(index):
            if slots[index] >= 0:
                return np.array(self.generated_images[slots[index]], dtype="float32")
            return read_rows(self.source, [index])[0]

        labels = tf.constant(self.labels.astype("int32"))
        soft_targets = tf.constant(self.soft_targets.astype("float32"))
        generated = tf.constant(self.generated)
        read = row_reader(read_row, self.source.shape[1:])
        data = tf.data.Dataset.range(len(self))
        if shuffle:
            data = epoch_shuffle(data, len(self), seed)  # an order per epoch that a resume repeats

        epoch = epoch_variable()

        def prepare(position, index):
            image, is_generated = read(index), tf.gather(generated, index)
            if augmentation is not None:
                key = tf.stack([tf.constant(int(seed), tf.int64) * 1_000_003 + epoch.read_value(), position])
                if augment_generated:
                    image = augmentation(image, key)
                else:
                    image = tf.cond(is_generated, lambda: image, lambda: augmentation(image, key))
            return image, (tf.gather(labels, index), tf.gather(soft_targets, index))

        data = data.enumerate()
        return data.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def row_reader(read, shape):
    """``tf.data`` map: an int64 index tensor to the float32 image ``read(index)`` of ``shape``."""
    shape = tuple(int(d) for d in shape)

    def row(index):
        image = tf.numpy_function(lambda i: np.asarray(read(int(i)), "float32").reshape(shape), [index], tf.float32, stateful=False)
        return tf.ensure_shape(image, shape)

    return row


def labelled_dataset(images, labels, batch_size):
    """Batches of ``(image, label)`` in order; a :class:`LabelledImageFiles` is decoded per element, not loaded whole."""
    labels = np.asarray(labels)
    if not isinstance(images, LabelledImageFiles):
        return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
    data = tf.data.Dataset.from_tensor_slices((images.encoded_paths(), labels))
    data = data.map(lambda path, label: (images.decode(path), label), num_parallel_calls=tf.data.AUTOTUNE)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def replacement_order(count, seed=0):
    """The seeded order in which images are replaced; a fraction ``f`` replaces its first ``round(f * count)``."""
    return np.random.default_rng(seed).permutation(count)


def build_mixed_dataset(
    images,
    labels,
    teacher,
    fraction,
    num_classes=None,
    own_probability=0.9,
    seed=0,
    generator=None,
    progress=None,
    spill=None,
    **generator_kwargs,
):
    """Replace ``fraction`` of a training set by images generated from them (Hirano et al.).

    Each chosen image is driven, with the trained ``teacher``, to the target
    "own class 0.9, one random other class 0.1" (plain SGD, learning rate
    0.05, weight decay 5e-4, 100 updates, as in the paper) and replaces the
    original; the teacher's output ``q`` on the generated image is stored as
    its soft target for :class:`MixedTargetModel`.

    Parameters
    ----------
    images : array ``(n, h, w, c)`` in [0, 1], or LabelledImageFiles
        Files are decoded a generator batch at a time, never all at once.
    labels : array ``(n,)`` of ints
    teacher : keras.Model
        Trained classifier used to generate.
    fraction : float in [0, 1]
        Share of the images to replace.
    num_classes : int or None
        Defaults to the teacher's number of outputs.
    own_probability : float
        Target of the image's own class (0.9 in the paper).
    seed : int
        Chooses which images (see :func:`replacement_order`) and which other classes.
    generator : TargetOutputGenerator or None
        Generator to use; by default one is built on ``teacher`` with the
        paper's settings, overridden by ``generator_kwargs``.
    progress : callable or None
        ``progress(done, total)`` during generation.
    spill : str or None
        Folder in which the generated images are written, batch by batch, as the float32
        memory map ``generated.npy`` (exact values; the caller removes the folder when done).
        None keeps them in memory.

    Returns
    -------
    MixedDataset
    """
    if not isinstance(images, LabelledImageFiles):
        images = np.asarray(images, dtype="float32")
    labels = np.asarray(labels).reshape(-1).astype("int64")
    if len(images) != len(labels) or len(images) == 0:
        raise TfxaiError(f"got {len(images)} images and {len(labels)} labels: need the same, non-zero number")
    if not 0.0 <= float(fraction) <= 1.0:
        raise TfxaiError(f"fraction must be between 0 and 1, got {fraction}")
    if generator is None:
        settings = {"optimizer": "sgd", "learning_rate": 0.05, "weight_decay": 5e-4, "steps": 100}
        settings.update(generator_kwargs)
        generator = TargetOutputGenerator(teacher, **settings)
    num_classes = num_classes or generator.num_classes()
    if num_classes is None:
        num_classes = generator.predict(read_rows(images, [0])).shape[-1]
    if labels.min() < 0 or labels.max() >= num_classes:
        raise TfxaiError(f"labels must lie in [0, {num_classes - 1}], found [{labels.min()}, {labels.max()}]")
    order = replacement_order(len(images), seed)
    rng = np.random.default_rng([seed, 1])
    others = (labels[order] + rng.integers(1, num_classes, size=len(order))) % num_classes
    count = int(round(float(fraction) * len(images)))
    replaced = order[:count]
    design = _own_other(labels[replaced], others[:count], num_classes, own_probability)
    soft = np.eye(num_classes, dtype="float32")[labels]
    shape = (count, *images.shape[1:])
    if spill is None:
        generated = np.empty(shape, "float32")
    else:
        generated = np.lib.format.open_memmap(os.path.join(spill, "generated.npy"), mode="w+", dtype="float32", shape=shape)
    kl = _generate_in_batches(generator, images, replaced, design, generated, soft, progress)
    if spill is not None:
        generated.flush()
    return MixedDataset(
        source=images,
        labels=labels,
        soft_targets=soft,
        replaced=replaced,
        generated_images=generated,
        design_targets=design,
        kl=kl,
    )


def _generate_in_batches(generator, images, replaced, design, generated, soft, progress):
    """Fill ``generated`` and ``soft[replaced]`` one generator batch at a time; returns the KL reached.

    Each call gets exactly the batch :meth:`TargetOutputGenerator.generate` would form from
    all of them at once (the last one padded with copies of its last image), so the
    images equal those of one call bit for bit while only a batch is in memory.
    """
    count = len(replaced)
    if count == 0:
        return np.zeros((0,), "float32")
    size = min(count, generator.batch_size)
    for start in range(0, count, size):
        rows, targets = replaced[start : start + size], design[start : start + size]
        chunk, real = read_rows(images, rows), len(rows)
        if real < size:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], size - real, axis=0)])
            targets = np.concatenate([targets, np.repeat(targets[-1:], size - real, axis=0)])
        result = generator.generate(chunk, targets)
        generated[start : start + real] = result.images[:real]
        soft[rows] = result.outputs[:real]
        if progress is not None:
            progress(start + real, count)
    outputs = soft[replaced]  # the KL over all rows at once, as one generate call computes it
    return np.asarray(kl_divergence(design, np.log(np.maximum(outputs, 1e-30))))
