"""Finding the feature-map layer and building a read-only view of a model.

The view is a new functional model ``inputs -> (features, scores)`` that shares
the user's layers (and so their weights) without changing them: nested models
(a MobileNetV2 inside a transfer model) are re-wired with
``keras.models.clone_model(..., call_function=...)`` so the inner feature map
becomes reachable from the outer inputs.
"""

import keras

from tfxai.errors import TfxaiError

SPATIAL_RANKS = (4, 5)  # (batch, H, W, C) images and (batch, T, H, W, C) videos

# Layers that make a feature map; the default layer is the last 4-D/5-D output at or after the first of them,
# so inputs, rescaling and augmentation layers (4-D, but no features) are never picked.
FEATURE_MAKERS = (
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.MaxPooling3D,
    keras.layers.AveragePooling3D,
)


def _output_rank(layer):
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return None
    return len(shape)


def _safe_inputs(model):
    try:
        return model.inputs
    except (AttributeError, ValueError):
        return None


def _walk(model, path=()):
    """Yield (path, layer) for every layer, depth-first, nested models included."""
    for layer in model.layers:
        yield path, layer
        if isinstance(layer, keras.Model):
            yield from _walk(layer, path + (layer,))


def find_layer(model, layer=None):
    """Return ``(path, layer)`` where ``path`` lists the nested models containing it.

    Parameters
    ----------
    model : keras.Model
        A functional or Sequential model.
    layer : str, keras.layers.Layer or None
        A layer name, a layer object, or None for the last layer with a 4-D
        (image) or 5-D (video) output, searched inside nested models too.
    """
    if not _safe_inputs(model):
        raise TfxaiError(
            f"model {model.name!r} has no symbolic inputs (a subclassed or unbuilt model): "
            "build it as a functional or Sequential model, or call the CAM core on your own feature maps"
        )
    layers = list(_walk(model))
    if layer is None:
        first = next((i for i, (_, c) in enumerate(layers) if isinstance(c, FEATURE_MAKERS)), len(layers))
        for path, candidate in reversed(layers[first:]):
            if _output_rank(candidate) in SPATIAL_RANKS and not isinstance(candidate, keras.Model):
                return path, candidate
        raise TfxaiError(
            f"model {model.name!r} has no convolutional feature map (no layer with a 4-D or 5-D output): "
            "CAM methods need one; pass a model with convolutional layers"
        )
    for path, candidate in layers:
        if candidate is layer or candidate.name == layer:
            if _output_rank(candidate) not in SPATIAL_RANKS:
                raise TfxaiError(
                    f"layer {candidate.name!r} has output shape {tuple(candidate.output.shape)}, not a "
                    "feature map: choose a convolutional layer (4-D or 5-D output)"
                )
            return path, candidate
    name = getattr(layer, "name", layer)
    spatial = [c.name for _, c in layers if _output_rank(c) in SPATIAL_RANKS][-5:]
    raise TfxaiError(f"layer {name!r} not found in model {model.name!r}: choose one of its feature-map layers, e.g. {spatial}")


class _PreActivation(keras.layers.Layer):
    """Calls a Dense layer's affine part without its activation (shares its weights)."""

    def __init__(self, dense, **kwargs):
        super().__init__(**kwargs)
        self.dense = dense

    def call(self, inputs):
        outputs = keras.ops.matmul(inputs, self.dense.kernel)
        if self.dense.use_bias:
            outputs = outputs + self.dense.bias
        return outputs


# === Where the class scores are: one answer for CAM, saliency, GAIN and synthesis ===

SQUASHES = ("softmax", "sigmoid")


def _output_layer(model):
    """The layer producing the model's (first) output; a nested model when that is what produces it."""
    output = model.outputs[0]
    for layer in reversed(model.layers):
        try:
            if layer.output is output:
                return layer
        except (AttributeError, ValueError):
            continue
    return model.layers[-1]


def _squash_of(layer):
    """``"softmax"``/``"sigmoid"`` when ``layer``'s output is squashed in a way a view can strip, else None."""
    if isinstance(layer, keras.Model):
        return output_activation(layer)
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    if isinstance(layer, (keras.layers.Activation, keras.layers.Dense)):
        name = getattr(layer.activation, "__name__", "")
        return name if name in SQUASHES else None
    return None


def output_activation(model):
    """The squashing function at the end of ``model``: ``"softmax"``, ``"sigmoid"`` or None.

    Recognised: ``Dense(..., activation="softmax"|"sigmoid")``, a ``Softmax``
    layer, an ``Activation("softmax"|"sigmoid")`` layer, and a nested model
    (Sequential or functional) whose own output is one of these. For exactly
    these, :func:`feature_view` and :func:`pre_activation_view` can return the
    scores before the squash; any other output (linear, or a squash they cannot
    separate) gives None, i.e. the outputs are the scores.
    """
    if not _safe_inputs(model) or not model.layers:
        return None
    return _squash_of(_output_layer(model))


def score_layer(model):
    """The layer whose output holds the class scores (before :func:`output_activation`'s squash).

    The output layer itself, except that a separate ``Softmax``/``Activation``
    output layer is skipped for the layer feeding it, and a nested model at the
    output is searched inside: the ``Dense`` of ``GAP -> Dense -> Softmax()`` is
    the score layer (CAM's class weights).
    """
    layer = _output_layer(model)
    if isinstance(layer, keras.Model):
        return score_layer(layer)
    if isinstance(layer, (keras.layers.Softmax, keras.layers.Activation)) and _squash_of(layer):
        for candidate in reversed(model.layers):
            try:
                if candidate.output is layer.input:
                    return score_layer(candidate) if isinstance(candidate, keras.Model) else candidate
            except (AttributeError, ValueError):
                continue
    return layer


