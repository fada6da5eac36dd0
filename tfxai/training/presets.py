"""Named presets for dataclass configs: one ``from_preset`` for every app's config."""

import dataclasses
from typing import ClassVar

from tfxai.errors import TfxaiError

__all__ = ["PresetConfig"]


class PresetConfig:
    """Mixin for a dataclass config with named presets (``presets``: name -> field overrides) and a ``validate()``."""

    presets: ClassVar[dict] = {}

    @classmethod
    def from_preset(cls, preset, **overrides):
        """The named preset with ``overrides`` applied (``None`` values skipped), validated."""
        if preset not in cls.presets:
            raise TfxaiError(f"unknown preset {preset!r}: choose one of {', '.join(cls.presets)}")
        values = {**cls.presets[preset], **{key: value for key, value in overrides.items() if value is not None}}
        unknown = sorted(set(values) - {field.name for field in dataclasses.fields(cls)})
        if unknown:
            raise TfxaiError(f"unknown option(s) {unknown} for {cls.__name__}")
        return cls(**values).validate()
