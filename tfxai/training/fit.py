"""The one fit of every training run: ``model.fit`` with the NaN guard, a finiteness check and resume.

Every training entry point goes through :func:`fit` (directly or through
:func:`tfxai.training.run.run_training`), so every method stops at the first
batch whose loss is NaN or infinite with one line naming the term, and none
writes a model with NaN weights.
"""

import csv
import io
import sys

import keras
import numpy as np

from tfxai.errors import TfxaiError
from tfxai.training.resume import fit_resumable

__all__ = ["NaNGuard", "check_finite_training", "check_learning_rate", "fit", "history_csv", "progress_verbosity"]


def check_learning_rate(learning_rate, option="--learning-rate"):
    """Raise :class:`TfxaiError` naming ``option`` unless ``learning_rate`` is a finite positive number."""
    if not (np.isfinite(learning_rate) and learning_rate > 0):
        raise TfxaiError(f"{option} must be a positive number, got {learning_rate}")


def progress_verbosity(verbose="auto"):
    """Keras ``verbose``: a live progress bar on a terminal, one line per epoch in logs and CI."""
    if verbose != "auto":
        return verbose
    return 1 if sys.stdout.isatty() else 2


def fit(model, train, validation, epochs, callbacks=(), verbose="auto", backup=None, options=None):
    """The one ``model.fit`` of every training run: NaN guard, finiteness check, resume.

    Raises :class:`TfxaiError` naming the loss term if a logged loss becomes NaN or infinite
    (training stops at that batch), or if a weight does.

    With ``backup`` (a folder, :func:`tfxai.training.resume.backup_folder`) the state is
    backed up every epoch and an interrupted run resumes from it
    (:func:`tfxai.training.resume.fit_resumable`; ``options`` are the run's options).
    """
    verbose = progress_verbosity(verbose)
    nan_guard = NaNGuard()
    history = fit_resumable(model, train, validation_data=validation, epochs=epochs, callbacks=[nan_guard, *callbacks], verbose=verbose,
                            shuffle=False, backup=backup, options=options)  # datasets are shuffled upstream
    nan_guard.check()
    check_finite_training(model, history)
    return history


class NaNGuard(keras.callbacks.Callback):
    """Stop training at the first batch where a logged loss term is NaN or infinite; :meth:`check` then raises.

    Every logged value whose name contains ``loss`` is watched (``loss``,
    ``attention_loss``, ``perception_loss``, ``d_loss``, ...), so the error
    names the term that went bad first and the step (epoch and batch, from 1).
    """

    def __init__(self):
        super().__init__()
        self.problem = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        bad = [name for name, value in (logs or {}).items() if "loss" in name and not np.all(np.isfinite(value))]
        if bad and self.problem is None:
            terms = sorted(bad, key=lambda name: (name == "loss", name))  # the specific term first, the total last
            self.problem = f"at epoch {self._epoch + 1}, batch {batch + 1}: the {', '.join(terms)} became NaN or infinite"
            self.model.stop_training = True

    def check(self):
        """Raise :class:`TfxaiError` naming the step and the loss term when training was stopped by a bad loss."""
        if self.problem:
            raise TfxaiError(f"training stopped {self.problem}; lower --learning-rate or check the data for bad values")


def check_finite_training(model, history):
    """Raise :class:`TfxaiError` if any logged loss or any weight is NaN or infinite.

    ``TerminateOnNaN`` sees only the main loss; models with extra updates (ABN's
    COT) log their own losses, and a NaN can also hide in the weights (e.g. a
    learning rate of NaN). Every training app calls this before saving.
    """
    bad = sorted(name for name, values in history.history.items() if name.endswith("loss") and not np.all(np.isfinite(values)))
    if bad or not all(np.all(np.isfinite(weight)) for weight in model.get_weights()):
        what = f"the {', '.join(bad)} became NaN or infinite" if bad else "the weights became NaN or infinite"
        raise TfxaiError(f"training stopped: {what}; lower --learning-rate or check the data for bad values")


def history_csv(history):
    """Keras ``History.history`` as CSV text (one row per epoch)."""
    keys = sorted(history)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["epoch"] + keys)
    for epoch in range(len(history[keys[0]]) if keys else 0):
        writer.writerow([epoch + 1] + [f"{history[k][epoch]:.6g}" for k in keys])
    return buffer.getvalue()
