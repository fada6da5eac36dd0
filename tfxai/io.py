"""Writing results without ever leaving them half-written.

Every file is written to a temporary sibling and renamed into place; output
folders are built in a staging folder and swapped in only when complete.
"""

import contextlib
import json
import os
import shutil
import tempfile

from tfxai.errors import TfxaiError


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary name keeps the suffix of ``path`` so that libraries that choose
    a format by extension (``.keras``, ``.png``) behave the same.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    base, suffix = os.path.splitext(os.path.basename(path))
    handle, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=f".tmp{suffix}", dir=directory)
    os.close(handle)
    os.remove(tmp)
    try:
        yield tmp
        if os.path.isdir(tmp):
            replace_directory(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)


def write_json(path, obj):
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_image(path, image):
    """Write an 8-bit image (BGR or grey, OpenCV's order) to ``path`` atomically; the suffix picks the format."""
    import cv2

    with atomic_path(path) as tmp:
        if not cv2.imwrite(tmp, image):
            raise TfxaiError(f"could not write {path}: check the output folder")


def exchange_directories(first, second):
    """Swap two existing paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where that is not available.

    There is no moment at which either path is missing, so a process killed at any
    point leaves one of the two complete folders at each name.
    """
    import ctypes
    import errno

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # not Linux, or a C library without renameat2 (glibc < 2.28)
        return False
    at_cwd, exchange = -100, 2  # AT_FDCWD, RENAME_EXCHANGE
    if renameat2(at_cwd, os.fsencode(first), at_cwd, os.fsencode(second), exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # a file system (or kernel) without the exchange
        return False
    raise OSError(code, os.strerror(code), second)


def replace_directory(staging, target):
    """Move the finished folder ``staging`` onto ``target``, replacing any old one.

    On Linux the two folders are swapped atomically (:func:`exchange_directories`), so a
    kill at any moment leaves ``target`` either the old or the new folder, never missing.
    Elsewhere the old folder is first renamed aside (``.<name>.old.*``), a window in
    which ``target`` is absent; a failure in it puts the old folder back.
    """
    if os.path.exists(target) and exchange_directories(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # it now holds the old folder
        return
    backup = None
    if os.path.exists(target):
        backup = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.old.", dir=os.path.dirname(os.path.abspath(target)))
        os.rmdir(backup)
        os.replace(target, backup)
    try:
        os.replace(staging, target)
    except OSError:
        if backup is not None:
            os.replace(backup, target)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def check_output_folder(target, overwrite=False):
    """Return ``target`` as an absolute path; raise :class:`TfxaiError` if it exists and ``overwrite`` is False.

    Apps call it before computing, so a long run never ends in this refusal.
    """
    target = os.path.abspath(os.fspath(target))
    if os.path.exists(target) and not overwrite:
        raise TfxaiError(f"output folder {target} already exists: pass --overwrite or choose another output folder")
    return target


@contextlib.contextmanager
def staged_directory(target, overwrite=False):
    """Yield a staging folder that becomes ``target`` only if the block succeeds.

    Raises :class:`TfxaiError` if ``target`` exists and ``overwrite`` is False, so
    earlier results are never lost by accident.
    """
    target = check_output_folder(target, overwrite)
    parent = os.path.dirname(target)
    created = _missing_parents(parent)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.staging.", dir=parent)
    done = False
    try:
        yield staging
        replace_directory(staging, target)
        done = True
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)
        if not done:  # a failed run leaves no trace, not even the empty folders it made
            for folder in created:
                with contextlib.suppress(OSError):
                    os.rmdir(folder)


def _missing_parents(folder):
    """Folders from ``folder`` upwards that do not exist yet, deepest first."""
    missing = []
    while folder and not os.path.exists(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    return missing


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


def load_model(path, expect=None, safe_mode=None, compile=True):
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
    names_file = os.path.join(os.path.dirname(model_file), "class_names.json")
    class_names = read_class_names(names_file) if os.path.isfile(names_file) else None
    return model, class_names


def _a(name):
    """``name`` with its indefinite article (``an ABN``, ``a GAIN``)."""
    return f"{'an' if name[:1].upper() in 'AEIOU' else 'a'} {name}"
