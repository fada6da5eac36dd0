"""A reusable base for attention models trained with several weighted losses.

:class:`AttentionModel` holds the training loop of tfxai's attention methods
once, in the standard keras-io shape, so ``model.fit``, callbacks, mixed
precision and ``tf.distribute`` work unchanged. A method is a subclass that

1. declares its loss terms in ``__init__`` with :meth:`AttentionModel.add_loss_term`
   (name, weight, reduction, which update minimises it, the step it starts at);
2. implements one hook, :meth:`AttentionModel.loss_terms`, returning one value
   *per sample* for each term of a given update, plus the class probabilities;
3. optionally lists several ``updates`` (gradient updates per training step,
   each with its own optimizer), e.g. ABN + COT's alternating
   "minimise L_att + L_per + L_PC + L_am, then minimise the complement loss".

How a step works (for each update, in order)::

    with tf.GradientTape() as tape:
        terms, probabilities = self.loss_terms(x, y, update, training=True)
        loss = sum_t weight_t * gate_t * reduce_t(terms[t])   # over the GLOBAL batch
    optimizer(update).apply_gradients(...)

``reduce_t`` is :func:`tf.nn.compute_average_loss` (``"mean"``) or that times
the global batch size (``"sum"``, for papers that sum over samples), so the
gradients that replicas sum are those of the global batch. Loss weights and
other hyperparameters that may change during training (thresholds, schedules)
are ``tf.Variable``\\ s made with :meth:`add_hyperparameter`: assign to them
from a callback and the traced step sees the new value; their current values
are written back into ``get_config``. ``gate_t`` is 1 from the term's
``start_step`` on (``self.optimizer.iterations``), 0 before: a pre-training
phase without a second ``fit``.

Metrics: one ``keras.metrics.Mean`` per term (``<name>_loss``, the per-sample
mean), ``loss`` (the first update's weighted objective) and the metrics given
to ``compile``, updated with the probabilities of the first update.

A method also implements :meth:`AttentionModel.explain` (the explainer
protocol of :mod:`tfxai.explain.protocol`) and names its app in ``app``. Inputs
are images, or the map-supervision dict ``{"images", "attention_maps",
"has_attention_map"}`` whose loss is :func:`map_loss` for every method.
"""

import dataclasses

import keras
import tensorflow as tf

from tfxai.errors import TfxaiError

__all__ = ["AttentionModel", "LossTerm", "MAP_KEYS", "map_loss", "unpack_inputs"]

MAIN = "main"


@dataclasses.dataclass(frozen=True)
class LossTerm:
    """How one named loss term enters training."""

    name: str
    update: str = MAIN
    reduction: str = "mean"
    start_step: int = 0


#: Keys of the map-supervision input dict besides ``images``: target maps (batch, H, W[, 1]) in [0, 1]
#: and a 0/1 flag per sample (samples with flag 0 add nothing to the map loss).
MAP_KEYS = ("attention_maps", "has_attention_map")


def unpack_inputs(x):
    """``x`` is images or the dict ``{"images", "attention_maps", "has_attention_map"}``; return (images, extras)."""
    if isinstance(x, dict):
        if "images" not in x:
            raise TfxaiError(f"input dict has keys {sorted(x)} but no 'images': pass images or a dict with an 'images' entry")
        unknown = sorted(set(x) - {"images", *MAP_KEYS})
        if unknown:
            raise TfxaiError(f"input dict has unknown key(s) {unknown}: use 'images', 'attention_maps' and 'has_attention_map'")
        return x["images"], {key: value for key, value in x.items() if key != "images"}
    return x, {}


def map_loss(extras, maps):
    """Per-sample map-supervision loss (batch,): L2 between ``extras["attention_maps"]`` and the model's ``maps``.

    One loss for every method (:func:`tfxai.attention.losses.attention_map_loss`:
    the target maps are resized to ``maps`` by area averaging); zeros when
    the batch carries no maps, and 0 for samples whose ``has_attention_map`` is 0.
    """
    from tfxai.attention.losses import attention_map_loss

    if "attention_maps" not in extras:
        return tf.zeros(tf.shape(maps)[:1], tf.float32)
    return attention_map_loss(extras["attention_maps"], maps, extras.get("has_attention_map"), reduction="none")


