"""``tfxai train signal``: train a 1D-SAN or 1D-CNN on recordings and evaluate it by window voting."""

import click

from tfxai.apps.common import mixed_precision_option, early_stopping_option, progress_settings, quiet_option, reports_errors, strategy_option

PRESET_NAMES = ["thesis", "small"]  # tfxai.signal.training.PRESETS, named here so --help imports no TensorFlow


@click.command(name="signal")
@click.option("--data", required=True, help="Folder of class sub-folders with .csv/.npy recordings, or one .npz (X, y[, lengths]).")
@click.option("--model", "model_name", default="san1d", show_default=True, help="san1d (self-attention) or cnn1d (baseline).")
@click.option("--fft", is_flag=True, help="Feed each window's Fourier magnitude instead of the raw window.")
@click.option("--out", "output", default="saved_models/signal", show_default=True, help="Results folder.")
@click.option("--preset", type=click.Choice(PRESET_NAMES), default="thesis", show_default=True,
              help="thesis (momentum SGD, lr 0.001, batch 128) or small (fast on CPU).")
@click.option("--epochs", type=int, default=None, help="Training epochs [preset].")
@click.option("--batch-size", type=int, default=None, help="Windows per batch [preset: 128].")
@click.option("--learning-rate", type=float, default=None, help="SGD learning rate [preset: 0.001].")
@click.option("--momentum", type=float, default=None, help="SGD momentum [preset: 0.9].")
@click.option("--filters", type=int, default=None, help="Model width [preset].")
@click.option("--window", type=int, default=None, help="Window length in samples [64].")
@click.option("--step", type=int, default=None, help="Sliding step when voting over a recording [10].")
@click.option("--train-step", type=int, default=None, help="Step between training windows [preset].")
@click.option("--test-fraction", type=float, default=None, help="Share of each class's recordings kept for testing [0.4].")
@click.option("--seed", type=int, default=None, help="Seed for the split, weights and batch order [0].")
@click.option("--attention-recording", default=None, help="Recording (name or index) whose attention is plotted [first test recording].")
@click.option("--attention-block", type=int, default=None, help="Attention block shown, 0 = nearest the input [0].")
@click.option("--xla/--no-xla", "jit_compile", default=None,
              help="Compile the steps with XLA: about 2x faster on CPU, but runs then repeat only to float rounding "
                   "[--xla; --no-xla when --seed is given, so that seeded runs repeat bit for bit].")
@early_stopping_option
@click.option("--no-export", is_flag=True, help="Do not write the SavedModel.")
@click.option("--overwrite", is_flag=True, help="Replace an existing results folder.")
@quiet_option
@mixed_precision_option
@strategy_option
@reports_errors
def command(data, model_name, fft, output, preset, quiet, no_export, **options):
    """Train a window classifier on signal recordings; report accuracy per recording.

    Writes model.keras, class_names.json, history.csv, metrics.json,
    saved_model/ (takes raw window batches; not with --no-export), confusion.csv
    and confusion.png (per-class percentages), predictions.csv, report.json and,
    for san1d, attention.png (what the first self-attention block attends to).
    """
    from tfxai.signal import SignalTrainingConfig, run_signal_training

    if options["jit_compile"] is None and options["seed"] is not None:
        options["jit_compile"] = False  # --seed asks for exact repeats, which XLA on CPU does not give
    config = SignalTrainingConfig.from_preset(preset, data=data, model=model_name, fft=fft, output=output, export=not no_export, **options)
    verbose, log = progress_settings(quiet)
    report = run_signal_training(config, verbose=verbose, log=log)
    click.echo(
        f"{config.model}{' fft' if config.fft else ''}: accuracy per recording "
        f"{100 * report['recording_accuracy']:.1f}% ({report['correct_recordings']}/{report['test_recordings']}), "
        f"per window {100 * report['window_accuracy']:.1f}%, {report['parameters']} parameters"
    )
