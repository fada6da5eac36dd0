"""The ``--augment`` vocabulary every image training app shares (no TensorFlow here, so ``--help`` stays fast).

A run augments with random left-right flips, random shifts and crops (up to
``shift_crop`` of the image side, :func:`tfxai.training.shift_and_crop` or
``train mixed``'s pad-and-crop), both, or neither. Flips are never on by
default: a mirrored digit, letter or handed object can belong to another
class, so the user chooses ``flip`` only for data whose classes survive a mirror.
"""

from tfxai.errors import TfxaiError

__all__ = ["AUGMENTATIONS", "DEFAULT_SHIFT_CROP", "augmentation_name", "resolve_augmentation"]

#: The choices of ``--augment``.
AUGMENTATIONS = ("none", "shift", "flip", "flip+shift")

#: The shift/crop size (fraction of the image side) of ``--augment shift`` when no size is given.
DEFAULT_SHIFT_CROP = 0.1

_LEGACY = {"flip_crop": "flip+shift"}  # train mixed's old name


def resolve_augmentation(augment, shift_crop=0.0):
    """``(flip, shift_crop)`` of an ``--augment`` choice; ``shift_crop`` is the size of shifts (default :data:`DEFAULT_SHIFT_CROP`).

    ``augment`` may also be the older boolean (flips or not), which keeps
    ``shift_crop`` as given.
    """
    if augment is None or isinstance(augment, bool) or type(augment).__name__ == "bool_":
        return bool(augment), float(shift_crop or 0.0)
    augment = _LEGACY.get(augment, augment)
    if augment not in AUGMENTATIONS:
        raise TfxaiError(f"unknown --augment {augment!r}: choose one of {', '.join(AUGMENTATIONS)}")
    shift = float(shift_crop or DEFAULT_SHIFT_CROP) if "shift" in augment else 0.0
    return "flip" in augment, shift


def augmentation_name(flip, shift_crop):
    """The ``--augment`` choice that means ``flip`` and ``shift_crop`` (e.g. ``"flip+shift"``)."""
    return "+".join((["flip"] if flip else []) + (["shift"] if shift_crop else [])) or "none"
