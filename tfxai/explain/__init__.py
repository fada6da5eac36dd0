"""Explanations: the CAM family (own, in-graph), tf-keras-vis saliency, overlays, layer search, and the registry of every explainer.

:data:`EXPLAINERS` lists every explainer by name (the CAM family, the
tf-keras-vis methods, the attention models' own maps, video Grad-CAM);
:func:`get_explainer` builds one on a model.
"""

from tfxai.explain.cam import CAM, BaseCAM, GradCAM, GradCAMPlusPlus, video_gradcam
from tfxai.explain.layers import feature_view, find_layer
from tfxai.explain.overlay import caption, contact_sheet, overlay
from tfxai.explain.protocol import explain_in_batches
from tfxai.explain.registry import EXPLAINERS, ExplainerSpec, explainer_names, explainer_spec, get_explainer, register_explainer
from tfxai.explain.saliency import SALIENCY_METHODS, LayerCAM, SaliencyExplainer, ScoreCAM, SmoothGrad, saliency
from tfxai.explain import own_attention  # noqa: F401,E402  (registers the attention models' own maps, after the methods above)
from tfxai.explain.targets import PREDICTED, ClassScore

METHODS = {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus, "cam": CAM}


def get_method(name):
    """The CAM class for a method name (``gradcam``, ``gradcam++``, ``cam``)."""
    from tfxai.errors import TfxaiError

    key = name.lower().replace("_", "").replace("-", "").replace("plusplus", "++")
    if key not in METHODS:
        raise TfxaiError(f"unknown CAM method {name!r}: choose one of {sorted(METHODS)} (or {sorted(SALIENCY_METHODS)})")
    return METHODS[key]


__all__ = [
    "BaseCAM",
    "CAM",
    "EXPLAINERS",
    "ExplainerSpec",
    "LayerCAM",
    "SaliencyExplainer",
    "ScoreCAM",
    "SmoothGrad",
    "explainer_names",
    "explainer_spec",
    "get_explainer",
    "register_explainer",
    "video_gradcam",
    "GradCAM",
    "GradCAMPlusPlus",
    "ClassScore",
    "PREDICTED",
    "METHODS",
    "SALIENCY_METHODS",
    "caption",
    "contact_sheet",
    "explain_in_batches",
    "feature_view",
    "find_layer",
    "get_method",
    "overlay",
    "saliency",
]
