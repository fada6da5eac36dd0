"""What every training run returns: one :class:`RunResult` (no TensorFlow here)."""

import dataclasses
import warnings
from typing import Any, Optional

__all__ = ["RunResult", "run_result"]


@dataclasses.dataclass(frozen=True)
class RunResult:
    """The result of a training run (``train_classifier``, ``train_abn``, ``train_gain``, ``train_video``,
    ``run_signal_training``, ``train_collab_gan``, ``run_train_stargan``, ``run_train_mixed``, ``train_detector``).

    ``model`` is the trained model, ``history`` the per-epoch values
    (``{"loss": [...], ...}``), ``out`` the run folder written (None when the
    run writes none), ``config`` the config it ran with, ``metrics`` the
    run's numbers (the last epoch's values and what the run measured after
    training), ``class_names`` the classes where the run has them.

    Deprecated, for one release: a result still unpacks and indexes like the
    tuple the run returned before (``model, class_names, history =
    train_classifier(config)``; ``result[2]``), and a string key reads
    ``metrics`` (``report["recording_accuracy"]``), each with a
    DeprecationWarning. Use the attributes.
    """

    model: Any
    history: dict
    out: Optional[str]
    config: Any
    metrics: dict = dataclasses.field(default_factory=dict)
    class_names: tuple = ()
    legacy: tuple = dataclasses.field(default=(), repr=False, compare=False)  # the tuple the run returned before

    def __iter__(self):
        warnings.warn("unpacking a training run's result is deprecated: use its attributes (result.model, result.history, ...)",
                      DeprecationWarning, stacklevel=2)
        return iter(self.legacy)

    def __getitem__(self, key):
        if isinstance(key, str):
            warnings.warn(f"result[{key!r}] is deprecated: use result.metrics[{key!r}]", DeprecationWarning, stacklevel=2)
            return self.metrics[key]
        warnings.warn("indexing a training run's result is deprecated: use its attributes (result.model, result.history, ...)",
                      DeprecationWarning, stacklevel=2)
        return self.legacy[key]


def run_result(model, history, config, out=None, metrics=None, class_names=(), legacy=()):
    """A :class:`RunResult`: ``history`` a Keras ``History`` or a dict; ``metrics`` start from the last epoch's values."""
    values = dict(getattr(history, "history", history) or {})
    final = {key: float(series[-1]) for key, series in values.items() if len(series)}
    return RunResult(model, values, out, config, {**final, **(metrics or {})}, tuple(class_names or ()), tuple(legacy))
