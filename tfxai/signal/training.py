"""Training and evaluating window classifiers on recordings, with the thesis's preset.

The 1D-SAN thesis (1D pairwise self-attention after Zhao et al., CVPR 2020)
trains for 20,000 epochs on 64-sample windows with momentum SGD, learning rate
0.001, batch 128 and cross-entropy, splits 6:4 into training and test
recordings and classifies each test recording by sliding-window voting (step
10). :func:`run_signal_training` does all of it from a
:class:`SignalTrainingConfig` and writes the results folder. Where the preset
departs from the thesis, or fills in what it does not say (momentum, width,
training-window step), docs/signal.md has the table.
"""

import dataclasses
import json
import os
import time
from typing import Optional

import keras
import numpy as np

from tfxai.training.batchnorm import BatchNormStatistics
from tfxai.training.fit import fit
from tfxai.data import split_stratified
from tfxai.training.determinism import seed_everything
from tfxai.errors import TfxaiError, plural
from tfxai.io import staged_directory, write_json, write_text
from tfxai.training.config import ConfigError, RunOptions, option, renamed_fields
from tfxai.signal.signal_presets import PRESETS
from tfxai.signal.attention import plot_attention, recording_attention, write_attention_csv
from tfxai.signal.data import load_recordings, split_by_recording
from tfxai.signal.export import export_signal_model
from tfxai.signal.models import MODELS, build_model
from tfxai.signal.preprocessing import WindowPreprocessor
from tfxai.signal.report import confusion_matrix, plot_confusion, row_percentages, write_confusion_csv
from tfxai.signal.windows import classify_recordings, make_windows
from tfxai.training.resume import backup_folder, remove_backup
from tfxai.training import early_stopping_callbacks, make_dataset, write_run_files
from tfxai.training.result import RunResult, run_result


#: What the presets are (``--preset``'s help).
SIGNAL_PRESET_HELP = "thesis (momentum SGD, lr 0.001, batch 128, 20,000 epochs) or small (fast on CPU)."


