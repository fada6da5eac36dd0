"""Window classifiers for multichannel signals: the 1D self-attention network and its CNN baseline.

Both take a batch of windows ``(batch, window_length, channels)`` (raw or
preprocessed by :class:`~tfxai.signal.WindowPreprocessor`) and output class
probabilities. Recordings of any length are classified by sliding the window
and voting (:func:`~tfxai.signal.classify_recording`).
"""

import inspect

import keras
from keras import ops

from tfxai.errors import TfxaiError
from tfxai.signal.layers import SelfAttention1D

HEAD_LAYERS = ("head_norm", "head_relu", "pool", "dropout", "classifier")
MODEL_ARGUMENTS = {"name", "trainable", "dtype"}  # the standard model arguments a window classifier passes on


class WindowClassifier(keras.Model):
    """The shared part of the window classifiers: the window input, the softmax head and the config.

    A subclass overrides one hook, :meth:`build_body`, which maps the window
    input to features; its own arguments are the keyword arguments of that
    hook (with their defaults), kept as attributes and in ``get_config`` after
    the shared ones.

    Parameters
    ----------
    num_classes : int
        Number of classes.
    window_length : int or None
        Time steps per input window.
    channels : int
        Signal channels per time step.
    filters : int
        Width of the body's layers.
    dropout : float
        Dropout rate before the classifier.
    **kwargs
        The subclass's own arguments (see its :meth:`build_body`), then
        standard model arguments (``name``, ...).
    """

    def __init__(self, num_classes, window_length=64, channels=6, filters=32, dropout=0.0, **kwargs):
        defaults = self._own_defaults()
        own = {key: _as_config_value(kwargs.pop(key, default)) for key, default in defaults.items()}
        unknown = sorted(set(kwargs) - MODEL_ARGUMENTS)
        if unknown:
            raise TfxaiError(f"{type(self).__name__} got unknown argument(s) {', '.join(unknown)}: "
                             f"use num_classes, window_length, channels, filters, dropout, {', '.join(defaults)} or name")
        _check_positive(num_classes=num_classes, channels=channels, filters=filters)
        # === Functional model === (build_body only creates layers: nothing may be set on self yet)
        inputs = keras.Input((window_length, channels), name="windows")
        features = self.build_body(inputs, filters, **own)
        super().__init__(inputs=inputs, outputs=classifier_head(features, num_classes, dropout), **kwargs)
        # === Config ===
        keep_config(self, num_classes=num_classes, window_length=window_length, channels=channels, filters=filters,
                    **own, dropout=dropout)

    def build_body(self, inputs, filters, **options):
        """The model between the window input and the head: ``inputs -> features`` (rank 2)."""
        raise NotImplementedError(f"{type(self).__name__} must define build_body(inputs, filters, ...)")

    @classmethod
    def _own_defaults(cls):
        parameters = inspect.signature(cls.build_body).parameters.values()
        return {p.name: p.default for p in parameters if p.kind is p.KEYWORD_ONLY}

    def get_config(self):
        return window_classifier_config(self)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="tfxai")
class SAN1D(WindowClassifier):
    """1D self-attention network (1D-SAN): a stem, three 1D-SABs and a classifier head.

    The pairwise self-attention of Zhao et al. ("Exploring Self-attention for
    Image Recognition", CVPR 2020) in one dimension, as adapted for
    nerve-signal action recognition in the thesis this reproduces: neighbour
    spacing 3 in the first block and 5 in the second and third.

    Layout: pointwise ``Conv1D(filters)`` stem -> ``SelfAttention1D`` x
    ``len(spacings)`` -> BatchNorm, ReLU -> global average pooling ->
    dropout -> ``Dense(num_classes, softmax)``.

    Parameters
    ----------
    num_classes, window_length, channels, filters, dropout
        As in :class:`WindowClassifier` (``window_length=None``: any length,
        the head pools over time; ``filters``: width of the stem and of every block).
    spacings : sequence of int
        Neighbour spacing of each block, in order (one block per entry).
    footprint : int
        Footprint positions per block (odd; the step itself included).
    relation_channels : int or None
        ``phi``/``psi`` channels in each block (default ``filters // 4``).
    padding, normalization : str
        Passed to every :class:`SelfAttention1D`.
    **kwargs
        Standard model arguments (``name``, ...).
    """

    def build_body(self, inputs, filters, *, spacings=(3, 5, 5), footprint=5, relation_channels=None,
                   padding="zeros", normalization="none"):
        x = keras.layers.Conv1D(filters, 1, name="stem")(inputs)
        for index, spacing in enumerate(spacings):
            x = SelfAttention1D(footprint=footprint, spacing=spacing, relation_channels=relation_channels,
                                padding=padding, normalization=normalization, name=f"sab{index + 1}")(x)
        x = keras.layers.BatchNormalization(name="head_norm")(x)
        x = keras.layers.ReLU(name="head_relu")(x)
        return keras.layers.GlobalAveragePooling1D(name="pool")(x)

    @property
    def attention_blocks(self):
        """The model's :class:`SelfAttention1D` layers, input side first."""
        return [layer for layer in self.layers if isinstance(layer, SelfAttention1D)]

    def call_with_attention(self, windows, training=False):
        """Run the model and collect its attention: ``{"probabilities", "attention"}``.

        ``attention`` has shape ``(batch, blocks, T, footprint)``: each block's
        weights ``gamma(delta)`` averaged over the value channels. (A plain call
        runs the blocks without collecting weights, which is faster.) Works
        eagerly and inside ``tf.function``.
        """
        x = self.get_layer("stem")(windows)
        maps = []
        for block in self.attention_blocks:
            x, weights = block(x, training=training, return_attention=True)
            maps.append(ops.mean(weights, axis=-1))
        for name in HEAD_LAYERS:
            layer = self.get_layer(name)
            x = layer(x, training=training) if name in ("head_norm", "dropout") else layer(x)
        return {"probabilities": x, "attention": ops.stack(maps, axis=1)}

    def explain(self, windows, block=0):
        """The explainer protocol for signals: ``(maps (batch, T, footprint) in [0, 1], probabilities (batch, K))``.

        A 1D-SAN's attention is not a map over the input but, at every time
        step, a weight per footprint position (the step and its neighbours at
        ``offsets`` of the block): ``maps[b, t, j]`` is block ``block``'s weight
        ``gamma(delta)`` of neighbour ``j`` for step ``t``, averaged over the
        value channels and min-max normalised per window (as CAM maps are).
        ``T`` is the input's length (the blocks keep it).
        """
        from tfxai.explain.cam import normalize

        outputs = self.call_with_attention(ops.convert_to_tensor(windows, "float32"))
        return normalize(outputs["attention"][:, block]), outputs["probabilities"]


