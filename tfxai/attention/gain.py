"""GAIN: Guided Attention Inference Network, self-guided and with external supervision (GAIN_ext).

Li, Wu, Peng, Ernst and Fu, "Tell Me Where to Look: Guided Attention Inference
Network", CVPR 2018. Applied to camouflaged animals (green anoles among plants,
VGG16) by Tomono et al.

One batch goes through three streams that share the classifier's weights:

- S_cl: the classifier on the image I; loss L_cl (binary or categorical
  cross-entropy on the logits);
- attention: Grad-CAM of the target class at a feature layer,
  ``A = ReLU(sum_k GAP(ds/df_k) f_k)``, upsampled to the image and min-max
  normalised to [0, 1] (tfxai's own in-graph Grad-CAM, so second-order
  gradients flow into the weights);
- S_am: the classifier on ``I* = I - T(A) * I`` with the shared soft mask
  ``T(A) = sigmoid(omega (A - sigma))``; loss L_am = mean target-class
  probability on I* (erasing what the attention covers must erase the
  evidence);
- S_e (GAIN_ext, optional): ``L_e = mean((A - M)^2)`` for the samples that come
  with a pixel-level mask M; samples without a mask add nothing.

``L = L_cl + alpha L_am + ext_weight L_e`` (+ the classifier's regularisation
losses). All of it runs in one traced ``train_step`` under one GradientTape.

**Target-class score of a single sigmoid output** (binary models). The class
of a sample is 1 when its label is > 0.5, else 0. Grad-CAM explains the logit
``z`` for class 1 and ``-z`` for class 0 (as :class:`tfxai.explain.ClassScore`
does), and L_am uses the matching probability: ``sigmoid(z)`` for positives,
its complement ``1 - sigmoid(z) = sigmoid(-z)`` for negatives. With
``binary_negatives="ignore"`` negatives are left out of L_am (for tasks where
the negative class has no object to find, such as "no lizard in the plants").
"""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from tfxai.attention.base import MAIN, AttentionModel, unpack_inputs
from tfxai.attention.masking import mask_out
from tfxai.backbones import GrayToRGB, build_backbone, get_backbone
from tfxai.data.image_folder import split_stratified
from tfxai.errors import TfxaiError
from tfxai.explain import targets as targets_lib
from tfxai.explain.cam import GradCAM
from tfxai.explain.layers import _score_layer

__all__ = [
    "GAIN",
    "GAINConfig",
    "PRESETS",
    "BINARY_NEGATIVES",
    "build_gain_classifier",
    "export_gain",
    "load_gain",
    "load_mask_folder",
    "target_probabilities",
    "train_gain",
]

BINARY_NEGATIVES = ("complement", "ignore")
INPUT_KEYS = ("masks", "has_mask")  # besides "images"


# === Pure tensor functions ===


def target_probabilities(logits, class_ids):
    """Probability of each sample's target class, from the classifier's logits.

    Softmax models (K > 1 logits): ``softmax(logits)[c]``. Single sigmoid
    output: ``sigmoid(z)`` for class 1 and its complement
    ``1 - sigmoid(z) = sigmoid(-z)`` for class 0.

    Parameters
    ----------
    logits : tf.Tensor
        (batch, K) pre-activation scores.
    class_ids : tf.Tensor
        (batch,) int32 target classes.

    Returns
    -------
    tf.Tensor
        (batch,) probabilities in [0, 1].
    """
    logits = tf.cast(logits, tf.float32)
    class_ids = tf.cast(class_ids, tf.int32)
    if logits.shape[-1] == 1:
        sign = tf.cast(2 * class_ids - 1, tf.float32)
        return tf.sigmoid(logits[:, 0] * sign)
    return tf.gather(tf.nn.softmax(logits), class_ids, axis=-1, batch_dims=1)


def attention_mse(attention, masks):
    """Per-sample ``mean((A - M)^2)`` (L_e before averaging); masks are resized to the attention's size."""
    attention = tf.cast(attention, tf.float32)
    masks = tf.cast(masks, tf.float32)
    if len(masks.shape) == 4:
        masks = masks[..., 0]
    if masks.shape[1:3] != attention.shape[1:3]:
        masks = tf.image.resize(masks[..., None], tf.shape(attention)[1:3], method="bilinear")[..., 0]
    return tf.reduce_mean(tf.square(attention - masks), axis=[1, 2])