@renamed_fields(output="out", jit_compile="xla")
@dataclasses.dataclass
class SignalTrainingConfig(RunOptions, presets=PRESETS, paper_preset="thesis", preset_help=SIGNAL_PRESET_HELP):
    """Everything ``tfxai train signal`` needs; defaults are the thesis's preset.

    That includes the thesis's 20,000 epochs, which take hours per model on a
    CPU (a width-16 1D-SAN on 384 training windows: ~0.13 s per epoch, about
    45 minutes, on 2 CPU cores); pass ``epochs`` (or use the ``small`` preset)
    for a shorter run.

    Attributes
    ----------
    data : str
        Folder of class sub-folders (CSV/NPY recordings) or one ``.npz`` file.
    model : str
        ``"san1d"`` or ``"cnn1d"``.
    fft : bool
        Feed the Fourier magnitude of each window instead of the raw window.
    out : str
        Results folder (written completely or not at all); ``output`` is its deprecated name.
    epochs, batch_size, learning_rate
        Training with momentum SGD and cross-entropy; the thesis's 20,000, 128 and 0.001.
    momentum : float
        SGD momentum; the thesis says "Momentum SGD" without a value (0.9, the usual one).
    window : int
        Window length in samples (the thesis's 64).
    step : int
        Sliding step when voting over a recording (the thesis's 10).
    train_step : int
        Step between training windows (the thesis cuts fixed-length windows without
        giving the step; 10, the same as ``step``).
    test_fraction : float
        Share of each class's recordings held out for testing (the thesis's 6:4 split).
    seed : int
        Seed of the split, the initial weights and the batch order (0 when none is given).
    filters : int
        Width of the model (the thesis gives none).
    xla : bool or None
        Compile training and prediction with XLA (faster on CPUs, where Keras would not). Op
        determinism does not cover XLA on CPU: same-seed runs then agree to float rounding;
        ``False`` repeats them bit for bit. ``None``: XLA unless a seed was given
        (:attr:`jit_compile` is the choice in force; ``jit_compile=`` is the field's deprecated name).
    attention_recording : str or None
        Recording (name or index in the data set) whose attention is plotted;
        default: the first test recording. 1D-SAN only.
    attention_block : int
        Which attention block the view shows (0 = nearest the input).
    early_stopping : int
        Patience in epochs on the accuracy of held-out training windows (10%,
        stratified), restoring the best epoch's weights; 0: off.
    overwrite : bool
        Replace an existing results folder.
    """

    data: str = option("", "Folder of class sub-folders with .csv/.npy recordings, or one .npz (X, y[, lengths]).", required=True)
    model: str = option("san1d", "san1d (self-attention) or cnn1d (baseline).", choices=MODELS)
    fft: bool = option(False, "Feed each window's Fourier magnitude instead of the raw window.")
    out: str = option(os.path.join("saved_models", "signal"), "Results folder (written only when training finishes).")
    epochs: int = 20000
    batch_size: int = option(128, "Windows per batch.", minimum=1)
    learning_rate: float = option(1e-3, "SGD learning rate.")
    momentum: float = option(0.9, "SGD momentum, in [0, 1).", minimum=0.0)
    window: int = option(64, "Window length in samples.", minimum=1)
    step: int = option(10, "Sliding step when voting over a recording.", minimum=1)
    train_step: int = option(10, "Step between training windows.", minimum=1)
    test_fraction: float = option(0.4, "Share of each class's recordings kept for testing (between 0 and 1).")
    filters: int = option(32, "Model width.", minimum=1)
    xla: Optional[bool] = option(None, "Compile the steps with XLA: about 2x faster on CPU, but runs then repeat only to float "
                                 "rounding (default: on, off when --seed is given, so that seeded runs repeat bit for bit).",
                                 flag="--xla/--no-xla")
    attention_recording: Optional[str] = option(None, "Recording (name or index) whose attention is plotted [first test recording].")
    attention_block: int = option(0, "Attention block shown, 0 = nearest the input.", minimum=0)
    early_stopping: int = option(0, "Stop when the held-out windows' accuracy has not improved for PATIENCE epochs and restore the "
                                 "best epoch's weights (0: off).", minimum=0, metavar="PATIENCE")
    export: bool = option(True, "Do not write the SavedModel.", flag="--no-export")

    @property
    def jit_compile(self):
        """Whether the steps are compiled with XLA: ``xla`` if given, else on unless a seed was given (exact repeats)."""
        return self.xla if self.xla is not None else not self.deterministic

    @property
    def output(self):
        """Deprecated name of :attr:`out`."""
        return self.out

    @classmethod
    def from_preset(cls, preset="thesis", **overrides):
        """The named preset (``"thesis"`` or ``"small"``) with ``overrides`` applied (``None`` values skipped), validated."""
        return super().from_preset(preset, **overrides)

    def validate(self):
        """Raise :class:`~tfxai.training.config.ConfigError` naming the field that cannot work; returns ``self`` unchanged."""
        super().validate()
        if not self.momentum < 1:
            raise ConfigError("momentum", f"momentum must be in [0, 1), got {self.momentum}")
        if not 0 < self.test_fraction < 1:
            raise ConfigError("test_fraction", f"test_fraction must lie between 0 and 1, got {self.test_fraction}")
        return self

    def to_dict(self):
        """The options as JSON-ready values, with the XLA choice in force (``jit_compile``)."""
        return {**super().to_dict(), "jit_compile": self.jit_compile}


@dataclasses.dataclass
class TrainedSignalModel:
    """What :func:`train_signal_model` returns."""

    model: keras.Model
    preprocessor: WindowPreprocessor
    train_indices: np.ndarray
    test_indices: np.ndarray
    history: dict
    evaluation: dict
    seconds: float


def compile_thesis(model, learning_rate=1e-3, momentum=0.9, jit_compile=True):
    """Compile ``model`` as in the thesis: momentum SGD, sparse cross-entropy, accuracy.

    ``jit_compile=True`` (XLA) is the default because Keras leaves XLA off on
    CPU-only machines, where it makes a 1D-SAN train step about 2.3x faster
    (2-core AMD EPYC, width 16, batch 128: 57 ms instead of 133 ms). Pass
    ``"auto"`` for Keras' own choice.
    """
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    return model


