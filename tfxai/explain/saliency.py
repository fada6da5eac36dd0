"""Score-CAM, SmoothGrad and Layer-CAM through tf-keras-vis, as explainers of the protocol.

tf-keras-vis does these well; tfxai maps its targets (None / int / list /
callable) and layer choice onto tf-keras-vis' scores, and returns the same
``(maps (batch, H, W) float32 in [0, 1], probabilities)`` as
:class:`tfxai.explain.GradCAM`. The user's model is never modified:
tf-keras-vis gets a clone that ends before the output's softmax/sigmoid.
Each method is a small subclass of :class:`SaliencyExplainer` overriding one
hook, :meth:`SaliencyExplainer.raw_maps`.

These run tf-keras-vis in Python (numpy, ``model.predict``), so unlike the
CAM family they cannot run inside a SavedModel or a ``train_step``.

References: Wang et al. 2020 (Score-CAM); Smilkov et al. 2017 (SmoothGrad);
Jiang et al. 2021 (LayerCAM).
"""

import keras
import numpy as np
import tensorflow as tf

from tfxai.errors import TfxaiError
from tfxai.explain import targets as targets_lib
from tfxai.explain.cam import check_images
from tfxai.explain.layers import _output_layer, _strip_squash, find_layer, flat_model
from tfxai.explain.protocol import explain_dataset
from tfxai.explain.registry import ALL_INPUTS, register_explainer

__all__ = ["LayerCAM", "SALIENCY_METHODS", "SaliencyExplainer", "ScoreCAM", "SmoothGrad", "saliency"]

EPSILON = 1e-7


class SaliencyExplainer:
    """A tf-keras-vis method under the explainer protocol; subclasses implement :meth:`raw_maps`.

    Parameters
    ----------
    model : keras.Model
        Functional or Sequential model (nested models allowed); not modified.
    layer : str or None
        Feature-map layer of the CAM methods; None = the last 4-D feature map.
        Layers inside nested models (a backbone in a transfer model) are
        reached through a flat view sharing the weights.
    batch_size : int
        Images per tf-keras-vis call.
    """

    #: Whether the method looks at a feature-map layer.
    uses_layer = True

    def __init__(self, model, layer=None, batch_size=32):
        self.model = model
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise TfxaiError(f"batch_size must be at least 1, got {batch_size}")
        self.num_classes = int(model.outputs[0].shape[-1])
        self.vis_model, self.layer = model, None
        if self.uses_layer:
            path, found = find_layer(model, layer)
            if path:  # a backbone nested in a transfer model: tf-keras-vis looks layers up at the top level
                self.vis_model = flat_model(model)
            self.layer = found.name
        self._method = None

    # --- the hook ---

    def make_method(self):
        """The tf-keras-vis object (built once, on first use: it clones the model)."""
        raise NotImplementedError

    def raw_maps(self, method, score, images):
        """tf-keras-vis' maps (batch, H, W) of ``images`` for ``score``. Override in each method."""
        raise NotImplementedError

    def chunk_size(self):
        """Images per tf-keras-vis call (a method whose maps depend on the batch returns 1)."""
        return self.batch_size

    # --- the protocol ---

    def explain(self, images, targets=None):
        """``(maps (batch, H, W) float32 in [0, 1], probabilities (batch, K))`` for numpy arrays, tensors or a ``tf.data`` dataset.

        ``targets``: None (the predicted class), an int, one int per image, or
        a callable mapping the model's scores (before the softmax) to one score per image.
        """
        if isinstance(images, tf.data.Dataset):
            return explain_dataset(self.explain, images, targets)
        images = self._check_images(images)
        probabilities = np.asarray(self.model(images, training=False), np.float32)
        if callable(targets):
            scores = [targets] * len(images)
        else:
            class_ids = targets_lib.resolve_class_ids(targets, len(images), self.num_classes)
            class_ids = np.where(class_ids == targets_lib.PREDICTED, _predicted(probabilities), class_ids)
        if self._method is None:
            self._method = self.make_method()
        size = self.chunk_size()
        maps = []
        for start in range(0, len(images), size):
            chunk = slice(start, start + size)
            score = scores[start] if callable(targets) else targets_lib.ClassScore(class_ids[chunk])
            maps.append(np.asarray(self.raw_maps(self._method, score, images[chunk]), np.float32).reshape(images[chunk].shape[:3]))
        return tf.constant(_normalize(np.concatenate(maps))), tf.constant(probabilities)

    def __call__(self, images, targets=None):
        return self.explain(images, targets)[0]

    def _check_images(self, images):
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[0] == 0:
            raise TfxaiError(f"images must be a non-empty batch (batch, H, W, C), got shape {images.shape}")
        if getattr(self.model, "inputs", None):
            images = np.asarray(check_images(images, self.model.inputs[0].shape, "float32"))
        return images


