"""``tfxai train mixed``: train a classifier on a training set partly replaced by generated images."""

import click

from tfxai.apps.common import echo, mixed_precision_option, progress_callback, progress_settings, quiet_option, strategy_option, unsafe_deserialization_option
from tfxai.apps.options import config_options
from tfxai.synthesis.training import TrainMixedConfig


@click.command(name="mixed")
@config_options(TrainMixedConfig)
@click.option("--mean", default=None, help="Per-channel mean subtracted after scaling.")
@click.option("--std", default=None, help="Per-channel standard deviation divided by after scaling.")
@quiet_option
@unsafe_deserialization_option
@mixed_precision_option
@strategy_option
def command(config, mean, std, quiet):
    """Replace part of the training data by generated images and train with KL + CE (Hirano et al., eq. 9)."""
    from tfxai.synthesis.training import parse_floats, run_train_mixed

    config.mean, config.std = parse_floats(mean), parse_floats(std)
    verbose, _ = progress_settings(quiet)
    summary = run_train_mixed(config, progress=progress_callback("generating"), verbose=verbose).metrics
    accuracy = summary["validation_accuracy"]
    echo(
        f"trained on {summary['train_images']} images ({summary['generated_images']} generated); "
        f"model in {config.out}" + ("" if accuracy is None else f"; validation accuracy {accuracy:.4f}")
        + ("; the SavedModel serves no heatmap (the student has no convolutional layer for Grad-CAM)" if summary.get("saved_model_heatmap") is False else "")
    )
