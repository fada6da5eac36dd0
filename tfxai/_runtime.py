"""Process-level TensorFlow settings that must happen before TensorFlow is imported.

TensorFlow 2.21's oneDNN kernels can corrupt memory on some x86-64 CPUs (AMD and Intel) in the
backward pass of a strided 1x1 convolution on small, even-sized feature maps
(the projection shortcut of small residual networks such as mini-Xception).
The crash kills the whole process, so tfxai turns oneDNN's custom kernels off
on AMD and Intel CPUs *unless the user chose a setting*: ``TF_ENABLE_ONEDNN_OPTS=1``
keeps them on (faster forward passes, at the user's risk), ``=0`` turns them
off everywhere. See README, section "oneDNN on AMD CPUs".

The trigger is 2-D only: the same pattern in 3-D (``Conv3D`` with a 1x1x1
kernel and stride (1, 2, 2) or (2, 2, 2) on even-sized maps, fitted) runs
with oneDNN on, where turning it off costs video models 44x per training step.
So the video apps (:func:`onednn_for_workload` ``"video"``, a process of their
own) turn it back on before TensorFlow loads; :func:`onednn_state` says what is
in force and why (``tfxai.ONEDNN_SETTING``, every run's ``metrics.json``).
"""

import os
import platform
import sys
import warnings

ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"


def cpu_vendor():
    """Return the CPU vendor string (``"AuthenticAMD"``, ``"GenuineIntel"``, ...) or ``""``."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or ""


HAZARDOUS_VENDORS = ("AuthenticAMD", "GenuineIntel")


def onednn_hazard():
    """True where the oneDNN strided-1x1 backward crash has been seen.

    Seen on an AMD EPYC CPU and on an Intel Xeon with AMX ("Intel(R) Xeon(R)
    Processor", TF 2.21: mini-Xception's fit and SmoothGrad abort with "corrupted
    size vs. prev_size" / "malloc assertion failure" while oneDNN is on).
    """
    return cpu_vendor() in HAZARDOUS_VENDORS


#: why the oneDNN setting in force was chosen (:func:`onednn_state`)
_ONEDNN_WHY = {"reason": "TensorFlow's default"}
USER_ONEDNN = os.environ.get(ONEDNN_VARIABLE)  # as the user set it, before tfxai decides


def onednn_state():
    """``{"TF_ENABLE_ONEDNN_OPTS": value or None (TensorFlow's default), "reason": why}``: what is in force in this process."""
    return {ONEDNN_VARIABLE: os.environ.get(ONEDNN_VARIABLE), "reason": _ONEDNN_WHY["reason"]}


def configure_onednn():
    """Turn oneDNN custom ops off on hazardous CPUs, before TensorFlow is imported.

    Returns the value in force afterwards (``"0"``, ``"1"`` or ``None`` for
    TensorFlow's default). Never overrides a value the user set.
    """
    if ONEDNN_VARIABLE in os.environ:
        _ONEDNN_WHY["reason"] = "set by the user"
        return os.environ[ONEDNN_VARIABLE]
    if not onednn_hazard():
        return None
    if "tensorflow" in sys.modules:
        _ONEDNN_WHY["reason"] = "TensorFlow was imported before tfxai: its default (on)"
        warnings.warn(
            "tensorflow was imported before tfxai on an AMD CPU, so oneDNN stays on and "
            "training small residual nets (strided 1x1 convs) may crash the process; "
            f"set {ONEDNN_VARIABLE}=0 before importing tensorflow to avoid it.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    os.environ[ONEDNN_VARIABLE] = "0"
    _ONEDNN_WHY["reason"] = (f"off by tfxai on this {cpu_vendor()} CPU: oneDNN's backward pass of a strided 1x1 Conv2D "
                             "on even-sized maps crashes the process (TensorFlow 2.21)")
    return "0"


def onednn_for_workload(workload):
    """Before TensorFlow loads, let a process that runs only ``workload`` use oneDNN where that workload is safe.

    ``"video"`` (3-D convolutions, not affected by the 2-D crash): oneDNN back
    on when tfxai had turned it off. Other workloads keep the setting. Nothing
    changes once TensorFlow is imported or when the user set the variable.
    Returns the value in force (also in ``tfxai.ONEDNN_SETTING``).
    """
    if workload == "video" and USER_ONEDNN is None and os.environ.get(ONEDNN_VARIABLE) == "0" and "tensorflow" not in sys.modules:
        os.environ[ONEDNN_VARIABLE] = "1"
        _ONEDNN_WHY["reason"] = ("on for a video workload: the 2-D strided 1x1 Conv2D crash does not occur with Conv3D, "
                                 "and oneDNN makes 3-D training steps ~44x faster")
        package = sys.modules.get("tfxai")
        if package is not None:
            package.ONEDNN_SETTING = "1"
    return os.environ.get(ONEDNN_VARIABLE)


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
