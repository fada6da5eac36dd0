"""A read-only view of a classifier that returns logits instead of softmax probabilities.

Matching a target such as (0.9, 0.1) from an image the classifier is sure about
needs the gradient of ``log p`` for classes whose probability is below float32
resolution; through a softmax output that gradient vanishes, through the logits
it does not. The view shares the classifier's layers (and weights) and never
changes the classifier.
"""

import keras

from tfxai.explain.layers import output_activation, pre_activation_view


def logits_view(classifier):
    """Return a model ``inputs -> logits`` sharing ``classifier``'s weights, or None.

    Recognises what :func:`tfxai.explain.layers.output_activation` calls a
    softmax output: a final ``Softmax`` layer, ``Activation("softmax")`` layer,
    ``Dense(..., activation="softmax")``, or a nested model ending in one, in a
    functional or Sequential model. Returns None when the classifier has no such
    output or no symbolic inputs (a subclassed model); callers then fall back to
    ``log(probabilities)``.
    """
    if not isinstance(classifier, keras.Model) or output_activation(classifier) != "softmax":
        return None
    return pre_activation_view(classifier)
