"""Process-level TensorFlow settings that must happen before TensorFlow is imported.

oneDNN stays on (TensorFlow's default on x86-64; it makes 3-D training steps ~44x
and 2-D ones up to ~1.8x faster on this project's CPUs). TensorFlow 2.21's oneDNN
kernels corrupt memory on AMD and Intel CPUs in one pattern, the backward pass of
a strided 1x1 ``Conv2D`` on even-sized maps (the projection shortcuts of small
residual nets such as mini-Xception); tfxai computes that convolution as a
subsample and a stride-1 convolution, the same function without the crash
(:mod:`tfxai._safe_conv`, installed as soon as Keras is imported). Before that,
tfxai turned oneDNN off for the whole process. A value the user set
(``TF_ENABLE_ONEDNN_OPTS=0`` or ``1``) is never overridden; :func:`onednn_state`
says what is in force and why (``tfxai.ONEDNN_SETTING``, every run's ``metrics.json``).
"""

import os
import sys

ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"


#: why the oneDNN setting in force was chosen (:func:`onednn_state`)
_ONEDNN_WHY = {"reason": "TensorFlow's default"}


def onednn_state():
    """``{"TF_ENABLE_ONEDNN_OPTS": value or None (TensorFlow's default), "reason": why}``: what is in force in this process."""
    from tfxai import _safe_conv

    return {ONEDNN_VARIABLE: os.environ.get(ONEDNN_VARIABLE), "reason": _ONEDNN_WHY["reason"],
            "strided_pointwise_subsampled": _safe_conv.installed()}


def configure_onednn():
    """Decide oneDNN before TensorFlow is imported: on, unless the user set ``TF_ENABLE_ONEDNN_OPTS``.

    Returns the value in force afterwards (``"0"`` or ``"1"``; ``None`` where
    TensorFlow was imported first and the user set nothing: TensorFlow's default).
    """
    if ONEDNN_VARIABLE in os.environ:
        _ONEDNN_WHY["reason"] = "set by the user"
        return os.environ[ONEDNN_VARIABLE]
    if "tensorflow" in sys.modules:
        _ONEDNN_WHY["reason"] = ("TensorFlow was imported before tfxai: its default (on for x86-64 Linux); strided 1x1 "
                                 "convolutions are still computed safely once Keras is imported (tfxai._safe_conv)")
        return None
    os.environ[ONEDNN_VARIABLE] = "1"
    _ONEDNN_WHY["reason"] = ("on: tfxai computes strided 1x1 Conv1D/Conv2D as a subsample and a stride-1 convolution "
                             "(tfxai._safe_conv), which avoids oneDNN's crash in their backward pass (TensorFlow 2.21)")
    return "1"


LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
USER_LOG_LEVEL = os.environ.get(LOG_LEVEL_VARIABLE)  # as the user set it, before tfxai's default below


def quiet_tensorflow_logs(level="2"):
    """Hide TensorFlow's C++ logs below ``level`` unless the user chose a level (``TF_CPP_MIN_LOG_LEVEL``).

    ``"2"`` (``import tfxai``) hides the info and warning banners; ``"3"`` (the
    apps) hides the C++ ``E...`` lines too, such as TensorFlow 2.21's
    ``NodeDef mentions attribute use_unbounded_threadpool which is not in the
    op definition`` when a ``tf.data`` map is rebuilt from its graph, or
    ``failed call to cuInit`` on machines without a GPU: noise to users, while
    real failures still raise Python errors (the apps' one ``error:`` line).
    TensorFlow reads the variable once, at its first log line, so this has
    effect only before TensorFlow is imported.
    """
    if USER_LOG_LEVEL is None and "tensorflow" not in sys.modules:
        os.environ[LOG_LEVEL_VARIABLE] = level


def import_tensorflow_silently():
    """Import TensorFlow and find its devices with the process's stderr closed.

    TensorFlow 2.21 writes its CUDA probes ("Could not find cuda drivers",
    "failed call to cuInit") through absl before any log level applies, so
    only the file descriptor can hide them. Python errors raised meanwhile
    still propagate (stderr is restored first). Does nothing if TensorFlow was
    already imported or the user set ``TF_CPP_MIN_LOG_LEVEL`` (then they asked
    for its logs).
    """
    if "tensorflow" in sys.modules or USER_LOG_LEVEL is not None:
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
