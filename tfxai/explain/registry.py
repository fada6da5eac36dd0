"""One registry of every explainer: name -> how to build it on a model, and what it needs.

As timm's ``@register_model``: a method registers itself where it is defined
(``@register_explainer("gradcam", model="image")`` on its class), the apps'
``--method`` choices and :func:`tfxai.io.export.export_saved_model`'s method
names come from :data:`EXPLAINERS`, and one test
(``tests/explain/test_registry.py``) runs the explainer protocol over every
entry, so a new method is tested the day it is registered.

Each entry says which kind of model it explains (:data:`MODEL_KINDS`, the
kinds :func:`tfxai.io.models.model_kind` tells apart), whether it is
*in-graph* (traceable TensorFlow, so a SavedModel can serve it and a
``train_step`` can differentiate it) and which inputs its ``explain`` takes
(numpy arrays, tensors, ``tf.data`` datasets).

Explainers of a model's own attention (ABN, GAIN, SAN1D, ST-ABN) are the
models themselves (:mod:`tfxai.explain.own_attention` registers them).
"""

import dataclasses
from typing import Callable

from tfxai.errors import TfxaiError

__all__ = ["EXPLAINERS", "MODEL_KINDS", "ExplainerSpec", "explainer_names", "explainer_spec", "get_explainer", "register_explainer"]

#: What a registered explainer needs: an image classifier (with a feature-map layer), an attention model
#: (ABN, GAIN), a signal model (SAN1D) or a video model (ST-ABN, a 3D CNN).
MODEL_KINDS = ("image", "attention", "signal", "video")
ALL_INPUTS = ("numpy", "tensor", "dataset")


@dataclasses.dataclass(frozen=True)
class ExplainerSpec:
    """A registered explainer: ``factory(model, **options)`` builds it; the rest says what it needs and gives."""

    name: str
    factory: Callable
    model: str
    in_graph: bool
    inputs: tuple
    summary: str


#: name -> :class:`ExplainerSpec`, in registration order.
EXPLAINERS = {}


def _key(name):
    return str(name).lower().replace("_", "").replace("-", "").replace("plusplus", "++")


def register_explainer(name, model="image", in_graph=True, inputs=("numpy", "tensor"), summary=None):
    """Decorator registering an explainer class or factory ``(model, **options) -> explainer`` under ``name``.

    ``model`` is one of :data:`MODEL_KINDS`; ``in_graph`` says that the
    explainer's maps can be traced (served by a SavedModel); ``inputs`` are
    the kinds of ``images`` its ``explain`` takes (``numpy``, ``tensor``, ``dataset``).
    """
    if model not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {model!r}: choose one of {MODEL_KINDS}")
    unknown = set(inputs) - set(ALL_INPUTS)
    if unknown:
        raise ValueError(f"unknown input kinds {sorted(unknown)}: choose from {ALL_INPUTS}")

    def decorate(factory):
        if any(_key(existing) == _key(name) for existing in EXPLAINERS):
            raise ValueError(f"an explainer named {name!r} is already registered")
        doc = summary or (factory.__doc__ or name).strip().splitlines()[0]
        EXPLAINERS[name] = ExplainerSpec(name, factory, model, bool(in_graph), tuple(inputs), doc)
        return factory

    return decorate


def explainer_names(models=MODEL_KINDS, in_graph=None):
    """Registered names explaining one of ``models`` (and only the in-graph ones when ``in_graph``)."""
    return [name for name, spec in EXPLAINERS.items() if spec.model in models and (in_graph is None or spec.in_graph == in_graph)]


def explainer_spec(name):
    """The :class:`ExplainerSpec` of ``name`` (``Grad-CAM``, ``grad_cam`` and ``gradcam`` alike), or a one-line :class:`TfxaiError`."""
    for registered, spec in EXPLAINERS.items():
        if _key(registered) == _key(name):
            return spec
    raise TfxaiError(f"unknown explainer {name!r}: choose one of {', '.join(EXPLAINERS)}")


def get_explainer(name, model, **options):
    """The explainer ``name`` built on ``model`` (``options`` such as ``layer`` go to its factory)."""
    return explainer_spec(name).factory(model, **options)
