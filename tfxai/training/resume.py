"""Resuming an interrupted training run where it stopped.

Every training app fits through :func:`fit_resumable`: a
``keras.callbacks.BackupAndRestore`` subclass (:class:`RunBackup`) writes the
training state at the end of every epoch into the run's backup folder,
``<out>.backup/`` beside the output folder (:func:`backup_folder`). When the
process dies (a crash, SIGKILL, a power cut), running the same command again
restores that state and continues with the next epoch; only the epoch in
progress is lost. The backup folder is removed once the run folder is complete.

Besides what ``BackupAndRestore`` keeps (weights, optimizer state, epoch), the
backup holds what an exact continuation also needs: the random-generator states
of the model (dropout masks), the logs of the epochs already run (so
``history.csv`` and ``metrics.json`` cover the whole run), the state of early
stopping (epochs without improvement, the best value and the best epoch's
weights, so patience and the restored weights are those of an uninterrupted run),
and the options of the run (a rerun with other options is refused rather than
silently mixed). A
shuffled ``tf.data`` pipeline is advanced by the epochs already run, so epoch K
sees the same batch order as in an uninterrupted run; with the same ``--seed``
the resumed run ends with the same weights and metrics.

Every file of the backup is written under a temporary name and renamed;
``state.json`` (naming the epoch's files) is written last, so a kill during a
backup leaves the previous epoch's state usable.
"""

import json
import logging
import os
import shutil

import keras
import numpy as np

from tfxai.errors import TfxaiError
from tfxai.io import write_json

__all__ = ["EpochCounter", "IterationLimit", "RunBackup", "backup_folder", "epoch_shuffle", "fit_resumable", "remove_backup", "step_normal"]

STATE_FILE = "state.json"
#: Options that may change between the interrupted run and its rerun.
RERUN_OPTIONS = ("overwrite", "export", "epochs", "quiet")

log = logging.getLogger("tfxai")


def backup_folder(out):
    """The backup folder of the run writing ``out``: ``<out>.backup`` (absolute)."""
    return os.path.abspath(os.fspath(out)).rstrip(os.sep) + ".backup"


def remove_backup(out):
    """Delete the backup folder of ``out`` (after the run folder is complete)."""
    shutil.rmtree(backup_folder(out), ignore_errors=True)


def _json_ready(options):
    return json.loads(json.dumps(options or {}, default=str))


def _random_state_variables(model):
    """The model's random-generator states (``SeedGenerator`` variables): in ``variables`` but not in ``weights``."""
    weights = {id(variable) for variable in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]


