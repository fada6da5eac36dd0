"""``tfxai train mixed``: train a classifier on a training set partly replaced by generated images."""

import click

from tfxai.apps.common import mixed_precision_option, augment_option, early_stopping_option, echo, progress_settings, quiet_option, reports_errors, strategy_option, unsafe_deserialization_option


@click.command(name="mixed")
@click.option("--data", required=True, type=click.Path(), help="Training data: .npz (x, y) or a folder of class subfolders.")
@click.option("--teacher", required=True, type=click.Path(), help="Trained classifier (.keras) used to generate.")
@click.option("--out", required=True, type=click.Path(), help="Output folder (model.keras, class_names.json, history.csv, metrics.json, saved_model/, summary.json).")
@click.option("--fraction", type=float, default=0.3, show_default=True, help="Share of training images replaced by generated ones.")
@click.option("--student", default=None, type=click.Path(), help="Initial student model (.keras); default: the teacher's architecture, freshly initialised.")
@click.option("--validation", default=None, type=click.Path(), help="Validation data (.npz or class folders).")
@click.option("--validation-split", type=float, default=0.1, show_default=True, help="Held out from --data when --validation is not given.")
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--learning-rate", type=float, default=1e-3, show_default=True, help="Adam learning rate.")
@augment_option("shift", "shift (random crops after padding by --crop-padding pixels)")
@click.option("--augment-generated/--no-augment-generated", default=False, show_default=True,
              help="Also augment generated images (their stored teacher output then no longer matches).")
@click.option("--crop-padding", type=int, default=2, show_default=True, help="Padding in pixels of --augment's shifts and crops.")
@click.option("--own-probability", type=float, default=0.9, show_default=True, help="Target of the own class (other class: 1 - this).")
@click.option("--kl-weight", type=float, default=0.5, show_default=True, help="Weight of KL(q||p) in eq. 9 (CE gets 1 - this).")
@click.option("--generation-optimizer", type=click.Choice(["sgd", "momentum"]), default="sgd", show_default=True)
@click.option("--generation-steps", type=int, default=100, show_default=True)
@click.option("--generation-learning-rate", type=float, default=0.05, show_default=True,
              help="Learning rate of the image updates (the paper's 0.05; a model fed [0, 255] pixels may need 1-5, see docs/synthesis.md).")
@click.option("--scale", type=float, default=1.0, show_default=True, help="Multiply [0,1] pixels by this before the models.")
@click.option("--mean", default=None, help="Per-channel mean subtracted after scaling.")
@click.option("--std", default=None, help="Per-channel standard deviation divided by after scaling.")
@click.option("--seed", type=int, default=0, show_default=True)
@early_stopping_option
@quiet_option
@click.option("--no-export", is_flag=True, help="Do not write the SavedModel.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
@unsafe_deserialization_option
@mixed_precision_option
@strategy_option
@reports_errors
def command(**options):
    """Replace part of the training data by generated images and train with KL + CE (Hirano et al., eq. 9)."""
    from tfxai.synthesis.training import TrainMixedConfig, parse_floats, progress_printer, run_train_mixed

    options["mean"], options["std"] = parse_floats(options["mean"]), parse_floats(options["std"])
    verbose, log = progress_settings(options.pop("quiet"))
    options["export"] = not options.pop("no_export")
    config = TrainMixedConfig(**options)
    summary = run_train_mixed(config, progress=progress_printer(log), verbose=verbose)
    accuracy = summary["validation_accuracy"]
    echo(
        f"trained on {summary['train_images']} images ({summary['generated_images']} generated); "
        f"model in {config.out}" + ("" if accuracy is None else f"; validation accuracy {accuracy:.4f}")
        + ("; the SavedModel serves no heatmap (the student has no convolutional layer for Grad-CAM)" if summary.get("saved_model_heatmap") is False else "")
    )