def train_signal_model(recordings, config, verbose=1, callbacks=None, split=None, backup=None):
    """Split ``recordings`` by recording, train a window classifier and evaluate it by voting.

    Parameters
    ----------
    recordings : Recordings
    config : SignalTrainingConfig
    verbose : int
        Keras ``fit`` verbosity (1 = progress bar).
    callbacks : list or None
        Extra Keras callbacks for ``fit``.
    split : (train_indices, test_indices) or None
        A fixed split; default :func:`split_by_recording` with the config's seed.
    backup : str or None
        Folder of the per-epoch backup an interrupted run resumes from (:func:`tfxai.training.fit.fit`).

    Returns
    -------
    TrainedSignalModel
    """
    config.validate()
    recordings.check(config.window)
    train, test = split if split is not None else split_by_recording(recordings.labels, config.test_fraction, config.seed)
    windows, labels, _ = make_windows(
        [recordings.signals[i] for i in train], recordings.labels[train], config.window, config.train_step
    )
    preprocessor = WindowPreprocessor(fourier=config.fft).adapt(windows)
    inputs = np.asarray(preprocessor(windows))
    seed_everything(config.seed)  # the same weights bit for bit for the same --seed
    model = build_model(
        config.model,
        num_classes=len(recordings.class_names),
        window_length=preprocessor.output_length(config.window),
        channels=recordings.channels,
        filters=config.filters,
    )
    compile_thesis(model, config.learning_rate, config.momentum, config.jit_compile)
    validation_data = None
    if config.early_stopping:
        held = split_stratified(labels, 0.1, config.seed)
        inputs, labels, validation_data = inputs[~held], labels[~held], (inputs[held], labels[held])
        callbacks = [*(callbacks or []), *early_stopping_callbacks(config.early_stopping)]
    callbacks = [*(callbacks or []), BatchNormStatistics(np.array_split(inputs, -(-len(inputs) // config.batch_size)))]
    started = time.perf_counter()
    history = fit(
        model,
        make_dataset(inputs, labels, config.batch_size, shuffle=True, seed=config.seed),  # an order per epoch that a resume repeats
        validation_data,
        config.epochs,
        callbacks=callbacks,
        verbose=verbose,
        backup=backup,
        options=config.to_dict(),
    )  # a NaN loss stops it with a TfxaiError naming the term
    seconds = time.perf_counter() - started
    evaluation = evaluate_recordings(model, recordings.subset(test), preprocessor, config.window, config.step)
    return TrainedSignalModel(model, preprocessor, train, test, dict(history.history), evaluation, seconds)


def evaluate_recordings(model, recordings, preprocessor=None, window=64, step=10, batch_size=256):
    """Classify every recording by voting; accuracy per recording, per window, and the confusion matrix."""
    votes = classify_recordings(model, recordings.signals, window, step, preprocessor, batch_size)
    predicted = np.array([v.label for v in votes])
    window_hits = sum(int((v.window_outputs.argmax(axis=1) == y).sum()) for v, y in zip(votes, recordings.labels))
    window_count = sum(len(v.window_outputs) for v in votes)
    counts = confusion_matrix(recordings.labels, predicted, len(recordings.class_names))
    return {
        "recording_accuracy": float((predicted == recordings.labels).mean()),
        "correct_recordings": int((predicted == recordings.labels).sum()),
        "test_recordings": len(recordings),
        "window_accuracy": window_hits / max(window_count, 1),
        "test_windows": window_count,
        "predicted": predicted,
        "totals": np.array([v.totals for v in votes]),
        "confusion": counts,
    }


def run_signal_training(config, verbose=1, log=None) -> RunResult:
    """Load data, train, evaluate and write the results folder ``config.out``.

    Writes the standard run folder (:func:`tfxai.training.write_run_files`:
    ``model.keras``, ``class_names.json``, ``history.csv``, ``metrics.json``),
    ``saved_model/`` (serves raw windows; not when ``config.export`` is False),
    ``preprocessor.json``, ``confusion.csv`` / ``confusion.png`` (per-class percentages),
    ``predictions.csv``, ``report.json`` and, for 1D-SAN, ``attention.png`` /
    ``attention.csv``. Nothing is written unless everything succeeds.

    Returns
    -------
    dict
        The report (also written to ``report.json``).
    """
    log = log or (lambda message: None)
    config.validate()
    recordings = load_recordings(config.data).check(config.window)
    log(
        f"{plural(len(recordings), 'recording')}, {plural(len(recordings.class_names), 'class', 'classes')}, "
        f"{plural(recordings.channels, 'channel')}, "
        f"{recordings.lengths.min()}-{recordings.lengths.max()} samples"
    )
    with staged_directory(config.out, overwrite=config.overwrite) as folder:
        result = train_signal_model(recordings, config, verbose=verbose, backup=backup_folder(config.out))
        evaluation = result.evaluation
        test = recordings.subset(result.test_indices)
        report = {
            "config": config.to_dict(),
            "classes": recordings.class_names,
            "parameters": int(result.model.count_params()),
            "train_recordings": len(result.train_indices),
            "test_recordings": len(result.test_indices),
            "recording_accuracy": evaluation["recording_accuracy"],
            "correct_recordings": evaluation["correct_recordings"],
            "window_accuracy": evaluation["window_accuracy"],
            "confusion_counts": evaluation["confusion"].tolist(),
            "confusion_percent": np.round(row_percentages(evaluation["confusion"]), 2).tolist(),
            "final_loss": float(result.history["loss"][-1]),
            "train_seconds": round(result.seconds, 2),
            "test_names": test.names,
        }
        write_run_files(folder, result.model, recordings.class_names, result.history, config,
                        **{key: value for key, value in report.items() if key != "config"})
        write_json(os.path.join(folder, "preprocessor.json"), keras.saving.serialize_keras_object(result.preprocessor))
        if config.export:
            export_signal_model(result.model, os.path.join(folder, "saved_model"), result.preprocessor, config.window)
        title = f"{config.model}{' (FFT)' if config.fft else ''}: {100 * evaluation['recording_accuracy']:.1f}% of test recordings"
        write_confusion_csv(os.path.join(folder, "confusion.csv"), evaluation["confusion"], recordings.class_names)
        plot_confusion(os.path.join(folder, "confusion.png"), evaluation["confusion"], recordings.class_names, title)
        _write_predictions(os.path.join(folder, "predictions.csv"), test, evaluation)
        if hasattr(result.model, "call_with_attention"):
            chosen = result.test_indices[0] if config.attention_recording is None else recordings.index_of(config.attention_recording)
            trace = recording_attention(
                result.model, recordings.signals[chosen], result.preprocessor, config.window, config.step, config.attention_block
            )
            name = recordings.names[chosen]
            plot_attention(trace, os.path.join(folder, "attention.png"), f"{name}: block {config.attention_block} attention")
            write_attention_csv(trace, os.path.join(folder, "attention.csv"))
            report["attention_recording"] = name
        write_json(os.path.join(folder, "report.json"), report)
    remove_backup(config.out)
    log(
        f"test accuracy per recording: {100 * evaluation['recording_accuracy']:.1f}% "
        f"({evaluation['correct_recordings']}/{evaluation['test_recordings']}); "
        f"per window: {100 * evaluation['window_accuracy']:.1f}%; results in {os.path.abspath(config.out)}"
    )
    return run_result(result.model, result.history, config, config.out, metrics=report, class_names=recordings.class_names)


def load_trained(folder):
    """Load ``(model, preprocessor)`` from a folder written by :func:`run_signal_training`."""
    model_path = os.path.join(folder, "model.keras")
    config_path = os.path.join(folder, "preprocessor.json")
    if not os.path.exists(model_path) or not os.path.exists(config_path):
        raise TfxaiError(f"{folder} is not a signal results folder (no model.keras / preprocessor.json): train one first")
    from tfxai.io import load_model

    model, _ = load_model(model_path)  # safe mode: a Lambda layer is refused naming --unsafe-deserialization
    with open(config_path, encoding="utf-8") as handle:
        preprocessor = keras.saving.deserialize_keras_object(json.load(handle))
    return model, preprocessor


def _write_predictions(path, recordings, evaluation):
    names = recordings.class_names
    lines = [",".join(["recording", "true", "predicted", "correct"] + [f"total_{n}" for n in names])]
    for name, true, predicted, totals in zip(recordings.names, recordings.labels, evaluation["predicted"], evaluation["totals"]):
        cells = [name, names[true], names[predicted], str(int(true == predicted))] + [f"{t:.4f}" for t in totals]
        lines.append(",".join(_quote(c) for c in cells))
    write_text(path, "\n".join(lines) + "\n")


def _quote(text):
    text = str(text)
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text

