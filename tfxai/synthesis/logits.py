"""A read-only view of a classifier that returns logits instead of softmax probabilities.

Matching a target such as (0.9, 0.1) from an image the classifier is sure about
needs the gradient of ``log p`` for classes whose probability is below float32
resolution; through a softmax output that gradient vanishes, through the logits
it does not. The view shares the classifier's layers (and weights) and never
changes the classifier.
"""

import keras
from keras import ops


class _PreSoftmaxDense(keras.layers.Layer):
    """Calls a Dense layer's affine part without its (softmax) activation, sharing its weights."""

    def __init__(self, dense, **kwargs):
        super().__init__(**kwargs)
        self.dense = dense

    def call(self, inputs):
        outputs = ops.matmul(inputs, self.dense.kernel)
        if self.dense.bias is not None:
            outputs = outputs + self.dense.bias
        return outputs


def _is_softmax(function):
    return function is keras.activations.softmax or getattr(function, "__name__", "") == "softmax"


def logits_view(classifier):
    """Return a model ``inputs -> logits`` sharing ``classifier``'s weights, or None.

    Recognises a final ``Softmax`` layer, ``Activation("softmax")`` layer, or
    ``Dense(..., activation="softmax")`` in a functional or Sequential model.
    Returns None when the classifier has no such final layer or no symbolic
    inputs (a subclassed model); callers then fall back to ``log(probabilities)``.
    """
    try:
        inputs = classifier.inputs
        last = classifier.layers[-1]
        last_input = last.input
    except (AttributeError, IndexError, ValueError):
        return None
    if not inputs:
        return None
    inputs = inputs[0] if len(inputs) == 1 else inputs
    if isinstance(last, keras.layers.Softmax):
        return keras.Model(inputs, last_input, name=f"{classifier.name}_logits")
    activation = getattr(last, "activation", None)
    if isinstance(last, keras.layers.Activation) and _is_softmax(activation):
        return keras.Model(inputs, last_input, name=f"{classifier.name}_logits")
    if isinstance(last, keras.layers.Dense) and _is_softmax(activation):
        outputs = _PreSoftmaxDense(last, name=f"{last.name}_logits")(last_input)
        return keras.Model(inputs, outputs, name=f"{classifier.name}_logits")
    return None
