"""GAIN: Guided Attention Inference Network, self-guided and with map supervision (GAIN_ext).

Li, Wu, Peng, Ernst and Fu, "Tell Me Where to Look: Guided Attention Inference
Network", CVPR 2018. Applied to camouflaged animals (green anoles among plants,
VGG16) by Tomono et al. This module is the model; the training run (config,
presets, masks, ``train_gain``) is :mod:`tfxai.attention.gain_training`.

One batch goes through three streams that share the classifier's weights:

- S_cl: the classifier on the image I; loss term ``classification`` (L_cl,
  binary or categorical cross-entropy on the logits);
- attention: Grad-CAM of the target class at a feature layer,
  ``A = ReLU(sum_k GAP(ds/df_k) f_k)``, upsampled to the image and min-max
  normalised to [0, 1] (tfxai's own in-graph Grad-CAM, so second-order
  gradients flow into the weights);
- S_am: the classifier on ``I* = I - T(A) * I`` with the shared soft mask
  ``T(A) = sigmoid(omega (A - sigma))``; loss term ``mining`` (L_am) = mean
  target-class probability on I* (erasing what the attention covers must
  erase the evidence);
- S_e (GAIN_ext, optional): loss term ``map`` (L_e), the shared map loss
  :func:`tfxai.attention.base.map_loss` for the samples that come with a
  pixel-level map; samples without one add nothing.

``L = classification_weight L_cl + mining_weight L_am + map_weight L_e`` (+ the
classifier's regularisation losses). All of it runs in one traced
``train_step`` under one GradientTape.

**Target-class score of a single sigmoid output** (binary models). The class
of a sample is 1 when its label is > 0.5, else 0. Grad-CAM explains the logit
``z`` for class 1 and ``-z`` for class 0 (:func:`tfxai.explain.targets.binary_sign`),
and L_am uses the matching probability: ``sigmoid(z)`` for positives, its
complement ``1 - sigmoid(z) = sigmoid(-z)`` for negatives. With
``binary_negatives="ignore"`` negatives are left out of L_am (for tasks where
the negative class has no object to find, such as "no lizard in the plants").
"""

import keras
import tensorflow as tf

from tfxai.attention.base import MAIN, AttentionModel, map_loss, unpack_inputs
from tfxai.attention.masking import mask_out
from tfxai.classify.backbones import classifier_base
from tfxai.errors import TfxaiError
from tfxai.explain import targets as targets_lib
from tfxai.explain.cam import GradCAM
from tfxai.explain.layers import output_activation

__all__ = ["GAIN", "BINARY_NEGATIVES", "build_gain_classifier", "target_probabilities"]

BINARY_NEGATIVES = ("complement", "ignore")


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
        return tf.sigmoid(logits[:, 0] * targets_lib.binary_sign(class_ids))
    return tf.gather(tf.nn.softmax(logits), class_ids, axis=-1, batch_dims=1)


# === The model ===


