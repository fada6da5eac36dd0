"""The options of the detector's training (no TensorFlow here: the apps build their flags from it)."""

import dataclasses

from tfxai.training.config import RunOptions, option

__all__ = ["DetectorTrainingConfig"]


@dataclasses.dataclass
class DetectorTrainingConfig(RunOptions):
    """Options of the detector's pre-training and main training (``tfxai annotate pretrain|train``).

    ``out`` is the detector file (``.keras``); ``region_size`` is the
    tracker's search region the crops are cut like (``--search-size``).
    """

    out: str = option("detector.keras", "Where to write the detector (.keras).", required=True)
    epochs: int = 15
    batch_size: int = 8
    learning_rate: float = 2e-3
    overwrite: bool = option(False, hidden=True)  # the detector file is replaced atomically
    samples: int = option(400, "Augmented search-region crops per epoch.", minimum=8)
    input_size: int = option(256, "Detector input (the 416-px search region is resized to it); a multiple of 32.", minimum=32)
    width: int = option(16, "Filters of the first stage.", minimum=4, maximum=128)
    region_size: int = option(416, "Side in pixels of the search region the crops are cut like.", minimum=32, flag="--search-size")
