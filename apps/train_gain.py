"""``tfxai train gain``: Guided Attention Inference Network (Li et al., CVPR 2018), optionally with pixel masks (GAIN_ext)."""

import click

from tfxai.apps.common import echo, reports_errors


@click.command("gain")
@click.option("--data", required=True, help="Folder with one sub-folder of images per class (2 classes: one sigmoid output, "
              "the second folder alphabetically is the positive class).")
@click.option("--masks", default=None, help="GAIN_ext: folder of pixel-level masks laid out like --data "
              "(<class>/<image name>.png, white = object). Images without a mask add nothing to L_e.")
@click.option("--out", "output", default="saved_models/gain", show_default=True, help="Output folder.")
@click.option("--preset", type=click.Choice(["paper", "small"]), default="paper", show_default=True,
              help="paper: ImageNet VGG16 (first 7 convs frozen), GAP, 512-256-1 sigmoid, 224 px, Adam, batch 32, alpha 1; "
                   "small: small CNN at 32 px for two CPU cores.")
@click.option("--backbone", default=None, help="vgg16, resnet50, mobilenet_v2 or small_cnn (overrides the preset).")
@click.option("--weights", default=None, help="imagenet | none | PATH to a local weights file.")
@click.option("--image-size", type=click.IntRange(8, 1024), default=None)
@click.option("--channels", type=click.Choice(["1", "3"]), default=None, help="Train on grayscale (1) or RGB (3).")
@click.option("--hidden", default=None, help="Widths of the dense layers after pooling, e.g. '512,256'.")
@click.option("--frozen-convs", type=click.IntRange(0, 1000), default=None, help="Freeze the backbone's first N convolutions.")
@click.option("--layer", default=None, help="Feature layer of the attention (default: the backbone's last feature map).")
@click.option("--sigma", type=float, default=None, help="Soft-mask threshold sigma (default 0.5).")
@click.option("--omega", type=float, default=None, help="Soft-mask sharpness omega (default 10).")
@click.option("--alpha", type=click.FloatRange(0.0), default=None, help="Weight of the attention-mining loss L_am (default 1).")
@click.option("--ext-weight", type=click.FloatRange(0.0), default=None, help="Weight of the mask loss L_e (GAIN_ext, default 1).")
@click.option("--binary-negatives", type=click.Choice(["complement", "ignore"]), default=None,
              help="Sigmoid models: negatives add 1 - p(masked) to L_am (complement) or nothing (ignore).")
@click.option("--epochs", type=click.IntRange(1, 100000), default=None)
@click.option("--batch-size", type=click.IntRange(1, 4096), default=None)
@click.option("--learning-rate", type=float, default=None)
@click.option("--validation-split", type=click.FloatRange(0.0, 0.9), default=None)
@click.option("--augment/--no-augment", default=None, help="Random left-right flips (images and masks together).")
@click.option("--seed", type=int, default=None)
@click.option("--no-export", is_flag=True, help="Do not write the SavedModel.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder once the new one is complete.")
@reports_errors
def command(preset, no_export, overwrite, **options):
    """Train GAIN; writes model.keras, class_names.json, history.csv, metrics.json, attention/ and saved_model/."""
    from tfxai.attention.gain import GAINConfig, train_gain

    if options.get("channels") is not None:
        options["channels"] = int(options["channels"])
    config = GAINConfig.from_preset(preset, export=not no_export, overwrite=overwrite, **options)
    gain, class_names, history = train_gain(config, log=echo)
    accuracy = history.history.get("val_accuracy", history.history.get("accuracy"))[-1]
    echo(f"done: {len(class_names)} classes, final accuracy {accuracy:.3f}; wrote {config.output}")
