"""Data: image folders, labelled images in memory, the bundled demo data.

The names below load their module on first use (PEP 562), so that ``tfxai.data.video``
(OpenCV only) does not import TensorFlow: the studio starts without it.
"""

import importlib

_MODULES = {
    "load_demo": "demo",
    "ImageFolder": "image_folder", "image_dataset": "image_folder", "list_images": "image_folder",
    "load_images": "image_folder", "read_image": "image_folder", "scan_image_folder": "image_folder",
    "split_stratified": "image_folder", "to_model_channels": "image_folder",
    "DEMO": "labelled", "LabelledImages": "labelled", "load_labelled_images": "labelled",
}

__all__ = sorted(_MODULES)


def __getattr__(name):
    if name in _MODULES:
        value = getattr(importlib.import_module(f"tfxai.data.{_MODULES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tfxai.data' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_MODULES))
