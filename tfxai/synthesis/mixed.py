"""Replacing part of a training set by generated images (Hirano et al., section on learning with them)."""

import dataclasses

import numpy as np
import tensorflow as tf

from tfxai.errors import TfxaiError
from tfxai.training.resume import epoch_shuffle, epoch_variable
from tfxai.synthesis.generator import TargetOutputGenerator


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

    Attributes
    ----------
    images : ndarray ``(n, h, w, c)``
        Training images in [0, 1]; the rows in ``replaced`` are generated.
    labels : ndarray ``(n,)``
        Original integer labels ``t`` (unchanged for generated images).
    soft_targets : ndarray ``(n, classes)``
        ``q``: the teacher's output on each generated image; the one-hot label
        for original images.
    replaced : ndarray ``(k,)``
        Indices of the generated rows, in replacement order (a smaller fraction
        with the same seed replaces a prefix of them, see :meth:`with_fraction`).
    originals : ndarray ``(k, h, w, c)``
        The original images at ``replaced``.
    design_targets : ndarray ``(k, classes)``
        The targets the generated images were driven to (own 0.9, other 0.1).
    kl : ndarray ``(k,)``
        ``KL(design target || teacher output)`` reached by each generated image.
    """

    images: np.ndarray
    labels: np.ndarray
    soft_targets: np.ndarray
    replaced: np.ndarray
    originals: np.ndarray
    design_targets: np.ndarray
    kl: np.ndarray

    @property
    def generated(self):
        """Boolean mask ``(n,)`` of generated rows."""
        mask = np.zeros(len(self.images), dtype=bool)
        mask[self.replaced] = True
        return mask

    @property
    def fraction(self):
        return len(self.replaced) / max(1, len(self.images))

    def with_fraction(self, fraction):
        """The same set with only the first ``round(fraction * n)`` replacements kept, others restored."""
        keep = int(round(float(fraction) * len(self.images)))
        if keep > len(self.replaced):
            raise TfxaiError(
                f"this set has only {len(self.replaced)} generated images ({self.fraction:.0%}), "
                f"cannot keep {keep}: build it with a larger fraction"
            )
        images, soft = self.images.copy(), self.soft_targets.copy()
        dropped = self.replaced[keep:]
        images[dropped] = self.originals[keep:]
        soft[dropped] = np.eye(soft.shape[1], dtype="float32")[self.labels[dropped]]
        return MixedDataset(
            images=images,
            labels=self.labels,
            soft_targets=soft,
            replaced=self.replaced[:keep],
            originals=self.originals[:keep],
            design_targets=self.design_targets[:keep],
            kl=self.kl[:keep],
        )

    def as_dataset(self, batch_size=64, augmentation=None, augment_generated=False, shuffle=True, seed=0):
        """A ``tf.data.Dataset`` of ``(image, (label, soft_target))`` batches for :class:`MixedTargetModel`.

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
        generated = self.generated
        data = tf.data.Dataset.from_tensor_slices(
            (self.images, self.labels.astype("int32"), self.soft_targets.astype("float32"), generated)
        )
        if shuffle:
            data = epoch_shuffle(data, len(self.images), seed)  # an order per epoch that a resume repeats

        epoch = epoch_variable()

        def prepare(position, sample):
            image, label, soft, is_generated = sample
            if augmentation is not None:
                key = tf.stack([tf.constant(int(seed), tf.int64) * 1_000_003 + epoch.read_value(), position])
                if augment_generated:
                    image = augmentation(image, key)
                else:
                    image = tf.cond(is_generated, lambda: image, lambda: augmentation(image, key))
            return image, (label, soft)

        data = data.enumerate()
        return data.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)


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
    images : array ``(n, h, w, c)`` in [0, 1]
    labels : array ``(n,)`` of ints
    teacher : keras.Model
        Trained classifier used to generate.
    fraction : float in [0, 1]
        Share of the images to replace.
    num_classes : int or None
        Defaults to the teacher's number of outputs.
    own_probability : float
        Target probability of the image's own class (0.9 in the paper).
    seed : int
        Chooses which images (see :func:`replacement_order`) and which other classes.
    generator : TargetOutputGenerator or None
        Generator to use; by default one is built on ``teacher`` with the
        paper's settings, overridden by ``generator_kwargs``.
    progress : callable or None
        ``progress(done, total)`` during generation.

    Returns
    -------
    MixedDataset
    """
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
        num_classes = generator.predict(images[:1]).shape[-1]
    if labels.min() < 0 or labels.max() >= num_classes:
        raise TfxaiError(f"labels must lie in [0, {num_classes - 1}], found [{labels.min()}, {labels.max()}]")
    order = replacement_order(len(images), seed)
    rng = np.random.default_rng([seed, 1])
    others = (labels[order] + rng.integers(1, num_classes, size=len(order))) % num_classes
    count = int(round(float(fraction) * len(images)))
    replaced = order[:count]
    design = _own_other(labels[replaced], others[:count], num_classes, own_probability)
    soft = np.eye(num_classes, dtype="float32")[labels]
    mixed_images = images.copy()
    kl = np.zeros((0,), "float32")
    if count:
        result = generator.generate(images[replaced], design, progress=progress)
        mixed_images[replaced] = result.images
        soft[replaced] = result.outputs
        kl = result.kl
    return MixedDataset(
        images=mixed_images,
        labels=labels,
        soft_targets=soft,
        replaced=replaced,
        originals=images[replaced],
        design_targets=design,
        kl=kl,
    )
