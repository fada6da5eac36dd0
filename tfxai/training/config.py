"""The run options every training config extends, its presets and its command-line metadata (no TensorFlow here).

A training config is a dataclass that extends :class:`RunOptions` and adds
the method's own fields. A field made with :func:`option` carries what the
apps need to offer it as a command-line option (help text, choices, bounds):
``tfxai.apps.options`` builds the click options from the fields, so a flag,
its default and its check are written once, here. :meth:`RunOptions.validate`
checks the bounds and choices of every field, names the field in its error
(``batch_size must be at least 1, got 0``; the apps print the flag instead)
and never changes a field. A method's presets are data beside the method
(``<method>_presets.py``: preset name -> field values), read by one
:meth:`RunOptions.from_preset`.
"""

import dataclasses
import functools
import math
import warnings
from typing import ClassVar, Optional

from tfxai.errors import TfxaiError

__all__ = ["ConfigError", "RunOptions", "TaskOptions", "field_metadata", "option", "renamed_fields"]

#: The seed a run uses when none is given.
DEFAULT_SEED = 0

#: The help of ``--seed`` (the ``seed`` field is a descriptor, so it carries no field metadata).
SEED_METADATA = {"help": f"Seed of the split, the initial weights, the batch order and the augmentation [{DEFAULT_SEED}]; a given "
                 "seed also makes the run repeat bit for bit (turning off XLA where it is on by default)."}


class ConfigError(TfxaiError):
    """A bad config value; ``fields`` are the field names the message uses (a name or a tuple; the apps print their flags instead)."""

    def __init__(self, fields, message):
        super().__init__(message)
        self.fields = (fields,) if isinstance(fields, str) else tuple(fields)
        self.field = self.fields[0]


def option(default=None, help="", *, choices=None, minimum=None, maximum=None, flag=None, metavar=None, hidden=False, required=False):
    """A config field that is also a command-line option.

    ``help`` is the option's help text; ``choices``, ``minimum`` and
    ``maximum`` (inclusive) are checked by :meth:`RunOptions.validate` and
    offered by the apps; ``flag`` overrides the option's name (default
    ``--field-name``); ``hidden`` fields are not offered as options;
    ``required`` options must be given on the command line.
    """
    metadata = {"help": help, "choices": tuple(choices) if choices else None, "minimum": minimum, "maximum": maximum,
                "flag": flag, "metavar": metavar, "hidden": hidden, "required": required}
    return dataclasses.field(default=default, metadata=metadata)


class _Seed:
    """The ``seed`` field: reads :data:`DEFAULT_SEED` when none was given, so a config knows whether the user asked for one."""

    def __get__(self, instance, owner):
        if instance is None:
            return None  # the field's default: not given
        given = instance.__dict__.get("_seed")
        return DEFAULT_SEED if given is None else given

    def __set__(self, instance, value):
        instance.__dict__["_seed"] = None if value is None else int(value)


