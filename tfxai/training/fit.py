"""The one fit of every training run: ``model.fit`` with the NaN guard, a finiteness check, resume and an exact iteration count.

Every training entry point goes through :func:`fit` (directly or through
:func:`tfxai.training.run.run_training`): the image runs (classifier, ABN, GAIN,
video), the demo, mixed training, signals, the annotation detector, StarGAN v2
and the collaborative GANs (and so each gate-search trial). So every method
stops at the first batch whose loss is NaN or infinite with one line naming the
term, and none writes a model with NaN weights.
"""

import csv
import io
import shutil
import sys

import keras
import numpy as np

from tfxai.errors import TfxaiError, raised_inside
from tfxai.training.resume import fit_resumable

__all__ = ["ADVICE", "NaNGuard", "check_finite_training", "check_learning_rate", "fit", "history_csv", "progress_verbosity"]


def check_learning_rate(learning_rate, option="--learning-rate"):
    """Raise :class:`TfxaiError` naming ``option`` unless ``learning_rate`` is a finite positive number."""
    if not (np.isfinite(learning_rate) and learning_rate > 0):
        raise TfxaiError(f"{option} must be a positive number, got {learning_rate}")


def progress_verbosity(verbose="auto"):
    """Keras ``verbose``: a live progress bar on a terminal, one line per epoch in logs and CI."""
    if verbose != "auto":
        return verbose
    return 1 if sys.stdout.isatty() else 2


#: What a NaN error advises when the run does not say otherwise.
ADVICE = "lower --learning-rate or check the data for bad values"


