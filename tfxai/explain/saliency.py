"""Score-CAM, SmoothGrad and Layer-CAM through tf-keras-vis, under tfxai's calling convention.

tf-keras-vis does these well; tfxai only maps its targets (None / int / list /
callable) and layer choice onto tf-keras-vis' scores, and returns the same
(batch, H, W) float32 maps in [0, 1] as :class:`tfxai.explain.GradCAM`. The
user's model is never modified: tf-keras-vis gets a view sharing its layers
that ends before the output's softmax/sigmoid.

References: Wang et al. 2020 (Score-CAM); Smilkov et al. 2017 (SmoothGrad);
Jiang et al. 2021 (LayerCAM).
"""

import keras
import numpy as np

from tfxai.errors import TfxaiError
from tfxai.explain import targets as targets_lib
from tfxai.explain.cam import check_images
from tfxai.explain.layers import _output_layer, _strip_squash, find_layer, flat_model

__all__ = ["saliency", "SALIENCY_METHODS"]


def _scorecam(model, score, images, layer, options):
    from tf_keras_vis.scorecam import Scorecam

    method = Scorecam(model, model_modifier=_without_output_squash, clone=True)
    # max_N is at most the feature map's channels (tf-keras-vis refuses more): a 7-channel map gets 7
    channels = int(model.get_layer(layer).output.shape[-1])
    max_n = min(options.pop("max_n", 16), channels)
    return method(score, images, penultimate_layer=layer, max_N=max_n, **options)


def _layercam(model, score, images, layer, options):
    from tf_keras_vis.layercam import Layercam

    method = Layercam(model, model_modifier=_without_output_squash, clone=True)
    return method(score, images, penultimate_layer=layer, **options)


def _smoothgrad(model, score, images, layer, options):
    from tf_keras_vis.saliency import Saliency

    method = Saliency(model, model_modifier=_without_output_squash, clone=True)
    options.setdefault("smooth_samples", 20)
    options.setdefault("smooth_noise", 0.2)
    return method(score, images, **options)


SALIENCY_METHODS = {"scorecam": _scorecam, "layercam": _layercam, "smoothgrad": _smoothgrad}


def saliency(name, model, images, targets=None, layer=None, **options):
    """Explain ``images`` with a tf-keras-vis method.

    Parameters
    ----------
    name : {"scorecam", "smoothgrad", "layercam"}
    model : keras.Model
        Functional or Sequential model; not modified.
    images : array (batch, H, W, C)
    targets : None, int, sequence of int or callable
        As for :class:`tfxai.explain.GradCAM`.
    layer : str or None
        Feature-map layer for the CAM methods; None = the last 4-D feature map.
        Layers inside nested models (a backbone in a transfer model) are reached
        by inlining the nested models into a flat view that shares the weights.
    **options
        Passed to the tf-keras-vis method (``max_n`` for Score-CAM,
        ``smooth_samples``/``smooth_noise`` for SmoothGrad).

    Returns
    -------
    numpy.ndarray
        float32 (batch, H, W), each map in [0, 1].
    """
    key = name.lower().replace("-", "").replace("_", "")
    if key not in SALIENCY_METHODS:
        raise TfxaiError(f"unknown saliency method {name!r}: choose one of {sorted(SALIENCY_METHODS)}")
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[0] == 0:
        raise TfxaiError(f"images must be a non-empty batch (batch, H, W, C), got shape {images.shape}")
    if getattr(model, "inputs", None):
        images = np.asarray(check_images(images, model.inputs[0].shape, "float32"))
    score = _score(model, images, targets)
    if key != "smoothgrad":
        path, found = find_layer(model, layer)
        if path:  # a backbone nested in a transfer model: tf-keras-vis looks layers up at the top level
            model = flat_model(model)
        layer = found.name
    maps = SALIENCY_METHODS[key](model, score, images, layer, dict(options))
    maps = np.nan_to_num(np.asarray(maps, dtype=np.float32))
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 1e-7, (maps - low) / np.maximum(span, 1e-7), 0.0).astype(np.float32)


def _without_output_squash(clone):
    """tf-keras-vis model modifier: its private clone, ending before the output's softmax/sigmoid.

    Built on the clone's own graph, so tf-keras-vis finds its layers' outputs in it.
    Unlike tf-keras-vis' ReplaceToLinear (a Dense activation only), this strips a
    ``Softmax``/``Activation`` layer or a nested model's squash too
    (:func:`tfxai.explain.layers.output_activation`). Returns None (keep the
    clone as it is) when the output is not squashed.
    """
    layer = _output_layer(clone)
    scores = _strip_squash(layer, (layer.input,), {})
    return None if scores is None else keras.Model(clone.inputs, scores, name=f"{clone.name}_scores")


def _score(model, images, targets):
    if callable(targets):
        return targets
    num_classes = int(model.outputs[0].shape[-1])
    class_ids = targets_lib.resolve_class_ids(targets, images.shape[0], num_classes)
    if (class_ids == targets_lib.PREDICTED).any():
        predicted = targets_lib.predicted_classes(model(images, training=False)).numpy()
        class_ids = np.where(class_ids == targets_lib.PREDICTED, predicted, class_ids)
    return targets_lib.ClassScore(class_ids)
