"""Exporting a signal run folder (written by ``tfxai train signal``) with its preprocessing, window and class names."""

import json
import os

from tfxai.errors import TfxaiError
from tfxai.signal.data import load_recordings
from tfxai.signal.export import export_signal_model
from tfxai.signal.training import load_trained
from tfxai.signal.windows import make_windows

__all__ = ["export_signal_run", "recording_windows"]


def recording_windows(path, window, step):
    """Raw windows ``(n, window, channels)`` of every recording at ``path`` (a class-folder tree or an .npz file)."""
    recordings = load_recordings(path).check(window)
    return make_windows(recordings.signals, window=window, step=step)[0]


def export_signal_run(folder, out, format="savedmodel", quantize="none", calibration=None, overwrite=False):
    """Export the signal model of run ``folder`` to ``out``; ``calibration``: recordings (path) or None (the run's data for int8).

    Returns the model card, or None for ``format="savedmodel"`` (its outputs are checked by the tests, not at export).
    """
    model, preprocessor = load_trained(folder)
    try:
        with open(os.path.join(folder, "metrics.json"), encoding="utf-8") as handle:
            metrics = json.load(handle)
        config, class_names = metrics["config"], metrics.get("classes")
        window, step = int(config["window"]), int(config["step"])
    except (OSError, KeyError, TypeError, ValueError) as error:
        raise TfxaiError(f"{folder}/metrics.json does not give the run's window and step ({error}): export a folder written by "
                         "'tfxai train signal'") from error
    if calibration is None and quantize == "int8":
        calibration = config.get("data") or None
        if calibration is None:
            raise TfxaiError(f"int8 quantization needs calibration recordings and {folder} does not name its data: pass --calibration")
    windows = None if calibration is None else recording_windows(calibration, window, step)
    if format == "savedmodel":
        export_signal_model(model, out, preprocessor, window, overwrite=overwrite)
        return None
    return export_signal_model(model, out, preprocessor, window, format=format, quantize=quantize, calibration=windows,
                               class_names=class_names, overwrite=overwrite)
