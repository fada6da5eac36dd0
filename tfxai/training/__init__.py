"""The training engine every method uses.

Run options and presets (:mod:`~tfxai.training.presets`), datasets with keyed
randomness (:mod:`~tfxai.training.run`, :mod:`~tfxai.training.augmentation`),
resume (:mod:`~tfxai.training.resume`), distribution
(:mod:`~tfxai.training.distribute`), mixed precision
(:mod:`~tfxai.training.precision`), determinism
(:mod:`~tfxai.training.determinism`), exact BatchNorm statistics
(:mod:`~tfxai.training.batchnorm`), and the image run folder
(:mod:`~tfxai.training.run`).
"""

from tfxai.training.run import (  # noqa: F401 (listed in __all__ through run.__all__)
    RunConfig,
    early_stopping_callbacks,
    kept_epoch,
    make_dataset,
    run_training,
    shift_and_crop,
    split_run_data,
    write_run_files,
    write_run_folder,
)

from tfxai.training import run as _run
from tfxai.training.config import ConfigError, RunOptions, option
from tfxai.training.result import RunResult

__all__ = [*_run.__all__, "ConfigError", "RunOptions", "RunResult", "option"]