@keras.saving.register_keras_serializable(package="tfxai")
class CNN1D(WindowClassifier):
    """The 1D-CNN baseline of the 1D-SAN thesis: two convolution layers and an output layer.

    Baseline against the 1D self-attention network (Zhao et al., CVPR 2020,
    adapted to 1-D). Layout: ``Conv1D(filters, kernel_size, relu)`` -> max pool
    -> ``Conv1D(filters, kernel_size, relu)`` -> max pool -> flatten -> dropout
    -> ``Dense(num_classes, softmax)``.

    Parameters
    ----------
    num_classes, window_length, channels, filters, dropout
        As in :class:`WindowClassifier` (``window_length`` is fixed: the output
        layer sees the flattened map; ``filters``: filters of each convolution).
    kernel_size : int
        Width of each convolution.
    pool_size : int
        Max-pooling size after each convolution (1 = no pooling).
    **kwargs
        Standard model arguments.
    """

    def build_body(self, inputs, filters, *, kernel_size=5, pool_size=2):
        _check_positive(window_length=inputs.shape[1])
        x = inputs
        for index in (1, 2):
            x = keras.layers.Conv1D(filters, kernel_size, padding="same", activation="relu", name=f"conv{index}")(x)
            if pool_size > 1:
                x = keras.layers.MaxPooling1D(pool_size, padding="same", name=f"pool{index}")(x)
        return keras.layers.Flatten(name="flatten")(x)


MODELS = {"san1d": SAN1D, "cnn1d": CNN1D}


def build_model(name, num_classes, window_length, channels, **options):
    """Build a window classifier by name (``"san1d"`` or ``"cnn1d"``)."""
    key = str(name).lower()
    if key not in MODELS:
        raise TfxaiError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    return MODELS[key](num_classes=num_classes, window_length=window_length, channels=channels, **options)


def classifier_head(features, num_classes, dropout):
    """The window classifiers' head: dropout, then a float32 softmax layer (float32 under mixed precision too)."""
    x = keras.layers.Dropout(dropout, name="dropout")(features)
    return keras.layers.Dense(num_classes, activation="softmax", name="classifier", dtype="float32")(x)


def keep_config(model, **config):
    """Keep each constructor argument of a window classifier as an attribute (one per argument), and their names for ``get_config``."""
    for key, value in config.items():
        setattr(model, key, value)
    model._config_keys = tuple(config)


def window_classifier_config(model):
    """``get_config`` of a window classifier: its name, trainability and the arguments :func:`keep_config` kept (tuples as lists)."""
    values = {key: getattr(model, key) for key in model._config_keys}
    return {"name": model.name, "trainable": model.trainable, **{key: list(v) if isinstance(v, tuple) else v for key, v in values.items()}}


def _as_config_value(value):
    """A sequence argument as a tuple of ints (``from_config`` gives lists; numpy ints would not serialise)."""
    is_sequence = hasattr(value, "__len__") and not isinstance(value, str)
    return tuple(int(v) for v in value) if is_sequence else value


def _check_positive(**values):
    for key, value in values.items():
        if value is None or int(value) < 1:
            raise TfxaiError(f"{key} must be a positive integer, got {value!r}")
