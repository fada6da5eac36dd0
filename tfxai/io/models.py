"""Loading models users bring (``.keras``, Keras-2 ``.h5``, run folders) with their class names, in Keras' safe mode."""

import contextlib
import json
import os

from tfxai.errors import TfxaiError

#: The kinds of model the loader tells apart (:func:`model_kind`), and what to do with each instead.
MODEL_KINDS = ("image", "attention", "video", "signal", "other")
KIND_ADVICE = {
    "image": "use 'tfxai explain' (or 'tfxai export')",
    "attention": "use 'tfxai explain --method abn' (or gain): its own attention maps",
    "video": "use 'tfxai explain video'",
    "signal": "its attention is plotted by 'tfxai train signal' (attention.png, --attention-recording)",
    "other": "pass a classifier of images (H, W, C), clips (T, H, W, C) or signal windows (T, channels)",
}
_INPUT_NAMES = {"image": "images", "attention": "images", "video": "clips", "signal": "windows", "other": "input"}


def model_input_shape(model):
    """The input shape without the batch axis (``(H, W, C)``, ``(T, H, W, C)``, ``(T, channels)``), or None when unknown.

    Attention models (:class:`tfxai.attention.AttentionModel`, ST-ABN) carry it as
    ``image_shape``; other models in their (first) input.
    """
    shape = getattr(model, "image_shape", None)
    if shape is not None:
        return tuple(shape)
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):  # a subclassed model that was never called has no inputs
        return None
    return tuple(inputs[0].shape[1:]) if inputs else None


def model_kind(model):
    """``"image"``, ``"attention"``, ``"video"``, ``"signal"`` or ``"other"``: what ``model`` classifies.

    ``video``: clips (T, H, W, C) (ST-ABN, the 3D ResNet ``R3D``, any model with a
    5-D input); ``signal``: windows (T, channels) (SAN1D, CNN1D, any model with a
    3-D input); ``attention``: an image model with its own attention maps and losses
    (ABN, GAIN: :class:`tfxai.attention.AttentionModel`); ``image``: any other model
    of images (H, W, C); ``other``: anything else (a dense network on vectors, an unknown input).
    """
    shape = model_input_shape(model)
    if shape is None:
        return "other"
    if len(shape) == 4:
        return "video"
    if len(shape) == 2:
        return "signal"
    if len(shape) == 3:
        # the AttentionModel API, checked without importing tfxai.attention (which imports this package)
        return "attention" if callable(getattr(model, "loss_terms", None)) and callable(getattr(model, "explain", None)) else "image"
    return "other"


def check_model_kind(model, kinds, path=None):
    """``model`` itself when :func:`model_kind` is one of ``kinds``, else a one-line :class:`TfxaiError` saying what it is and what to use.

    E.g. ``run/model.keras is a video model (STABN, clips (4, 8, 8, 1)): use 'tfxai explain video'``.
    """
    kind = model_kind(model)
    if kind in kinds:
        return model
    shape = model_input_shape(model)
    shown = f", {_INPUT_NAMES[kind]} {shape}" if shape is not None else ""
    what = f"{_a(kind)} model" if kind != "other" else "not a model of images, clips or signals"
    name = os.fspath(path) if path is not None else f"this {type(model).__name__}"
    raise TfxaiError(f"{name} is {what} ({type(model).__name__}{shown}): {KIND_ADVICE[kind]}")


def class_index(name, class_names):
    """The index of a class given by name or by index (``"cat"``, ``"3"`` or ``3``), or a one-line :class:`TfxaiError`."""
    class_names = list(class_names)
    name = str(name).strip()
    if name in class_names:
        return class_names.index(name)
    if name.isdigit() and int(name) < len(class_names):
        return int(name)
    shown = ", ".join(class_names[:12]) + (", ..." if len(class_names) > 12 else "")
    if name.lstrip("-").isdigit():
        raise TfxaiError(f"class index {name} is out of range: give 0 to {len(class_names) - 1} or a name ({shown})")
    raise TfxaiError(f"unknown class {name!r}: give a class name or an index below {len(class_names)}; the model's classes are {shown}")


