"""Files and models in and out: atomic writes and staged folders (:mod:`~tfxai.io.files`), loading
the models users bring with their class names (:mod:`~tfxai.io.models`), and serving exports
(:mod:`~tfxai.io.export`, imported on its own: it needs TensorFlow)."""

from tfxai.io.files import (
    atomic_path,
    check_output_folder,
    exchange_directories,
    replace_directory,
    staged_directory,
    write_image,
    write_json,
    write_text,
)
from tfxai.io.models import (
    LEGACY_SUFFIXES,
    MODEL_KINDS,
    UNSAFE_FLAG,
    check_model_kind,
    class_index,
    load_model,
    model_kind,
    read_class_names,
    unsafe_deserialization,
)

__all__ = [
    "LEGACY_SUFFIXES",
    "MODEL_KINDS",
    "UNSAFE_FLAG",
    "atomic_path",
    "check_model_kind",
    "check_output_folder",
    "class_index",
    "exchange_directories",
    "load_model",
    "model_kind",
    "read_class_names",
    "replace_directory",
    "staged_directory",
    "unsafe_deserialization",
    "write_image",
    "write_json",
    "write_text",
]
