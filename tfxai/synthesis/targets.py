"""Target distributions written by people: ``"cat:0.9,dog:0.1"`` and class-name files."""

import os

import numpy as np

from tfxai.errors import TfxaiError
from tfxai.io import class_index, read_class_names

CLASS_NAMES_FILE = "class_names.json"


def parse_target(text, class_names, tolerance=1e-3):
    """Parse ``"cat:0.9,dog:0.1"`` into a probability vector over ``class_names``.

    Classes not named get probability 0. A name may also be a class index
    (``"3:0.5,7:0.5"``); a lone class (``"cat"`` or ``"3"``) gets probability 1.

    Raises
    ------
    TfxaiError
        On a malformed entry, an unknown or repeated class, a probability outside
        [0, 1], or probabilities that do not sum to 1.
    """
    class_names = list(class_names)
    target = np.zeros(len(class_names), dtype="float32")
    entries = [entry.strip() for entry in str(text).split(",") if entry.strip()]
    lone = entries[0] if len(entries) == 1 and ":" not in entries[0] else None
    if lone is not None and (lone in class_names or (lone.isdigit() and int(lone) < len(class_names))):
        entries = [f"{lone}:1"]  # one class, by name or index: all of the probability
    if not entries:
        raise TfxaiError(f"empty target {text!r}: write it as 'class:probability,...', e.g. 'cat:0.9,dog:0.1'")
    seen = set()
    for entry in entries:
        name, colon, value = entry.rpartition(":")
        name = name.strip()
        if not colon or not name:
            raise TfxaiError(f"bad target entry {entry!r}: write 'class:probability', e.g. 'cat:0.9,dog:0.1', or one class name")
        try:
            probability = float(value)
        except ValueError:
            raise TfxaiError(f"bad probability {value.strip()!r} in target entry {entry!r}: use a number such as 0.9") from None
        index = class_index(name, class_names)
        if index in seen:
            raise TfxaiError(f"class {name!r} appears twice in target {text!r}: name each class once")
        if not 0.0 <= probability <= 1.0:
            raise TfxaiError(f"probability {probability} for {name!r} is outside [0, 1]: use values between 0 and 1")
        seen.add(index)
        target[index] = probability
    total = float(target.sum())
    if abs(total - 1.0) > tolerance:
        raise TfxaiError(f"target probabilities sum to {total:.4g}, not 1: adjust them in {text!r}")
    return target / total


def format_distribution(probabilities, class_names, top=None, digits=4):
    """``"cat:0.9;dog:0.1"`` for the non-zero (or ``top`` largest) entries, largest first."""
    probabilities = np.asarray(probabilities, dtype="float64")
    order = np.argsort(-probabilities, kind="stable")
    if top is not None:
        order = order[:top]
    else:
        order = [i for i in order if probabilities[i] > 0]
    return ";".join(f"{class_names[i]}:{probabilities[i]:.{digits}f}" for i in order)


def load_class_names(classes=None, model_path=None, num_classes=None):
    """Class names from ``classes`` (a JSON file or ``"a,b,c"``), else ``class_names.json`` next to the model.

    Falls back to ``"0", "1", ...`` when neither exists and ``num_classes`` is known.
    """
    names = None
    if classes:
        if os.path.isfile(classes):
            names = read_class_names(classes)
        else:
            names = [name.strip() for name in str(classes).split(",") if name.strip()]
    elif model_path is not None:
        folder = model_path if os.path.isdir(model_path) else os.path.dirname(os.path.abspath(model_path))
        candidate = os.path.join(folder, CLASS_NAMES_FILE)
        if os.path.isfile(candidate):
            names = read_class_names(candidate)
    if names is None:
        if num_classes is None:
            raise TfxaiError(f"no class names: put {CLASS_NAMES_FILE} next to the model or pass --classes")
        names = [str(i) for i in range(num_classes)]
    if num_classes is not None and len(names) != num_classes:
        raise TfxaiError(
            f"{len(names)} class names given but the model has {num_classes} outputs: "
            "give one name per output (--classes or class_names.json)"
        )
    if len(set(names)) != len(names):
        raise TfxaiError("class names must be unique: fix --classes or class_names.json")
    return names