class AttentionModel(keras.Model):
    """Base class: several weighted, per-sample losses and one or more updates per training step.

    Subclasses call :meth:`add_loss_term` in ``__init__`` and implement
    :meth:`loss_terms`. ``compile(optimizer, metrics=..., update_optimizers=...)``
    takes the optimizer of the first update; the other updates get
    ``update_optimizers[name]`` or a fresh copy of ``optimizer``'s configuration.
    """

    #: Names of the gradient updates made in each training step, in order.
    updates = (MAIN,)
    #: The app that trains this kind of model (named in loader errors).
    app = "tfxai train"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._terms = {}
        self._hyperparameters = {}
        self._trackers = {"loss": keras.metrics.Mean(name="loss")}
        self.update_optimizers = {}

    # === Declaring losses and hyperparameters ===

    def add_hyperparameter(self, name, value):
        """A float ``tf.Variable`` (not a model weight) that traced steps read; returns it."""
        with tf.init_scope():
            variable = tf.Variable(float(value), trainable=False, dtype=tf.float32, name=name)
        self._hyperparameters[name] = variable
        return variable

    def hyperparameter(self, name):
        """The ``tf.Variable`` registered under ``name``."""
        return self._hyperparameters[name]

    def hyperparameter_values(self):
        """Current values of all hyperparameters, as Python floats (for ``get_config``)."""
        return {name: float(variable.numpy()) for name, variable in self._hyperparameters.items()}

    def add_loss_term(self, name, weight=1.0, update=MAIN, reduction="mean", start_step=0):
        """Declare loss term ``name``; its weight becomes hyperparameter ``<name>_weight``."""
        if update not in self.updates:
            raise TfxaiError(f"loss term {name!r} names update {update!r}, but this model has updates {list(self.updates)}")
        if reduction not in ("mean", "sum"):
            raise TfxaiError(f"reduction of loss term {name!r} must be 'mean' or 'sum', got {reduction!r}")
        self._terms[name] = LossTerm(name, update, reduction, int(start_step))
        self.add_hyperparameter(f"{name}_weight", weight)
        self._trackers[name] = keras.metrics.Mean(name=f"{name}_loss")

    @property
    def loss_term_names(self):
        """Names of the declared loss terms, in declaration order."""
        return list(self._terms)

    def terms_of(self, update):
        """The :class:`LossTerm`\\ s minimised by ``update``."""
        return [term for term in self._terms.values() if term.update == update]

    # === The hook ===

    def loss_terms(self, x, y, update=MAIN, training=False):
        """Per-sample values of the terms of ``update`` and the class probabilities.

        Returns
        -------
        terms : dict of str -> float tensor (batch,)
            One entry per term of ``update`` (see :meth:`terms_of`).
        probabilities : float tensor (batch, K)
            The model's class probabilities in this pass (for compiled metrics).
        """
        raise NotImplementedError

    # === The explainer protocol ===

    def explain(self, images):
        """``(maps (batch, H, W) float32 in [0, 1] at the input's resolution, probabilities (batch, K))``.

        Every attention model implements it with its own attention (see
        :mod:`tfxai.explain.protocol`); it must trace inside ``tf.function``
        (it is the SavedModel's heatmap).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement explain(images) -> (maps, probabilities)")

    # === Config ===

    def get_config(self):
        """Keras' config merged with the current values of the hyperparameters (``sigma``, ``omega``, ``<term>_weight``).

        Subclasses add their structural arguments; hyperparameters are
        constructor arguments of the same name, so their trained or scheduled
        values are what a reloaded model starts from.
        """
        config = super().get_config()
        config.update(self.hyperparameter_values())
        return config

    # === Compiling ===

    def compile(self, optimizer="adam", metrics=None, update_optimizers=None, **kwargs):
        """Compile with the optimizer of the first update; others from ``update_optimizers`` or copies.

        ``loss`` is not accepted: the model defines its own losses.
        """
        if kwargs.get("loss") is not None:
            raise TfxaiError(f"{type(self).__name__} computes its own losses: compile it without loss= (set the loss weights in the constructor)")
        kwargs.pop("loss", None)
        super().compile(optimizer=optimizer, metrics=metrics, **kwargs)
        given = dict(update_optimizers or {})
        unknown = sorted(set(given) - set(self.updates[1:]))
        if unknown:
            raise TfxaiError(f"update_optimizers names {unknown}, but this model's extra updates are {list(self.updates[1:])}")
        self.update_optimizers = {}
        for update in self.updates[1:]:
            extra = given.get(update)
            if extra is None:
                extra = self.optimizer.__class__.from_config(self.optimizer.get_config())
            else:
                extra = keras.optimizers.get(extra)
            self.update_optimizers[update] = extra
            if self.built:
                extra.build(self.trainable_variables)

    def optimizer_for(self, update):
        """The optimizer that applies ``update``."""
        return self.optimizer if update == self.updates[0] else self.update_optimizers[update]

    def get_compile_config(self):
        config = super().get_compile_config()
        if config and self.update_optimizers:
            config["update_optimizers"] = {
                name: keras.saving.serialize_keras_object(optimizer) for name, optimizer in self.update_optimizers.items()
            }
        return config

    def compile_from_config(self, config):
        config = dict(config)
        extra = config.pop("update_optimizers", None) or {}
        config = keras.saving.deserialize_keras_object(config)
        extra = {name: keras.saving.deserialize_keras_object(value) for name, value in extra.items()}
        self.compile(update_optimizers=extra, **config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    # === Metrics ===

    @property
    def metrics(self):
        own = list(self._trackers.values())
        others = [m for m in super().metrics if m.name != "loss" and not any(m is t for t in own)]
        return own + others

    # === The training loop (once for every method) ===

    def _gate(self, term):
        if term.start_step <= 0 or self.optimizer is None:
            return 1.0
        return tf.cast(self.optimizer.iterations >= term.start_step, tf.float32)

    def _objective(self, terms, update, sample_weight):
        """Weighted sum of the reduced terms of ``update``, scaled for the global batch."""
        total = tf.constant(0.0, tf.float32)
        for term in self.terms_of(update):
            if term.name not in terms:
                raise TfxaiError(f"{type(self).__name__}.loss_terms did not return loss term {term.name!r} for update {update!r}")
            values = tf.cast(terms[term.name], tf.float32)
            reduced = tf.nn.compute_average_loss(values, sample_weight=sample_weight)
            if term.reduction == "sum":
                reduced = reduced * _global_batch_size(values)
            weight = self._hyperparameters[f"{term.name}_weight"] * self._gate(term)
            total = total + weight * reduced
        return total

    def _track(self, terms, objective, sample_weight, update):
        for name, values in terms.items():
            self._trackers[name].update_state(values, sample_weight=sample_weight)
        if update == self.updates[0]:
            replicas = tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, tf.float32)
            self._trackers["loss"].update_state(objective * replicas)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        first_probabilities = None
        for update in self.updates:
            optimizer = self.optimizer_for(update)
            with tf.GradientTape() as tape:
                terms, probabilities = self.loss_terms(x, y, update=update, training=True)
                objective = self._objective(terms, update, sample_weight)
                loss = objective
                if update == self.updates[0] and self.losses:
                    loss = loss + tf.nn.scale_regularization_loss(tf.add_n(self.losses))
                loss = optimizer.scale_loss(loss)
            variables = self.trainable_variables
            gradients = tape.gradient(loss, variables)
            pairs = [(g, v) for g, v in zip(gradients, variables) if g is not None]
            if pairs:
                optimizer.apply_gradients(pairs)
            self._track(terms, objective, sample_weight, update)
            if first_probabilities is None:
                first_probabilities = probabilities
        return self.compute_metrics(x, y, first_probabilities, sample_weight=sample_weight)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        first_probabilities = None
        for update in self.updates:
            terms, probabilities = self.loss_terms(x, y, update=update, training=False)
            self._track(terms, self._objective(terms, update, sample_weight), sample_weight, update)
            if first_probabilities is None:
                first_probabilities = probabilities
        return self.compute_metrics(x, y, first_probabilities, sample_weight=sample_weight)

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self(x, training=False)


def _global_batch_size(values):
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return tf.cast(tf.shape(values)[0] * replicas, tf.float32)