@register_explainer("scorecam", in_graph=False, inputs=ALL_INPUTS)
class ScoreCAM(SaliencyExplainer):
    """Score-CAM (Wang et al., CVPR-W 2020) through tf-keras-vis' ``Scorecam``.

    ``max_n`` (default 16, at most the layer's channels) keeps the feature
    channels of largest variance (Faster Score-CAM). tf-keras-vis picks them
    over a whole call's batch, so with fewer channels than the layer has each
    image is explained on its own: its map does not depend on the batch.
    """

    def __init__(self, model, layer=None, max_n=16, batch_size=32):
        super().__init__(model, layer, batch_size)
        # max_N is at most the feature map's channels (tf-keras-vis refuses more): a 7-channel map gets 7
        self.channels = int(self.vis_model.get_layer(self.layer).output.shape[-1])
        self.max_n = min(int(max_n), self.channels)

    def make_method(self):
        from tf_keras_vis.scorecam import Scorecam

        return Scorecam(self.vis_model, model_modifier=_without_output_squash, clone=True)

    def chunk_size(self):
        return 1 if self.max_n < self.channels else self.batch_size

    def raw_maps(self, method, score, images):
        return method(score, images, penultimate_layer=self.layer, max_N=self.max_n)


@register_explainer("layercam", in_graph=False, inputs=ALL_INPUTS)
class LayerCAM(SaliencyExplainer):
    """Layer-CAM (Jiang et al., IEEE TIP 2021) through tf-keras-vis' ``Layercam``."""

    def make_method(self):
        from tf_keras_vis.layercam import Layercam

        return Layercam(self.vis_model, model_modifier=_without_output_squash, clone=True)

    def raw_maps(self, method, score, images):
        return method(score, images, penultimate_layer=self.layer)


@register_explainer("smoothgrad", in_graph=False, inputs=ALL_INPUTS)
class SmoothGrad(SaliencyExplainer):
    """SmoothGrad (Smilkov et al. 2017): input gradients averaged over noisy copies, through tf-keras-vis' ``Saliency``.

    As tf-keras-vis' ``smooth_samples``/``smooth_noise``: ``samples`` copies
    of each image with Gaussian noise of standard deviation ``noise`` times
    the image's value range, the absolute gradients averaged, the largest
    over the channels. The noise draws come from ``seed`` and are shared by
    the images of a call, so an image's map does not depend on the batch it
    is explained in, and repeats exactly.
    """

    uses_layer = False

    def __init__(self, model, layer=None, samples=20, noise=0.2, seed=0, batch_size=32):
        super().__init__(model, None, batch_size)
        if int(samples) < 1:
            raise TfxaiError(f"SmoothGrad needs at least 1 noisy sample, got {samples}")
        self.samples, self.noise, self.seed = int(samples), float(noise), int(seed)

    def make_method(self):
        from tf_keras_vis.saliency import Saliency

        return Saliency(self.vis_model, model_modifier=_without_output_squash, clone=True)

    def raw_maps(self, method, score, images):
        draws = np.random.default_rng(self.seed).standard_normal((self.samples,) + images.shape[1:]).astype(np.float32)
        spread = self.noise * (images.max(axis=(1, 2, 3), keepdims=True) - images.min(axis=(1, 2, 3), keepdims=True))
        total = 0.0
        for draw in draws:
            total = total + np.asarray(method(score, images + spread * draw, keepdims=True, normalize_map=False))
        return (total / self.samples).max(axis=-1)


SALIENCY_METHODS = {"scorecam": ScoreCAM, "layercam": LayerCAM, "smoothgrad": SmoothGrad}
#: The ``saliency()`` options of tf-keras-vis' names, and the explainers' names for them.
_OPTION_NAMES = {"max_n": "max_n", "smooth_samples": "samples", "smooth_noise": "noise"}


def saliency(name, model, images, targets=None, layer=None, **options):
    """Maps of ``images`` by a tf-keras-vis method: ``ScoreCAM``/``SmoothGrad``/``LayerCAM(model, layer, ...).explain(images, targets)[0]``.

    Parameters
    ----------
    name : {"scorecam", "smoothgrad", "layercam"}
    model : keras.Model
    images : array (batch, H, W, C)
    targets : None, int, sequence of int or callable
        As for :class:`tfxai.explain.GradCAM`.
    layer : str or None
        Feature-map layer of the CAM methods.
    **options
        ``max_n`` for Score-CAM, ``smooth_samples``/``smooth_noise`` (or
        ``samples``/``noise``/``seed``) for SmoothGrad, ``batch_size``.

    Returns
    -------
    numpy.ndarray
        float32 (batch, H, W), each map in [0, 1].
    """
    key = name.lower().replace("-", "").replace("_", "")
    if key not in SALIENCY_METHODS:
        raise TfxaiError(f"unknown saliency method {name!r}: choose one of {sorted(SALIENCY_METHODS)}")
    options = {_OPTION_NAMES.get(option, option): value for option, value in options.items()}
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[0] == 0:
        raise TfxaiError(f"images must be a non-empty batch (batch, H, W, C), got shape {images.shape}")
    return SALIENCY_METHODS[key](model, layer, **options).explain(images, targets)[0].numpy()


def _normalize(maps):
    """Per-map min-max scaling to [0, 1] (NaNs as 0); a constant map becomes all zeros."""
    maps = np.nan_to_num(np.asarray(maps, np.float32))
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > EPSILON, (maps - low) / np.maximum(span, EPSILON), 0.0).astype(np.float32)


def _predicted(probabilities):
    """Predicted class per row of the model's outputs: argmax, or ``p > 0.5`` for one sigmoid output."""
    if probabilities.shape[-1] == 1:
        return (probabilities[:, 0] > 0.5).astype(np.int32)
    return probabilities.argmax(axis=-1).astype(np.int32)


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
