"""``tfxai train signal``: train a 1D-SAN or 1D-CNN on recordings and evaluate it by window voting."""

import click

from tfxai.apps.common import mixed_precision_option, progress_settings, quiet_option, strategy_option
from tfxai.apps.options import config_options
from tfxai.signal.training import SignalTrainingConfig


@click.command(name="signal")
@config_options(SignalTrainingConfig)
@quiet_option
@mixed_precision_option
@strategy_option
def command(config, quiet):
    """Train a window classifier on signal recordings; report accuracy per recording.

    Writes model.keras, class_names.json, history.csv, metrics.json,
    saved_model/ (takes raw window batches; not with --no-export), confusion.csv
    and confusion.png (per-class percentages), predictions.csv, report.json and,
    for san1d, attention.png (what the first self-attention block attends to).
    """
    from tfxai.signal import run_signal_training

    verbose, log = progress_settings(quiet)
    report = run_signal_training(config, verbose=verbose, log=log).metrics
    click.echo(
        f"{config.model}{' fft' if config.fft else ''}: accuracy per recording "
        f"{100 * report['recording_accuracy']:.1f}% ({report['correct_recordings']}/{report['test_recordings']}), "
        f"per window {100 * report['window_accuracy']:.1f}%, {report['parameters']} parameters"
    )