@keras.saving.register_keras_serializable(package="tfxai")
class GAIN(AttentionModel):
    """Guided Attention Inference Network around any Keras classifier.

    Li et al., "Tell Me Where to Look: Guided Attention Inference Network",
    CVPR 2018. See the module docstring for the streams and losses. The
    training loop is :class:`tfxai.attention.base.AttentionModel`'s (shared
    with ABN): GAIN declares three loss terms ``classification``, ``mining``
    and ``map`` and implements :meth:`loss_terms`.

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
        Threshold and sharpness of the soft mask ``T(A) = sigmoid(omega (A - sigma))``;
        ``tf.Variable`` hyperparameters a callback may schedule.
    classification_weight, mining_weight, map_weight : float
        Weights of L_cl, L_am and L_e (the paper's alpha and omega of
        GAIN_ext); ``tf.Variable`` hyperparameters (``hyperparameter("mining_weight")``).
    binary_negatives : {"complement", "ignore"}
        For a single sigmoid output: negatives contribute ``1 - p`` of their
        masked image to L_am (``"complement"``), or 0 (``"ignore"``).

    Data
    ----
    ``fit`` takes ``(x, y)`` or ``(x, y, sample_weight)``. ``x`` is a batch of
    images, or for GAIN_ext the map-supervision dict ``{"images": (B, H, W, C),
    "attention_maps": (B, H, W) or (B, H, W, 1) in [0, 1], "has_attention_map":
    (B,) 0/1}`` (``has_attention_map`` defaults to all ones; maps of another
    size are resized by area averaging). ``y`` holds 0/1 labels (sigmoid),
    class indices or one-hot rows (softmax). Every term is averaged over the
    global batch, so a sample without a map counts as 0 in L_e (raise
    ``map_weight`` when maps are rare).

    Metrics: ``loss``, ``classification_loss``, ``mining_loss``, ``map_loss``
    (per-sample means) and whatever is passed to ``compile(metrics=...)``,
    updated with the probabilities on I.
    """

    app = "tfxai train gain"

    def __init__(
        self,
        classifier,
        layer=None,
        sigma=0.5,
        omega=10.0,
        classification_weight=1.0,
        mining_weight=1.0,
        map_weight=1.0,
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
        if min(classification_weight, mining_weight, map_weight) < 0:
            raise TfxaiError(
                f"loss weights must be >= 0, got classification_weight={classification_weight}, "
                f"mining_weight={mining_weight}, map_weight={map_weight}"
            )

        # === Classifier and attention ===
        self.classifier = classifier
        self._cam = GradCAM(classifier, layer, logits=True, relu=True, upsample=True, normalize=True)
        self.layer = self._cam.layer.name
        self.num_outputs = int(self._cam.view.outputs[1].shape[-1])
        self._squash = _output_squash(classifier, self.num_outputs)
        self._explain_fn = None

        # === Hyperparameters (tf.Variables: assign from callbacks to schedule them) and loss terms ===
        self.sigma = self.add_hyperparameter("sigma", sigma)
        self.omega = self.add_hyperparameter("omega", omega)
        self.binary_negatives = binary_negatives
        self.add_loss_term("classification", classification_weight)
        self.add_loss_term("mining", mining_weight)
        self.add_loss_term("map", map_weight)
        self.built = True

    @property
    def image_shape(self):
        """(H, W, C) of the images the classifier takes."""
        return tuple(self._cam.view.inputs[0].shape[1:])

    # === Forward ===

    def call(self, inputs, training=None):
        """The classifier's probabilities for the images (``inputs`` may be the map-supervision dict)."""
        return tf.cast(self.classifier(unpack_inputs(inputs)[0], training=training), tf.float32)  # float32 under mixed precision too

    def explain_classes(self, images, class_ids=None, training=False):
        """In-graph ``(attention (B, H, W) in [0, 1], probabilities)`` for ``class_ids`` (None: predicted)."""
        images = tf.cast(images, tf.float32)
        if class_ids is None:
            class_ids = tf.fill(tf.shape(images)[:1], targets_lib.PREDICTED)
        class_ids = tf.cast(class_ids, tf.int32)
        attention, logits = self._cam.heatmaps_and_scores(images, targets_lib.ClassScore(class_ids), class_ids, training)
        return attention, self._squash(tf.cast(logits, tf.float32))

    def explain(self, images, targets=None):
        """``(attention (B, H, W), probabilities)``: Grad-CAM of ``targets`` (None: the predicted class).

        The explainer protocol; traced once per input shape when called
        eagerly, plain in-graph inside a ``tf.function`` (the SavedModel's
        heatmap). ``targets`` is None, an int or one class per image.
        """
        images = tf.cast(images, tf.float32)
        if not tf.executing_eagerly():
            return self.explain_classes(images, None if targets is None else tf.cast(targets, tf.int32))
        class_ids = targets_lib.resolve_class_ids(targets, int(images.shape[0]), self.num_outputs)
        if self._explain_fn is None:
            signature = [tf.TensorSpec((None,) + self.image_shape, tf.float32), tf.TensorSpec((None,), tf.int32)]
            self._explain_fn = tf.function(self.explain_classes, input_signature=signature)
        return self._explain_fn(images, class_ids)

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
        attention = tf.cast(attention, tf.float32)  # the map loss in float32 under mixed precision too
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
        return targets_lib.class_ids_from_labels(labels, self.num_outputs)

    def sample_losses(self, streams, labels, class_ids, extras=None):
        """Per-sample ``{"classification", "mining", "map"}`` (batch,) before weighting and averaging.

        ``extras`` holds ``attention_maps`` / ``has_attention_map`` of the map-supervision dict.
        """
        logits = streams["logits"]
        if self.num_outputs == 1:
            binary = tf.reshape(tf.cast(labels, tf.float32), [-1])
            classification = tf.nn.sigmoid_cross_entropy_with_logits(labels=binary, logits=logits[:, 0])
        else:
            labels = tf.convert_to_tensor(labels)
            if len(labels.shape) >= 2 and labels.shape[-1] == self.num_outputs:
                onehot = tf.cast(labels, tf.float32)
            else:
                onehot = tf.one_hot(class_ids, self.num_outputs)
            classification = tf.nn.softmax_cross_entropy_with_logits(labels=onehot, logits=logits)
        mining = target_probabilities(streams["masked_logits"], class_ids)
        if self.num_outputs == 1 and self.binary_negatives == "ignore":
            mining = mining * tf.cast(class_ids, tf.float32)
        return {"classification": classification, "mining": mining, "map": map_loss(extras or {}, streams["attention"])}

    def loss_terms(self, x, y, update=MAIN, training=False):
        images, extras = unpack_inputs(x)
        class_ids = self.class_ids(y)
        streams = self.compute_streams(images, class_ids, training)
        return self.sample_losses(streams, y, class_ids, extras), self._squash(streams["logits"])

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "classifier": keras.saving.serialize_keras_object(self.classifier),
                "layer": self.layer,
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
    activation = output_activation(classifier) or ""
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
    hidden=(256,),
    frozen_convs=7,
    weights="imagenet",
    dropout=0.0,
    name=None,
):
    """The classifier of the GAIN preset: preprocessing -> backbone -> GAP -> Dense(ReLU) x n -> output.

    Tomono et al.'s configuration (Li et al., CVPR 2018, applied to
    camouflaged lizards): VGG16 with the first 7 convolutions frozen, global
    average pooling (512 features: the paper's "input layer of 512 units"),
    a dense layer of 256 and one sigmoid unit, 224x224 RGB.

    Parameters
    ----------
    backbone : str
        A key of :data:`tfxai.classify.backbones.BACKBONES`.
    num_classes : int
        2 gives one sigmoid unit; more gives a softmax layer.
    hidden : tuple of int
        Widths of the ReLU dense layers after pooling.
    frozen_convs : int
        How many of the backbone's first convolution layers are frozen.
    weights : {"imagenet", None, "none"} or str
        Backbone weights (see :func:`tfxai.classify.backbones.build_backbone`).
    """
    spec, inputs, x, base = classifier_base(backbone, num_classes, input_shape, weights)
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
        outputs = keras.layers.Dense(1, activation="sigmoid", name="predictions", dtype="float32")(x)  # float32 under mixed precision too
    else:
        outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions", dtype="float32")(x)  # float32 under mixed precision too
    return keras.Model(inputs, outputs, name=name or f"{spec.name}_gain_classifier")
