"""Named presets for dataclass configs: served by :class:`tfxai.training.config.RunOptions` (kept for old imports)."""

from tfxai.training.config import RunOptions

__all__ = ["PresetConfig"]

#: The old name of the run-options base (its ``from_preset`` and ``presets``).
PresetConfig = RunOptions