# === The model ===


@keras.saving.register_keras_serializable(package="tfxai")
class GAIN(AttentionModel):
    """Guided Attention Inference Network around any Keras classifier.

    Li et al., "Tell Me Where to Look: Guided Attention Inference Network",
    CVPR 2018. See the module docstring for the streams and losses. The
    training loop is :class:`tfxai.attention.base.AttentionModel`'s (shared
    with ABN): GAIN declares three loss terms ``cl``, ``am`` and ``e`` and
    implements :meth:`loss_terms`.

    Parameters
    ----------
    classifier : keras.Model
        A functional or Sequential classifier whose output layer is a Dense or
        Activation layer with ``sigmoid`` (one unit: binary) or ``softmax``
        (K units). It takes the same images the data holds (tfxai classifiers
        take raw pixels; preprocessing is a layer inside). GAIN trains its
        weights in place and changes nothing else.
    layer : str or None
        Feature layer of the attention (Grad-CAM); None picks the last layer
        with a 4-D output.
    sigma, omega : float
        Threshold and sharpness of the soft mask ``T(A) = sigmoid(omega (A - sigma))``.
    alpha : float
        Weight of L_am; the ``tf.Variable`` :attr:`alpha` (``am_weight``),
        which a callback may assign during ``fit``.
    ext_weight : float
        Weight of L_e (the paper's omega of GAIN_ext); :attr:`ext_weight`.
    binary_negatives : {"complement", "ignore"}
        For a single sigmoid output: negatives contribute ``1 - p`` of their
        masked image to L_am (``"complement"``), or 0 (``"ignore"``).

    Data
    ----
    ``fit`` takes ``(x, y)`` or ``(x, y, sample_weight)``. ``x`` is a batch of
    images, or for GAIN_ext a dict ``{"images": (B, H, W, C), "masks": (B, H,
    W) or (B, H, W, 1) in [0, 1], "has_mask": (B,) 0/1}`` (``has_mask``
    defaults to all ones; masks of another size are resized bilinearly).
    ``y`` holds 0/1 labels (sigmoid), class indices or one-hot rows (softmax).
    Every term is averaged over the global batch, so a sample without a mask
    counts as 0 in L_e (raise ``ext_weight`` when masks are rare).

    Metrics: ``loss``, ``cl_loss``, ``am_loss``, ``e_loss`` (per-sample means)
    and whatever is passed to ``compile(metrics=...)``, updated with the
    probabilities on I.
    """

    def __init__(
        self,
        classifier,
        layer=None,
        sigma=0.5,
        omega=10.0,
        alpha=1.0,
        ext_weight=1.0,
        binary_negatives="complement",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(classifier, keras.Model):
            raise TfxaiError(f"GAIN wraps a keras.Model classifier, got {type(classifier).__name__}: build the classifier first")
        if binary_negatives not in BINARY_NEGATIVES:
            raise TfxaiError(f"binary_negatives must be one of {BINARY_NEGATIVES}, got {binary_negatives!r}")
        if omega <= 0:
            raise TfxaiError(f"omega (soft-mask sharpness) must be positive, got {omega}")
        if alpha < 0 or ext_weight < 0:
            raise TfxaiError(f"loss weights must be >= 0, got alpha={alpha}, ext_weight={ext_weight}")

        # === Classifier and attention ===
        self.classifier = classifier
        self._cam = GradCAM(classifier, layer, logits=True, relu=True, upsample=True, normalize=True)
        self.layer = self._cam.layer.name
        self.num_outputs = int(self._cam.view.outputs[1].shape[-1])
        self._squash = _output_squash(classifier, self.num_outputs)
        self._attention_fn = None

        # === Hyperparameters and loss terms ===
        self.sigma = float(sigma)
        self.omega = float(omega)
        self.binary_negatives = binary_negatives
        self.add_loss_term("cl", 1.0)
        self.add_loss_term("am", alpha)
        self.add_loss_term("e", ext_weight)
        self.built = True

    @property
    def alpha(self):
        """Weight of L_am (a ``tf.Variable``)."""
        return self.hyperparameter("am_weight")

    @property
    def ext_weight(self):
        """Weight of L_e (a ``tf.Variable``)."""
        return self.hyperparameter("e_weight")

    # === Forward ===

    def call(self, inputs, training=None):
        """The classifier's probabilities for the images (``inputs`` may be the GAIN_ext dict)."""
        return self.classifier(unpack_inputs(inputs)[0], training=training)

    def probabilities_and_attention(self, images, class_ids=None, training=False):
        """``(probabilities, attention)`` in-graph; attention (B, H, W) in [0, 1] of ``class_ids`` (None: predicted)."""
        images = tf.cast(images, tf.float32)
        if class_ids is None:
            class_ids = tf.fill(tf.shape(images)[:1], targets_lib.PREDICTED)
        class_ids = tf.cast(class_ids, tf.int32)
        attention, logits = self._cam.heatmaps_and_scores(images, targets_lib.ClassScore(class_ids), class_ids, training)
        return self._squash(tf.cast(logits, tf.float32)), attention

    def explain(self, images):
        """``(attention (B, H, W), probabilities)`` of the predicted class: the SavedModel export callable."""
        probabilities, attention = self.probabilities_and_attention(images)
        return attention, probabilities

    def predict_with_attention(self, images, class_ids=None, batch_size=32):
        """Eager ``(probabilities, attention)`` as numpy arrays; ``class_ids`` None (predicted), an int or one per image."""
        images = np.asarray(images, np.float32)
        if images.ndim == 3:
            images = images[None]
        ids = targets_lib.resolve_class_ids(class_ids, len(images), self.num_outputs)
        if self._attention_fn is None:
            signature = [
                tf.TensorSpec((None,) + tuple(self._cam.view.inputs[0].shape[1:]), tf.float32),
                tf.TensorSpec((None,), tf.int32),
            ]
            self._attention_fn = tf.function(self.probabilities_and_attention, input_signature=signature)
        parts = [self._attention_fn(images[i : i + batch_size], ids[i : i + batch_size]) for i in range(0, len(images), batch_size)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def compute_streams(self, images, class_ids, training=False):
        """Run S_cl, the attention and S_am on one batch.

        Returns
        -------
        dict
            ``logits`` on I, ``attention`` (B, H, W) in [0, 1],
            ``masked_images`` I* and ``masked_logits`` on I*.
        """
        images = tf.cast(images, tf.float32)
        attention, logits = self._cam.heatmaps_and_scores(images, targets_lib.ClassScore(class_ids), class_ids, training)
        masked = mask_out(images, attention, self.sigma, self.omega)
        _, masked_logits = self._cam.view(masked, training=training)
        return {
            "logits": tf.cast(logits, tf.float32),
            "attention": attention,
            "masked_images": masked,
            "masked_logits": tf.cast(masked_logits, tf.float32),
        }

    # === Losses (the AttentionModel hook) ===

    def class_ids(self, labels):
        """Target class per sample from ``y`` (0/1 labels, class indices or one-hot rows)."""
        labels = tf.convert_to_tensor(labels)
        if self.num_outputs == 1:
            return tf.cast(tf.reshape(tf.cast(labels, tf.float32), [-1]) > 0.5, tf.int32)
        if len(labels.shape) >= 2 and labels.shape[-1] == self.num_outputs:
            return tf.argmax(labels, axis=-1, output_type=tf.int32)
        return tf.cast(tf.reshape(labels, [-1]), tf.int32)

    def sample_losses(self, streams, labels, class_ids, masks=None, has_mask=None):
        """Per-sample ``{"cl", "am", "e"}`` (batch,) before weighting and averaging."""
        logits = streams["logits"]
        if self.num_outputs == 1:
            binary = tf.reshape(tf.cast(labels, tf.float32), [-1])
            cl = tf.nn.sigmoid_cross_entropy_with_logits(labels=binary, logits=logits[:, 0])
        else:
            labels = tf.convert_to_tensor(labels)
            if len(labels.shape) >= 2 and labels.shape[-1] == self.num_outputs:
                onehot = tf.cast(labels, tf.float32)
            else:
                onehot = tf.one_hot(class_ids, self.num_outputs)
            cl = tf.nn.softmax_cross_entropy_with_logits(labels=onehot, logits=logits)
        am = target_probabilities(streams["masked_logits"], class_ids)
        if self.num_outputs == 1 and self.binary_negatives == "ignore":
            am = am * tf.cast(class_ids, tf.float32)
        if masks is None:
            e = tf.zeros_like(cl)
        else:
            flags = tf.ones_like(cl) if has_mask is None else tf.reshape(tf.cast(has_mask, tf.float32), [-1])
            e = attention_mse(streams["attention"], masks) * flags
        return {"cl": cl, "am": am, "e": e}

    def loss_terms(self, x, y, update=MAIN, training=False):
        images, extras = unpack_inputs(x)
        unknown = sorted(set(extras) - set(INPUT_KEYS))
        if unknown:
            raise TfxaiError(f"GAIN inputs have unknown key(s) {unknown}: use 'images', 'masks' and 'has_mask'")
        class_ids = self.class_ids(y)
        streams = self.compute_streams(images, class_ids, training)
        terms = self.sample_losses(streams, y, class_ids, extras.get("masks"), extras.get("has_mask"))
        return terms, self._squash(streams["logits"])

    # === Config ===

    def get_config(self):
        values = self.hyperparameter_values()
        config = super().get_config()
        config.update(
            {
                "classifier": keras.saving.serialize_keras_object(self.classifier),
                "layer": self.layer,
                "sigma": self.sigma,
                "omega": self.omega,
                "alpha": values["am_weight"],
                "ext_weight": values["e_weight"],
                "binary_negatives": self.binary_negatives,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        classifier = keras.saving.deserialize_keras_object(config.pop("classifier"))
        return cls(classifier, **config)


def _output_squash(classifier, num_outputs):
    """The function from the view's logits to the classifier's probabilities; rejects other heads."""
    activation = getattr(getattr(_score_layer(classifier), "activation", None), "__name__", "")
    if num_outputs == 1 and activation == "sigmoid":
        return tf.sigmoid
    if num_outputs > 1 and activation == "softmax":
        return tf.nn.softmax
    raise TfxaiError(
        f"GAIN needs a classifier ending in one sigmoid unit or a softmax layer; {classifier.name!r} ends in "
        f"{num_outputs} unit(s) with activation {activation or 'none'!r}: add a Dense(1, 'sigmoid') or Dense(K, 'softmax') output"
    )


# === Classifier of the paper's preset ===


def build_gain_classifier(
    backbone="vgg16",
    input_shape=(224, 224, 3),
    num_classes=2,
    hidden=(512, 256),
    frozen_convs=7,
    weights="imagenet",
    dropout=0.0,
    name=None,
):
    """The classifier of the GAIN preset: preprocessing -> backbone -> GAP -> Dense(ReLU) x n -> output.

    Tomono et al.'s configuration (Li et al., CVPR 2018, applied to
    camouflaged lizards): VGG16 with the first 7 convolutions frozen, global
    average pooling, dense 512 -> 256 -> one sigmoid unit, 224x224 RGB.

    Parameters
    ----------
    backbone : str
        A key of :data:`tfxai.backbones.BACKBONES`.
    num_classes : int
        2 gives one sigmoid unit; more gives a softmax layer.
    hidden : tuple of int
        Widths of the ReLU dense layers after pooling.
    frozen_convs : int
        How many of the backbone's first convolution layers are frozen.
    weights : {"imagenet", None, "none"} or str
        Backbone weights (see :func:`tfxai.backbones.build_backbone`).
    """
    spec = get_backbone(backbone)
    if num_classes < 2:
        raise TfxaiError(f"need at least 2 classes to train a classifier, got {num_classes}")
    height, width, channels = input_shape
    inputs = keras.Input((height, width, channels), name="images")
    x = spec.preprocessing()(inputs)
    base_channels = channels
    if spec.imagenet and channels == 1:
        x = GrayToRGB(name="gray_to_rgb")(x)
        base_channels = 3
    elif spec.imagenet and channels != 3:
        raise TfxaiError(f"{spec.name} takes 1 or 3 channels, got {channels}: convert the images to RGB")
    base = build_backbone(spec.name, (height, width, base_channels), weights)
    convs = [layer for layer in base.layers if isinstance(layer, keras.layers.Conv2D)]
    if frozen_convs > len(convs):
        raise TfxaiError(f"cannot freeze {frozen_convs} convolutions: {spec.name} has {len(convs)}; use --frozen-convs 0..{len(convs)}")
    for layer in convs[:frozen_convs]:
        layer.trainable = False
    x = base(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    for index, units in enumerate(hidden, start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"fc{index}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout{index}")(x)
    if num_classes == 2:
        outputs = keras.layers.Dense(1, activation="sigmoid", name="predictions")(x)
    else:
        outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name or f"{spec.name}_gain_classifier")


@dataclasses.dataclass
class GAINConfig:
    """Everything ``tfxai train gain`` needs (model, loss weights, training, data).

    Fill it with :meth:`from_preset`: ``"paper"`` is Tomono et al.'s setting
    (VGG16 with ImageNet weights and the first 7 convs frozen, GAP, 512 -> 256
    -> sigmoid, 224x224, Adam, batch 32, alpha = 1); ``"small"`` trains a small
    CNN at 32x32 on two CPU cores in minutes. The learning rate and epochs of
    the paper preset are not given in the sources; 1e-4 and 20 are tfxai's.
    """

    data: str = ""
    masks: str = ""
    output: str = "saved_models/gain"
    backbone: str = "vgg16"
    weights: str = "imagenet"
    image_size: int = 224
    channels: int = 3
    hidden: tuple = (512, 256)
    frozen_convs: int = 7
    dropout: float = 0.0
    layer: str = ""
    sigma: float = 0.5
    omega: float = 10.0
    alpha: float = 1.0
    ext_weight: float = 1.0
    binary_negatives: str = "complement"
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 1e-4
    validation_split: float = 0.2
    augment: bool = False
    seed: int = 0
    export: bool = True
    overwrite: bool = False

    @classmethod
    def from_preset(cls, preset="paper", **overrides):
        """The named preset with ``overrides`` applied (``None`` values skipped)."""
        if preset not in PRESETS:
            raise TfxaiError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
        values = dict(PRESETS[preset])
        values.update({key: value for key, value in overrides.items() if value is not None})
        unknown = sorted(set(values) - {field.name for field in dataclasses.fields(cls)})
        if unknown:
            raise TfxaiError(f"unknown GAIN option(s) {unknown}")
        if isinstance(values.get("hidden"), str):
            values["hidden"] = _parse_widths(values["hidden"])
        return cls(**values)

    def layer_name(self):
        """The attention layer: the given one, else the backbone's feature layer."""
        return self.layer or get_backbone(self.backbone).feature_layer


def _parse_widths(text):
    try:
        widths = tuple(int(part) for part in text.replace(",", " ").split())
    except ValueError as error:
        raise TfxaiError(f"hidden widths must be integers like '512,256', got {text!r}") from error
    if any(width < 1 for width in widths):
        raise TfxaiError(f"hidden widths must be positive, like '512,256', got {text!r}")
    return widths


PRESETS = {
    "paper": {},
    "small": {
        "backbone": "small_cnn",
        "weights": "none",
        "image_size": 32,
        "hidden": (64,),
        "frozen_convs": 0,
        "epochs": 10,
        "learning_rate": 1e-3,
    },
}


# === Export ===


def export_gain(gain, path, input_dtype="float32", overwrite=False):
    """Export a trained :class:`GAIN` as a SavedModel serving probabilities and its attention map.

    The SavedModel (plain TensorFlow, no tfxai needed) has the signatures of
    :func:`tfxai.export.export_saved_model`; ``heatmap`` is GAIN's attention
    of the predicted class (B, H, W) in [0, 1].
    """
    from tfxai.export import export_saved_model

    return export_saved_model(gain.classifier, path, explain=gain.explain, input_dtype=input_dtype, overwrite=overwrite)


# === Data: images, labels and optional pixel-level masks ===


def load_mask_folder(masks, sources, size):
    """Pixel-level masks for the images named by ``sources`` (``class/file.ext`` paths relative to the data folder).

    The mask of ``DATA/<class>/<name>.<ext>`` is ``MASKS/<class>/<name>.<any image ext>``
    (grayscale or colour, any size: read as gray, resized to ``size``, scaled
    to [0, 1]). Images without a mask file get ``has_mask = 0`` and add nothing
    to L_e.

    Returns
    -------
    masks : np.ndarray
        (N, H, W) float32 in [0, 1] (zeros where there is no mask).
    has_mask : np.ndarray
        (N,) float32 0/1.
    """
    import cv2

    from tfxai.data import list_images, read_image

    masks = os.fspath(masks)
    if not os.path.isdir(masks):
        raise TfxaiError(f"mask folder {masks} does not exist: pass a folder laid out like --data (<class>/<image name>.png)")
    by_stem = {}
    for path in list_images(masks):
        stem = os.path.splitext(os.path.relpath(path, masks).replace(os.sep, "/"))[0]
        by_stem[stem] = path
    out = np.zeros((len(sources),) + tuple(size), np.float32)
    has_mask = np.zeros(len(sources), np.float32)
    for i, source in enumerate(sources):
        path = by_stem.get(os.path.splitext(source)[0])
        if path is None:
            continue
        mask = read_image(path, 1, convert=True)[..., 0]
        out[i] = cv2.resize(mask, (size[1], size[0]), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        has_mask[i] = 1.0
    if not has_mask.any():
        raise TfxaiError(
            f"none of the {len(by_stem)} mask files in {masks} matches an image of the data folder: "
            "name each mask <class>/<image name>.png like its image"
        )
    return out, has_mask


def _load_data(config):
    """uint8 images (N, H, W, C), int labels, class names, sources and (masks, has_mask) or None."""
    from tfxai.data import load_images, scan_image_folder

    if not config.data:
        raise TfxaiError("no training data given: pass --data FOLDER (one sub-folder of images per class)")
    folder = scan_image_folder(config.data)
    size = (int(config.image_size), int(config.image_size))
    images = load_images(folder.paths, size, config.channels, convert=True)
    sources = [os.path.relpath(path, config.data).replace(os.sep, "/") for path in folder.paths]
    masks = load_mask_folder(config.masks, sources, size) if config.masks else None
    return images, folder.labels, folder.class_names, sources, masks


def gain_dataset(images, labels, masks=None, batch_size=32, shuffle=False, seed=0, augment=False):
    """A ``tf.data`` pipeline for :class:`GAIN`: ``(images or {"images", "masks", "has_mask"}, labels)``.

    ``labels`` are class indices; with ``augment`` images and masks are
    flipped left-right together.
    """
    labels = np.asarray(labels)
    if masks is None:
        inputs = np.asarray(images, np.float32)
    else:
        inputs = {"images": np.asarray(images, np.float32), "masks": np.asarray(masks[0], np.float32), "has_mask": np.asarray(masks[1], np.float32)}
    data = tf.data.Dataset.from_tensor_slices((inputs, labels))
    if shuffle:
        data = data.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    if augment:
        data = data.map(_flip, num_parallel_calls=tf.data.AUTOTUNE)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _flip(inputs, labels):
    flip = tf.random.uniform(()) < 0.5

    def maybe(tensor):
        return tf.cond(flip, lambda: tf.reverse(tensor, [1]), lambda: tensor)

    if isinstance(inputs, dict):
        return {"images": maybe(inputs["images"]), "masks": maybe(inputs["masks"]), "has_mask": inputs["has_mask"]}, labels
    return maybe(inputs), labels


# === Training app back end ===


def build_gain(config, num_classes):
    """A new :class:`GAIN` around :func:`build_gain_classifier` as ``config`` says."""
    classifier = build_gain_classifier(
        config.backbone,
        (config.image_size, config.image_size, config.channels),
        num_classes=num_classes,
        hidden=tuple(config.hidden),
        frozen_convs=config.frozen_convs,
        weights=config.weights,
        dropout=config.dropout,
    )
    return GAIN(
        classifier,
        layer=config.layer_name(),
        sigma=config.sigma,
        omega=config.omega,
        alpha=config.alpha,
        ext_weight=config.ext_weight,
        binary_negatives=config.binary_negatives,
    )


def compile_gain(gain, learning_rate):
    """Adam and an ``accuracy`` metric fitting the output (binary or sparse categorical)."""
    if gain.num_outputs == 1:
        accuracy = keras.metrics.BinaryAccuracy(name="accuracy")
    else:
        accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    gain.compile(keras.optimizers.Adam(learning_rate), metrics=[accuracy])
    return gain


def load_gain(path):
    """Load a GAIN from a ``.keras`` file or a folder written by ``tfxai train gain``; returns (model, class_names)."""
    from tfxai.io import load_keras_model

    model, class_names, model_file = load_keras_model(path, "tfxai train gain")
    if not isinstance(model, GAIN):
        raise TfxaiError(f"{model_file} holds a {type(model).__name__}, not a GAIN: pass a model written by 'tfxai train gain'")
    return model, class_names


def _check_config(config):
    from tfxai.classifier import check_learning_rate

    check_learning_rate(config.learning_rate)
    if config.epochs < 1:
        raise TfxaiError(f"--epochs must be at least 1, got {config.epochs}")
    if config.batch_size < 1:
        raise TfxaiError(f"--batch-size must be at least 1, got {config.batch_size}")
    if not 0.0 <= config.validation_split < 1.0:
        raise TfxaiError(f"--validation-split must be in [0, 1), got {config.validation_split}")
    if any(int(width) < 1 for width in config.hidden):
        raise TfxaiError(f"--hidden needs positive layer widths like '512,256', got {list(config.hidden)}")
    if not 0.0 <= config.sigma <= 1.0:
        raise TfxaiError(f"--sigma is an attention value in [0, 1], got {config.sigma}")
    if config.channels not in (1, 3):
        raise TfxaiError(f"--channels must be 1 or 3, got {config.channels}")
    if config.binary_negatives not in BINARY_NEGATIVES:
        raise TfxaiError(f"--binary-negatives must be one of {BINARY_NEGATIVES}, got {config.binary_negatives!r}")
    get_backbone(config.backbone)


def train_gain(config, verbose="auto", log=print):
    """Train GAIN (GAIN_ext when ``config.masks`` is set) and write its folder; returns ``(gain, class_names, history)``.

    Writes ``model.keras``, ``class_names.json``, ``history.csv``,
    ``metrics.json``, ``attention/`` (overlays of validation images) and
    ``saved_model/`` (probabilities, class id and GAIN's attention map). With two
    classes the model has one sigmoid output and class index 1 (the second
    class folder, alphabetically) is the positive class. Raises
    :class:`TfxaiError` for bad data, options or a NaN loss; nothing is
    written unless training finishes.
    """
    from tfxai.classifier import fit_classifier, history_csv
    from tfxai.explain.report import explain_batch, write_report
    from tfxai.io import atomic_path, staged_directory, write_json, write_text

    _check_config(config)
    images, labels, class_names, sources, masks = _load_data(config)
    keras.utils.set_random_seed(config.seed)
    validation = split_stratified(labels, config.validation_split, config.seed)
    train_index, held_index = np.flatnonzero(~validation), np.flatnonzero(validation)
    if len(train_index) == 0:
        raise TfxaiError(f"no training images left after a {config.validation_split} validation split: lower --validation-split")
    gain = build_gain(config, len(class_names))
    compile_gain(gain, config.learning_rate)
    train_masks = None if masks is None else (masks[0][train_index], masks[1][train_index])
    if train_masks is not None:
        log(f"GAIN_ext: {int(train_masks[1].sum())} of {len(train_index)} training images have a mask (weight {config.ext_weight})")
    train_data = gain_dataset(images[train_index], labels[train_index], train_masks, config.batch_size, True, config.seed, config.augment)
    held_data = gain_dataset(images[held_index], labels[held_index], None, 64) if len(held_index) else None
    log(
        f"training GAIN/{config.backbone} ({gain.count_params():,} parameters, attention at {gain.layer}, "
        f"alpha {config.alpha}) on {len(train_index)} images of {len(class_names)} classes, {config.epochs} epochs"
    )
    with staged_directory(config.output, overwrite=config.overwrite) as staging:
        history = fit_classifier(gain, train_data, held_data, config.epochs, verbose=verbose)
        with atomic_path(os.path.join(staging, "model.keras")) as tmp:
            gain.save(tmp)
        write_json(os.path.join(staging, "class_names.json"), list(class_names))
        write_text(os.path.join(staging, "history.csv"), history_csv(history.history))
        final = {key: float(values[-1]) for key, values in history.history.items()}
        settings = {key: (list(value) if isinstance(value, tuple) else value) for key, value in dataclasses.asdict(config).items()}
        write_json(os.path.join(staging, "metrics.json"), {"config": settings, "final": final, "train_images": int(len(train_index))})
        picks = (held_index if len(held_index) else train_index)[:64]

        def explain(batch):
            probabilities, attention = gain.predict_with_attention(batch)
            return attention, probabilities

        explanations = explain_batch(explain, images[picks], [sources[i] for i in picks], labels[picks])
        write_report(explanations, class_names, os.path.join(staging, "attention"), "tfxai GAIN attention maps")
        if config.export:
            export_gain(gain, os.path.join(staging, "saved_model"))
    return gain, class_names, history