class RunBackup(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` that also keeps random-generator states, the epoch logs and the run's options.

    Args:
        backup_dir: folder of the backup (:func:`backup_folder`).
        options: the run's options (a JSON-ready dict); a backup made with
            other options (except those in :data:`RERUN_OPTIONS`) is refused
            with a :class:`TfxaiError`.
        callbacks: the run's other callbacks; the state of each
            ``EarlyStopping`` among them is backed up and restored too.
    """

    def __init__(self, backup_dir, options=None, callbacks=()):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=False)
        self.stopping = [c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)]
        self.limits = [c for c in callbacks if isinstance(c, IterationLimit)]
        self._stopping_to_restore = None
        self.options = {**_json_ready(options), "dtype_policy": keras.config.dtype_policy().name}  # --mixed-precision
        self.state = self.read_state()
        self.history = dict(self.state["history"]) if self.state else {}

    @property
    def restored_epochs(self):
        """Epochs finished before this process started (0: a fresh run)."""
        return int(self.state["epoch"]) if self.state else 0

    def read_state(self):
        """The backup's ``state.json`` as a dict, None when there is no backup; checks the options."""
        path = os.path.join(self.backup_dir, STATE_FILE)
        if not os.path.isfile(path):
            return None
        try:
            with open(path, encoding="utf-8") as handle:
                state = json.load(handle)
            state["epoch"], state["history"]  # noqa: B018 - required keys
        except (OSError, ValueError, KeyError, TypeError):
            raise TfxaiError(f"the backup in {self.backup_dir} is unreadable: delete that folder to start the run afresh") from None
        changed = sorted(
            key for key in set(state.get("options", {})) | set(self.options)
            if key not in RERUN_OPTIONS and state.get("options", {}).get(key) != self.options.get(key)
        )
        if changed:
            raise TfxaiError(
                f"the backup in {self.backup_dir} is of a run with other options ({', '.join(changed)}): "
                "rerun with the same options to resume, or delete that folder to start afresh"
            )
        return state

    # === Restore ===

    def _load_model(self):
        if self.state is None:
            return
        if hasattr(self.model, "build_optimizers"):  # models with an optimizer per network (GANs; compile's own is unused)
            self.model.build_optimizers()
        elif self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(os.path.join(self.backup_dir, self.state["weights"]))
        with np.load(os.path.join(self.backup_dir, self.state["random"])) as saved:
            variables = _random_state_variables(self.model)
            if len(saved.files) != len(variables):
                raise TfxaiError(f"the backup in {self.backup_dir} does not fit this model: delete that folder to start afresh")
            for index, variable in enumerate(variables):
                variable.assign(saved[f"v{index}"])
        self.model._initial_epoch = self.restored_epochs
        self._stopping_to_restore = self.state.get("stopping")  # after EarlyStopping.on_train_begin has reset it

    def on_epoch_begin(self, epoch, logs=None):
        if self._stopping_to_restore is not None:
            self._restore_stopping(self._stopping_to_restore)
            self._stopping_to_restore = None

    def _restore_stopping(self, saved):
        if len(saved) != len(self.stopping):
            raise TfxaiError(f"the backup in {self.backup_dir} has {len(saved)} early-stopping states, the run {len(self.stopping)}: "
                             "delete that folder to start afresh")
        weights = {}
        if "stopping_weights" in self.state:
            with np.load(os.path.join(self.backup_dir, self.state["stopping_weights"])) as stored:
                weights = {name: stored[name] for name in stored.files}
        for index, (callback, state) in enumerate(zip(self.stopping, saved)):
            callback.wait, callback.best, callback.best_epoch = state["wait"], state["best"], state["best_epoch"]
            count = state["best_weights"]
            callback.best_weights = [weights[f"s{index}_w{i}"] for i in range(count)] if count is not None else None

    # === Back up ===

    def on_train_batch_end(self, batch, logs=None):
        if self.model.stop_training and not any(limit.reached for limit in self.limits):  # a NaN guard stopped the epoch in the middle
            self._cut_short = True
        super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if getattr(self, "_cut_short", False):  # not a finished epoch: neither logged nor backed up
            return
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if self.model.stop_training:  # early stopping or the iteration limit ends the run here: a rerun repeats this epoch
            return
        super().on_epoch_end(epoch, logs)

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        epoch = self._current_epoch
        weights, random = f"epoch-{epoch}.weights.h5", f"epoch-{epoch}.random.npz"
        partial = os.path.join(self.backup_dir, f"partial-{weights}")
        self.model.save_weights(partial, overwrite=True)
        os.replace(partial, os.path.join(self.backup_dir, weights))
        partial = os.path.join(self.backup_dir, f"partial-{random}")
        with open(partial, "wb") as handle:
            np.savez(handle, **{f"v{i}": np.asarray(v) for i, v in enumerate(_random_state_variables(self.model))})
        os.replace(partial, os.path.join(self.backup_dir, random))
        self.state = {"epoch": epoch, "weights": weights, "random": random, "history": self.history, "options": self.options}
        keep = {weights, random}
        if self.stopping:
            self.state["stopping"] = [{"wait": int(c.wait), "best": None if c.best is None else float(c.best), "best_epoch": int(c.best_epoch),
                                       "best_weights": None if c.best_weights is None else len(c.best_weights)} for c in self.stopping]
            stored = f"epoch-{epoch}.stopping.npz"
            partial = os.path.join(self.backup_dir, f"partial-{stored}")
            with open(partial, "wb") as handle:
                np.savez(handle, **{f"s{i}_w{j}": w for i, c in enumerate(self.stopping) for j, w in enumerate(c.best_weights or [])})
            os.replace(partial, os.path.join(self.backup_dir, stored))
            self.state["stopping_weights"] = stored
            keep.add(stored)
        write_json(os.path.join(self.backup_dir, STATE_FILE), self.state)
        for name in os.listdir(self.backup_dir):  # earlier epochs' files
            if name.startswith(("epoch-", "partial-")) and name not in keep:
                os.remove(os.path.join(self.backup_dir, name))


# === Batch order keyed by the epoch ===

_epoch = []  # the one epoch variable, made on first use


def epoch_variable():
    """The ``tf.Variable`` holding the epoch being trained (set by :class:`EpochCounter`)."""
    import tensorflow as tf

    if not _epoch:
        _epoch.append(tf.Variable(0, dtype=tf.int64, trainable=False, name="tfxai_epoch"))
    return _epoch[0]


class EpochCounter(keras.callbacks.Callback):
    """Sets :func:`epoch_variable` at the start of every epoch (:func:`fit_resumable` adds it)."""

    def on_epoch_begin(self, epoch, logs=None):
        epoch_variable().assign(epoch)


class IterationLimit(keras.callbacks.Callback):
    """Stops training once ``iterations`` train steps have run in all, so the last epoch may be partial.

    ``fit(..., epochs=ceil(iterations / steps_per_epoch), steps_per_epoch=...)``
    with this callback runs exactly ``iterations`` steps: the step count is
    ``epoch * steps_per_epoch + batch + 1``, with the epoch Keras passes (the
    restored one after a resume, :func:`fit_resumable`), so a resumed run stops
    where the uninterrupted run stops. :class:`RunBackup` logs the partial last
    epoch as a finished one (a NaN guard's stop is not).
    """

    def __init__(self, iterations, steps_per_epoch):
        super().__init__()
        self.iterations, self.steps_per_epoch = int(iterations), int(steps_per_epoch)
        self.reached = False
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self.reached = False

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._epoch * self.steps_per_epoch + batch + 1 >= self.iterations:
            self.reached = True
            self.model.stop_training = True


def epoch_shuffle(data, buffer_size, seed):
    """``data`` shuffled in an order that depends only on ``seed`` and the epoch.

    ``Dataset.shuffle(reshuffle_each_iteration=True)`` draws a new order for
    every iterator, and Keras makes one or two iterators per epoch, so the
    order of epoch K would depend on how many came before: a run resumed at
    epoch K would see epoch 0's order. Here each block of ``buffer_size``
    elements (all of them when ``buffer_size`` is at least the dataset's
    size) is permuted by a stateless shuffle seeded by ``(seed, K)``, K read
    from :func:`epoch_variable` when the epoch's iterator starts.
    """
    import tensorflow as tf

    epoch = epoch_variable()
    cardinality = int(data.cardinality())

    def permute(*block):
        size = tf.shape(tf.nest.flatten(block)[0])[0]
        order = tf.random.experimental.stateless_shuffle(tf.range(size), seed=tf.stack([tf.constant(int(seed), tf.int64), epoch.read_value()]))
        block = tf.nest.map_structure(lambda tensor: tf.gather(tensor, order), block)
        return block if len(block) > 1 else block[0]

    shuffled = data.batch(buffer_size).map(permute).unbatch()
    return shuffled.apply(tf.data.experimental.assert_cardinality(cardinality)) if cardinality >= 0 else shuffled


def step_normal(shape, seed, step, draw=0):
    """Standard-normal numbers keyed by ``seed``, the training ``step`` (a counter restored from the backup), ``draw`` and the replica.

    For the random inputs of a train step (a GAN's latent codes): stateless, so
    a run resumed at step S draws what the uninterrupted run drew there, unlike
    ``tf.random.normal``, whose kernel state a new process does not have; each
    replica of a distribution strategy draws its own.
    """
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    replica = tf.cast(context.replica_id_in_sync_group if context is not None else 0, tf.int64)
    key = tf.stack([tf.constant(int(seed), tf.int64), (tf.cast(step, tf.int64) * 16 + draw) * 1024 + replica])
    return tf.random.stateless_normal(shape, seed=key)


def _merged_history(backup, history):
    """``history`` (a Keras ``History``) extended by the epochs run before the interruption."""
    history.history = dict(backup.history)
    history.epoch = list(range(len(next(iter(backup.history.values()), []))))
    return history


def fit_resumable(model, train, *, epochs, backup=None, options=None, callbacks=(), **fit_options):
    """``model.fit(train, epochs=epochs, ...)`` that resumes from ``backup`` (a folder) after an interruption.

    Returns the ``History`` of the whole run (epochs before the interruption
    included). Without ``backup`` it is plain ``model.fit``. ``options`` (the
    run's options) must match those of the backup. Logs one line when resuming.
    ``train`` may be a function of the epochs already done that returns the data
    (an endless stream that must skip what those epochs consumed).
    """
    callbacks = [EpochCounter(), *callbacks]
    callback = RunBackup(backup, options, callbacks) if backup is not None else None
    done = callback.restored_epochs if callback else 0
    data = train(done) if callable(train) else train
    if callback is None:
        return model.fit(data, epochs=epochs, callbacks=callbacks, **fit_options)
    if done:
        log.info(f"resuming from epoch {done + 1} of {epochs} (backup in {backup})")
    # last: its on_epoch_end backs up the state the other callbacks (early stopping) reached in that epoch
    history = model.fit(data, epochs=epochs, callbacks=[*callbacks, callback], **fit_options)
    return _merged_history(callback, history)
