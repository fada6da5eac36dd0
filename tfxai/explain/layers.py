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


def _squashing(activation):
    name = getattr(activation, "__name__", "")
    return name in ("softmax", "sigmoid")


def _score_layer(model):
    """The layer producing the model's (first) output."""
    output = model.outputs[0]
    for layer in reversed(model.layers):
        try:
            if layer.output is output:
                return layer
        except (AttributeError, ValueError):
            continue
    return model.layers[-1]


def feature_view(model, layer=None, logits=True):
    """Build ``inputs -> (features, scores)`` sharing ``model``'s layers.

    Parameters
    ----------
    model : keras.Model
        Functional or Sequential classifier; it is not modified.
    layer : str, keras.layers.Layer or None
        Feature-map layer (see :func:`find_layer`).
    logits : bool
        When the output layer ends in softmax/sigmoid, score with its
        pre-activation values (the class scores y^c of Grad-CAM), not the
        probabilities.

    Returns
    -------
    view : keras.Model
        Two outputs: the feature map and the scores.
    feature_layer : keras.layers.Layer
    """
    path, feature_layer = find_layer(model, layer)
    view = _tap(model, path, feature_layer, _score_layer(model) if logits else None)
    return view, feature_layer


def _tap(container, path, feature_layer, score_layer=None):
    """``container.inputs -> (features, outputs)``, recursing into nested models on ``path``."""
    inner = path[0] if path else None
    inner_view = _tap(inner, path[1:], feature_layer) if inner is not None else None
    captured = {}

    def call(layer_, *args, **kwargs):
        if layer_ is inner:
            features, outputs = inner_view(*args, **kwargs)
            captured["features"] = features
            return outputs
        if layer_ is score_layer and _squashing(getattr(layer_, "activation", None)):
            if isinstance(layer_, keras.layers.Activation):
                return args[0]
            if isinstance(layer_, keras.layers.Dense):
                return _PreActivation(layer_, name=f"{layer_.name}_pre_activation")(args[0])
        outputs = layer_(*args, **kwargs)
        if layer_ is feature_layer:
            captured["features"] = outputs
        return outputs

    inputs = [keras.Input(batch_shape=t.shape, dtype=t.dtype) for t in container.inputs]
    if isinstance(container, keras.Sequential):
        outputs = inputs[0]
        for layer_ in container.layers:
            outputs = call(layer_, outputs)
    else:
        clone = keras.models.clone_model(
            container,
            input_tensors=inputs if len(inputs) > 1 else inputs[0],
            clone_function=lambda layer_: layer_,
            call_function=call,
        )
        outputs = clone.outputs[0]
    if "features" not in captured:
        raise TfxaiError(
            f"layer {feature_layer.name!r} is not on the path from the model's inputs to its outputs: choose another layer"
        )
    model_inputs = inputs if len(inputs) > 1 else inputs[0]
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
    inputs = [keras.Input(batch_shape=t.shape, dtype=t.dtype) for t in model.inputs]
    model_inputs = inputs if len(inputs) > 1 else inputs[0]
    try:
        outputs = call(model, model_inputs)
    except (AttributeError, TypeError, ValueError) as error:
        raise TfxaiError(f"cannot inline the nested models of {model.name!r} ({error}): name a top-level layer instead") from error
    return keras.Model(model_inputs, outputs, name=f"{model.name}_flat")