def fit(model, train, validation=None, epochs=None, callbacks=(), verbose="auto", backup=None, options=None, *,
        steps_per_epoch=None, iterations=None, shuffle=False, batch_size=None, loss_terms=None, advice=ADVICE):
    """The one ``model.fit`` of every training run: NaN guard, finiteness check, resume, an exact iteration count.

    Args:
        model: a compiled Keras model.
        train: a ``tf.data`` dataset, an ``(x, y)`` pair of arrays (batched by
            ``batch_size``, shuffled with ``shuffle``), or a function of the
            epochs already run that returns the data (an endless stream that
            must skip what those epochs consumed; see :func:`fit_resumable`).
        validation: Keras ``validation_data`` (None: no validation).
        epochs: epochs to train; ignored with ``iterations``.
        callbacks, verbose: Keras' (``verbose="auto"``: :func:`progress_verbosity`).
        backup, options: with ``backup`` (a folder, :func:`tfxai.training.resume.backup_folder`)
            the state is backed up every epoch and an interrupted run resumes
            from it (:func:`tfxai.training.resume.fit_resumable`; ``options``
            are the run's options, which a rerun must repeat).
        steps_per_epoch: Keras'; needed with ``iterations``.
        iterations: train exactly this many steps in all (epochs of
            ``steps_per_epoch`` steps, the last one possibly partial;
            :class:`~tfxai.training.resume.IterationLimit`), also across a resume.
        shuffle: Keras' (for arrays; datasets are shuffled upstream).
        batch_size: Keras' (for arrays).
        loss_terms: the logged names the NaN guard watches (default: every
            name containing ``loss``, e.g. ``loss``, ``attention_loss``, ``d_loss``).
        advice: what the NaN error tells the user to do.

    Raises :class:`TfxaiError` naming the step and the loss term when a watched
    loss becomes NaN or infinite (training stops at that batch), or when a weight
    does; the backup is then deleted (the run cannot go on, and a rerun with a
    lower learning rate, another option, starts afresh rather than being refused).
    A :class:`TfxaiError` raised while the data is read (an image file deleted
    or corrupted after the up-front check) ends the run with that one line,
    not TensorFlow's traceback; the backup of the finished epochs is kept.
    Returns the Keras ``History`` of the whole run.
    """
    from tfxai.training.resume import IterationLimit

    verbose = progress_verbosity(verbose)
    nan_guard = NaNGuard(loss_terms)
    callbacks = [nan_guard, *callbacks]
    if iterations is not None:
        if not steps_per_epoch or iterations < 1:
            raise TfxaiError(f"training for {iterations} iterations needs a positive steps_per_epoch, got {steps_per_epoch}")
        epochs = -(-int(iterations) // int(steps_per_epoch))
        callbacks.insert(1, IterationLimit(iterations, steps_per_epoch))
    if epochs is None:
        raise TfxaiError("fit needs epochs or iterations")
    fit_options = {"validation_data": validation, "steps_per_epoch": steps_per_epoch, "shuffle": shuffle}
    if isinstance(train, tuple):  # (x, y) arrays
        train, fit_options["y"] = train
        fit_options["batch_size"] = batch_size
    try:
        history = fit_resumable(model, train, epochs=epochs, callbacks=callbacks, verbose=verbose, backup=backup, options=options,
                                **fit_options)
    except Exception as error:  # e.g. a file deleted mid-epoch: the data map's one-line TfxaiError, not TensorFlow's traceback
        inner = raised_inside(error)
        if inner is None or inner is error:
            raise
        raise inner from None
    problem = nan_guard.problem or _non_finite(model, history, nan_guard.watches)
    if problem:
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
        raise TfxaiError(f"training stopped {problem}; {advice}")
    return history


class NaNGuard(keras.callbacks.Callback):
    """Stop training at the first batch where a logged loss term is NaN or infinite; :meth:`check` then raises.

    Every logged value whose name contains ``loss`` is watched (``loss``,
    ``attention_loss``, ``perception_loss``, ``d_loss``, ...), or the names in
    ``loss_terms`` (models whose terms are named otherwise, e.g. StarGAN v2's
    ``g_cycle``), so the error names the term that went bad first and the step
    (epoch and batch, from 1).
    """

    def __init__(self, loss_terms=None):
        super().__init__()
        self.loss_terms = None if loss_terms is None else frozenset(loss_terms)
        self.problem = None
        self._epoch = 0

    def watches(self, name):
        """Whether the logged value ``name`` is a loss term this guard watches."""
        return "loss" in name if self.loss_terms is None else name in self.loss_terms

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        bad = [name for name, value in (logs or {}).items() if self.watches(name) and not np.all(np.isfinite(value))]
        if bad and self.problem is None:
            terms = sorted(bad, key=lambda name: (name == "loss", name))  # the specific term first, the total last
            self.problem = f"at epoch {self._epoch + 1}, batch {batch + 1}: the {', '.join(terms)} became NaN or infinite"
            self.model.stop_training = True

    def check(self, advice=ADVICE):
        """Raise :class:`TfxaiError` naming the step and the loss term when training was stopped by a bad loss."""
        if self.problem:
            raise TfxaiError(f"training stopped {self.problem}; {advice}")


def _non_finite(model, history, watches=lambda name: name.endswith("loss")):
    """What is NaN or infinite after training (a logged loss of ``history``, else the weights), or None."""
    bad = sorted(name for name, values in history.history.items() if watches(name) and not np.all(np.isfinite(values)))
    if bad:
        return f"at the end: the {', '.join(bad)} became NaN or infinite"
    if not all(np.all(np.isfinite(weight)) for weight in model.get_weights()):
        return "at the end: the weights became NaN or infinite"
    return None


def check_finite_training(model, history, advice=ADVICE):
    """Raise :class:`TfxaiError` if any logged loss or any weight is NaN or infinite.

    ``TerminateOnNaN`` sees only the main loss; models with extra updates (ABN's
    COT) log their own losses, and a NaN can also hide in the weights (e.g. a
    learning rate of NaN). :func:`fit` checks this after every run.
    """
    problem = _non_finite(model, history)
    if problem:
        raise TfxaiError(f"training stopped {problem}; {advice}")


def history_csv(history):
    """Keras ``History.history`` as CSV text (one row per epoch)."""
    keys = sorted(history)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["epoch"] + keys)
    for epoch in range(len(history[keys[0]]) if keys else 0):
        writer.writerow([epoch + 1] + [f"{history[k][epoch]:.6g}" for k in keys])
    return buffer.getvalue()