def read_class_names(path):
    """Class names from a JSON file: a list of names, or a dict name -> index / index -> name.

    Raises :class:`TfxaiError` with what to fix for an unreadable or malformed file.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            names = json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise TfxaiError(f"cannot read class names from {path}: {error}; it must be a JSON list of names") from None
    if isinstance(names, dict):  # {"0": "cat", ...} or {"cat": 0, ...}
        if all(isinstance(v, int) for v in names.values()):
            names = [name for name, _ in sorted(names.items(), key=lambda item: item[1])]
        else:
            try:
                names = [names[key] for key in sorted(names, key=int)]
            except ValueError:
                names = None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise TfxaiError(f"{path} must hold a JSON list of class names, e.g. [\"cat\", \"dog\"]")
    return names


LEGACY_SUFFIXES = (".h5", ".hdf5")


UNSAFE_FLAG = "--unsafe-deserialization"


@contextlib.contextmanager
def unsafe_deserialization(allowed=True):
    """Within the block, Keras loads model files holding Python code (``Lambda`` layers) when ``allowed``;
    Keras' previous setting is restored afterwards (``keras.config.enable_unsafe_deserialization`` alone
    would switch safe mode off for the rest of the process). What the apps' ``--unsafe-deserialization`` does."""
    if not allowed:
        yield
        return
    import keras
    from keras.src.backend.common import global_state

    previous = global_state.get_global_attribute("safe_mode_saving")
    keras.config.enable_unsafe_deserialization()
    try:
        yield
    finally:
        global_state.set_global_attribute("safe_mode_saving", previous)


def load_model(path, expect=None, safe_mode=None, compile=True, kinds=None):
    """``(model, class_names or None)`` from a ``.keras`` file, a Keras-2 HDF5 file or a run folder.

    A run folder holds ``model.keras`` and ``class_names.json`` (written by a
    training app). ``.h5``/``.hdf5`` files (Keras 2 / TF 2.x) are loaded
    without their training configuration: their optimizer settings (``lr``,
    ``decay``) do not exist in Keras 3, and explaining or exporting does not
    need them. ``expect`` is a model class (``ABN``, ``GAIN``; ``keras.Model``
    or None takes any): a model of another kind is a :class:`TfxaiError`
    naming the app that writes the expected kind (the class's ``app`` attribute).

    Files are loaded in Keras' safe mode: a model holding Python code (a
    ``Lambda`` layer) is refused with a :class:`TfxaiError` naming the apps'
    ``--unsafe-deserialization`` flag. ``safe_mode=False`` (or that flag, which
    runs the app within :func:`unsafe_deserialization`) loads it anyway:
    only for files you trust, as loading runs their code. ``None`` follows Keras'
    setting (safe unless unsafe deserialization was enabled). ``compile=False``
    skips the training configuration (never loaded from HDF5 files).
    ``kinds`` (e.g. ``("image", "attention")``) are the :func:`model_kind`\ s
    the caller takes: a model of another kind is a one-line :class:`TfxaiError`
    naming the app for it (:func:`check_model_kind`).
    """
    import keras

    written_by = getattr(expect, "app", "tfxai train")
    path = os.fspath(path)
    model_file = os.path.join(path, "model.keras") if os.path.isdir(path) else path
    if os.path.isdir(path) and not os.path.isfile(model_file) and os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise TfxaiError(f"{path} is a SavedModel (for serving): pass the .keras file or the folder written by '{written_by}'")
    if not os.path.isfile(model_file):
        raise TfxaiError(f"model {model_file} does not exist: pass a .keras or .h5 file or the folder written by '{written_by}'")
    legacy = model_file.lower().endswith(LEGACY_SUFFIXES)
    try:
        model = keras.saving.load_model(model_file, compile=compile and not legacy, safe_mode=safe_mode)
    except Exception as error:  # noqa: BLE001 - Keras raises many types for a bad file
        if "safe_mode=False" in str(error):
            raise TfxaiError(
                f"{model_file} holds a Lambda layer (Python code that runs when loaded), refused in safe mode: pass "
                f"{UNSAFE_FLAG} (safe_mode=False in Python) only if you trust this file"
            ) from None
        raise TfxaiError(
            f"cannot load model {model_file} ({type(error).__name__}): is it a .keras file (Keras 3) or an .h5/.hdf5 file "
            "of built-in Keras layers?"
        ) from error
    if expect is not None and not isinstance(model, expect):
        raise TfxaiError(
            f"{model_file} holds {_a(type(model).__name__)}, not {_a(expect.__name__)}: pass a model written by '{written_by}'"
        )
    if kinds is not None:
        check_model_kind(model, kinds, path)
    names_file = os.path.join(os.path.dirname(model_file), "class_names.json")
    class_names = read_class_names(names_file) if os.path.isfile(names_file) else None
    return model, class_names


def _a(name):
    """``name`` with its indefinite article (``an ABN``, ``a GAIN``)."""
    return f"{'an' if name[:1].upper() in 'AEIOU' else 'a'} {name}"