def renamed_fields(**renames):
    """Class decorator: accept the old field names ``old=new`` in the constructor, with a DeprecationWarning."""

    def decorate(cls):
        init = cls.__init__

        @functools.wraps(init)
        def __init__(self, *args, **kwargs):
            for old, new in renames.items():
                if old in kwargs:
                    warnings.warn(f"{cls.__name__}({old}=...) is deprecated: use {new}=...", DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            init(self, *args, **kwargs)

        cls.__init__ = __init__
        cls.renamed = {**getattr(cls, "renamed", {}), **renames}
        return cls

    return decorate


@dataclasses.dataclass
class TaskOptions:
    """The options every task of the apps shares, training or not (``tta``, ``generate``, ``evaluate attention``).

    ``seed`` seeds what the task draws at random (0 when none is given; a
    given seed also asks for runs that repeat bit for bit,
    :attr:`deterministic`). ``out`` is written only when the task finishes,
    replacing an existing folder only with ``overwrite``.
    """

    out: str = option("saved_models/run", "Output folder (written only when training finishes).")
    seed: Optional[int] = _Seed()
    batch_size: int = option(32, "Samples per batch.", minimum=1)
    overwrite: bool = option(False, "Replace an existing output folder once the new one is complete.")

    @property
    def deterministic(self):
        """Whether a seed was given: the run then repeats bit for bit (no XLA, whose CPU kernels repeat only to float rounding)."""
        return self.__dict__.get("_seed") is not None

    def validate(self):
        """Raise :class:`ConfigError` naming the first field out of its bounds or choices; returns ``self`` unchanged."""
        for field in dataclasses.fields(self):
            check_field(field.name, field_metadata(type(self), field.name), getattr(self, field.name))
        return self

    def to_dict(self):
        """The options as JSON-ready values (tuples as lists), with the seed used and whether it was given."""
        values = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        values["deterministic"] = self.deterministic
        return {key: (list(value) if isinstance(value, tuple) else value) for key, value in values.items()}


@dataclasses.dataclass
class RunOptions(TaskOptions):
    """The options of every training run: :class:`TaskOptions` and the epochs, the learning rate and the presets.

    ``seed`` seeds the split, the initial weights, the batch order and the
    augmentation.
    """

    epochs: int = option(1, "Training epochs.", minimum=1)
    learning_rate: float = option(1e-3, "Learning rate of the optimizer.")
    preset: Optional[str] = dataclasses.field(default=None, compare=False)  # where the values came from (from_preset; metrics.json)

    #: Named presets: preset name -> field values (a ``<method>_presets.py`` beside each method).
    presets: ClassVar[dict] = {}
    #: What the presets are, for ``--preset``'s help.
    preset_help: ClassVar[str] = ""
    #: The preset a run uses without ``--preset`` (see :meth:`default_preset`).
    paper_preset: ClassVar[str] = "paper"

    def __init_subclass__(cls, presets=None, paper_preset=None, preset_help=None, **kwargs):
        """``class ABNConfig(RunConfig, presets=ABN_PRESETS, paper_preset="paper", preset_help="...")``."""
        super().__init_subclass__(**kwargs)
        for name, value in (("presets", presets), ("paper_preset", paper_preset), ("preset_help", preset_help)):
            if value is not None:
                setattr(cls, name, value)

    @classmethod
    def from_preset(cls, name, **overrides):
        """The named preset with ``overrides`` applied (``None`` values skipped), validated."""
        if name not in cls.presets:
            raise ConfigError("preset", f"unknown preset {name!r}: choose one of {', '.join(cls.presets)}")
        for old, new in getattr(cls, "renamed", {}).items():
            if old in overrides:
                warnings.warn(f"{cls.__name__}.from_preset({old}=...) is deprecated: use {new}=...", DeprecationWarning, stacklevel=2)
                overrides[new] = overrides.pop(old)
        values = {"preset": name, **cls.presets[name], **{key: value for key, value in overrides.items() if value is not None}}
        unknown = sorted(set(values) - {field.name for field in dataclasses.fields(cls)})
        if unknown:
            raise TfxaiError(f"unknown option(s) {unknown} for {cls.__name__}")
        return cls(**values).validate()

    @classmethod
    def default_preset(cls, gpu=None):
        """The preset of a run without ``--preset``: ``small`` without a GPU, the paper's (``paper_preset``) with one."""
        if gpu is None:
            import tensorflow as tf

            gpu = bool(tf.config.list_physical_devices("GPU"))
        return cls.paper_preset if gpu or "small" not in cls.presets else "small"

    def validate(self):
        """Raise :class:`ConfigError` naming the first field out of its bounds or choices; returns ``self`` unchanged."""
        super().validate()
        if not (isinstance(self.learning_rate, (int, float)) and math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ConfigError("learning_rate", f"learning_rate must be a positive number, got {self.learning_rate}")
        return self


def field_metadata(config_class, name):
    """The :func:`option` metadata of field ``name``: a subclass that only changes a default keeps its base's help and bounds."""
    if name == "seed":
        return SEED_METADATA
    for klass in config_class.__mro__:
        field = getattr(klass, "__dataclass_fields__", {}).get(name)
        if field is not None and field.metadata:
            return field.metadata
    return {}


def check_field(name, meta, value):
    """Raise :class:`ConfigError` when ``value`` breaks the bounds or choices in ``meta`` (of an :func:`option` field)."""
    if value is None or not meta:
        return
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(name, f"{name} must be one of {', '.join(map(str, meta['choices']))}, got {value!r}")
    if meta.get("minimum") is not None and value < meta["minimum"]:
        raise ConfigError(name, f"{name} must be at least {meta['minimum']}, got {value}")
    if meta.get("maximum") is not None and value > meta["maximum"]:
        raise ConfigError(name, f"{name} must be at most {meta['maximum']}, got {value}")