def _strip_squash(layer, args, kwargs):
    """Call ``layer`` without its output squash (see :func:`output_activation`); None if it has none."""
    if _squash_of(layer) is None:
        return None
    if isinstance(layer, keras.Model):
        return pre_activation_view(layer)(*args, **kwargs)
    if isinstance(layer, keras.layers.Dense):
        return _PreActivation(layer, name=f"{layer.name}_pre_activation")(args[0])
    return args[0]  # a Softmax or Activation layer: its input is the scores


def pre_activation_view(model):
    """``inputs -> scores before the output squash`` sharing ``model``'s layers (``model`` itself if none)."""
    if output_activation(model) is None:
        return model
    return _tap(model, (), None, logits=True)


def feature_view(model, layer=None, logits=True):
    """Build ``inputs -> (features, scores)`` sharing ``model``'s layers.

    Parameters
    ----------
    model : keras.Model
        Functional or Sequential classifier; it is not modified.
    layer : str, keras.layers.Layer or None
        Feature-map layer (see :func:`find_layer`).
    logits : bool
        When the output ends in softmax/sigmoid (:func:`output_activation`:
        a Dense activation, a separate ``Softmax``/``Activation`` layer, or a
        nested model ending in one), score with the values before it (the
        class scores y^c of Grad-CAM), not the probabilities.

    Returns
    -------
    view : keras.Model
        Two outputs: the feature map and the scores.
    feature_layer : keras.layers.Layer
    """
    path, feature_layer = find_layer(model, layer)
    return _tap(model, path, feature_layer, logits=logits), feature_layer


def _symbolic_inputs(container):
    """Fresh inputs like ``container``'s, flat, and in the structure its graph expects (Keras-2 models keep a list)."""
    flat = [keras.Input(batch_shape=t.shape, dtype=t.dtype) for t in container.inputs]
    try:
        structure = container.input
    except (AttributeError, ValueError):  # a Sequential model that was never called has only ``inputs``
        structure = flat if len(flat) > 1 else flat[0]
    return flat, keras.tree.pack_sequence_as(structure, flat)


def _tap(container, path, feature_layer, logits=False):
    """``container.inputs -> (features, outputs)`` (just outputs without a feature layer), recursing along ``path``.

    With ``logits`` the output squash is left out (:func:`_strip_squash`).
    """
    inner = path[0] if path else None
    squashing = _output_layer(container) if logits else None
    inner_view = _tap(inner, path[1:], feature_layer, logits=inner is squashing) if inner is not None else None
    captured = {}

    def call(layer_, *args, **kwargs):
        if layer_ is inner:
            features, outputs = inner_view(*args, **kwargs)
            captured["features"] = features
            return outputs
        if layer_ is squashing:
            outputs = _strip_squash(layer_, args, kwargs)
            if outputs is not None:
                return outputs
        outputs = layer_(*args, **kwargs)
        if layer_ is feature_layer:
            captured["features"] = outputs
        return outputs

    inputs, structured = _symbolic_inputs(container)
    if isinstance(container, keras.Sequential):
        outputs = inputs[0]
        for layer_ in container.layers:
            outputs = call(layer_, outputs)
    else:
        clone = keras.models.clone_model(
            container, input_tensors=structured, clone_function=lambda layer_: layer_, call_function=call
        )
        outputs = clone.outputs[0]
    model_inputs = inputs if len(inputs) > 1 else inputs[0]
    if feature_layer is None:
        return keras.Model(model_inputs, outputs, name=f"{container.name}_pre_activation")
    if "features" not in captured:
        raise TfxaiError(
            f"layer {feature_layer.name!r} is not on the path from the model's inputs to its outputs: choose another layer"
        )
    return keras.Model(model_inputs, [captured["features"], outputs], name=f"{container.name}_cam_view")


def flat_model(model):
    """The same network with nested models inlined: every layer becomes a top-level layer.

    Tools that look layers up by name at the top level (tf-keras-vis' Score-CAM
    and Layer-CAM) can then reach a backbone's feature map inside a transfer
    model. Layers (and weights) are shared with ``model``, which is not changed.
    """

    def call(layer_, *args, **kwargs):
        if isinstance(layer_, keras.Sequential):
            outputs = args[0]
            for inner in layer_.layers:
                outputs = call(inner, outputs)
            return outputs
        if isinstance(layer_, keras.Model):
            return layer_._run_through_graph(args[0], call_fn=call)  # Keras 3's functional graph walk
        return layer_(*args, **kwargs)

    if not _safe_inputs(model):
        raise TfxaiError(f"model {model.name!r} has no symbolic inputs: build it as a functional or Sequential model")
    inputs, structured = _symbolic_inputs(model)
    model_inputs = inputs if len(inputs) > 1 else inputs[0]
    try:
        outputs = call(model, structured)
    except (AttributeError, TypeError, ValueError) as error:
        raise TfxaiError(f"cannot inline the nested models of {model.name!r} ({error}): name a top-level layer instead") from error
    return keras.Model(model_inputs, outputs, name=f"{model.name}_flat")
