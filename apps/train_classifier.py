"""``tfxai train classifier``: transfer learning on a folder of labelled images."""

import dataclasses

import click

from tfxai.apps.common import echo, reports_errors


@click.command("classifier")
@click.option("--data", required=True, help="Folder with one sub-folder of images per class.")
@click.option("--out", default="saved_models/classifier", show_default=True, help="Output folder.")
@click.option("--preset", type=click.Choice(["paper", "small"]), default="paper", show_default=True,
              help="paper: ImageNet MobileNetV2 at 224 px, 20 epochs; small: small CNN at 32 px for CPUs.")
@click.option("--backbone", default=None, help="mobilenet_v2, resnet50, vgg16 or small_cnn (overrides the preset).")
@click.option("--weights", default=None, help="imagenet | none | PATH to a local weights file.")
@click.option("--image-size", type=click.IntRange(8, 1024), default=None)
@click.option("--channels", type=click.Choice(["1", "3"]), default=None, help="Train on grayscale (1) or RGB (3).")
@click.option("--epochs", type=click.IntRange(1, 100000), default=None)
@click.option("--batch-size", type=click.IntRange(1, 4096), default=None)
@click.option("--learning-rate", type=float, default=None)
@click.option("--validation-split", type=click.FloatRange(0.0, 0.9), default=None)
@click.option("--train-backbone", is_flag=True, default=None, help="Fine-tune the backbone too.")
@click.option("--no-export", is_flag=True, help="Do not write the SavedModel.")
@click.option("--seed", type=int, default=None)
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder once the new one is complete.")
@reports_errors
def command(preset, no_export, overwrite, **options):
    """Train a classifier; writes model.keras, class_names.json, history.csv, metrics.json and saved_model/."""
    from tfxai.classifier import PRESETS, train_classifier

    overrides = {k: v for k, v in options.items() if v is not None}
    if "channels" in overrides:
        overrides["channels"] = int(overrides["channels"])
    config = dataclasses.replace(PRESETS[preset], export=not no_export, overwrite=overwrite, **overrides)
    echo(f"training {config.backbone} ({config.weights} weights) on {config.data}, {config.epochs} epochs")
    model, class_names, history = train_classifier(config)
    accuracy = history.history.get("val_accuracy", history.history.get("accuracy"))[-1]
    echo(f"done: {len(class_names)} classes, final accuracy {accuracy:.3f}; wrote {config.out}")
