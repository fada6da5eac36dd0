"""Explainers of a model's own attention (ABN, GAIN, SAN1D, ST-ABN): the registry's entries are the models themselves.

Their ``explain(images) -> (maps, probabilities)`` is the protocol already;
the entries recognise them by their registered Keras names (``tfxai>ABN``,
...), so :mod:`tfxai.explain` imports no method package (those import it).
"""

import keras

from tfxai.errors import TfxaiError
from tfxai.explain.registry import register_explainer

__all__ = []


def _registered_names(model):
    """The registered Keras names of ``model``'s class and its bases (subclasses of ABN are ABNs)."""
    return {keras.saving.get_registered_name(cls) for cls in type(model).__mro__}


def _own_maps(name, registered, written_by, what):
    """A factory returning ``model`` itself when it is a ``registered`` Keras class (its ``explain`` is the protocol)."""

    def factory(model, layer=None):
        if registered not in _registered_names(model):
            raise TfxaiError(
                f"{name} explains {what} with its own attention, not a {type(model).__name__}: "
                f"pass a model written by '{written_by}', or choose another method"
            )
        if layer is not None:
            raise TfxaiError(f"{name} shows the model's own attention, which has no layer to choose: drop the layer ({layer!r})")
        return model

    factory.__name__ = f"{name}_own_attention"
    factory.__doc__ = f"The attention map of {what} (its own explain())."
    return factory


register_explainer("abn", model="attention")(_own_maps("abn", "tfxai>ABN", "tfxai train abn", "an ABN"))
register_explainer("gain", model="attention")(_own_maps("gain", "tfxai>GAIN", "tfxai train gain", "a GAIN model"))
register_explainer("san1d", model="signal", summary="The attention of a SAN1D signal model (its own explain()): (batch, T, footprint).")(
    _own_maps("san1d", "tfxai>SAN1D", "tfxai train signal", "a SAN1D signal model")
)
register_explainer("stabn", model="video")(_own_maps("stabn", "tfxai>STABN", "tfxai train video --model st_abn", "an ST-ABN video model"))
