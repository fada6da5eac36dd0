"""Early stopping resumes with its patience and its best epoch's weights (tfxai.training.resume.RunBackup)."""

import keras
import numpy as np


class StopAfter(keras.callbacks.Callback):
    """Stops training after ``epochs`` epochs (after that epoch's backup): an interruption in-process."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            self.model.stop_training = True


def test_early_stopping_keeps_its_patience_and_best_weights_across_a_resume(tmp_path):
    """Scores 0.5, 0.9, 0.6, 0.7, 0.8, 0.95 with patience 2: an uninterrupted run stops after epoch 4 and keeps epoch 2's
    weights. Interrupted after epoch 3 and rerun, a fresh EarlyStopping would see 0.7 as its best and run all 6 epochs."""
    import tensorflow as tf

    from tfxai.training.resume import fit_resumable

    scores = [0.5, 0.9, 0.6, 0.7, 0.8, 0.95]

    class Score(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["score"] = scores[epoch]

    data = tf.data.Dataset.from_tensor_slices((np.linspace(-1, 1, 8, dtype="float32")[:, None], np.ones((8, 1), "float32"))).batch(4)

    def run(backup, interrupt=None):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        model.compile(keras.optimizers.SGD(0.1), "mse")
        stopping = keras.callbacks.EarlyStopping("score", mode="max", patience=2, restore_best_weights=True)
        callbacks = [Score(), stopping] + ([StopAfter(interrupt)] if interrupt else [])
        history = fit_resumable(model, data, epochs=len(scores), backup=str(backup), callbacks=callbacks, verbose=0)
        return model.get_weights(), history.history

    whole, whole_logs = run(tmp_path / "whole")
    run(tmp_path / "resumed", interrupt=3)
    resumed, resumed_logs = run(tmp_path / "resumed")
    assert whole_logs["score"] == scores[:4]  # stopped after epoch 4
    assert resumed_logs == whole_logs
    for a, b in zip(whole, resumed):
        np.testing.assert_array_equal(a, b)  # epoch 2's weights, restored at the end of both runs
