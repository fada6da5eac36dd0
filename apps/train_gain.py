"""``tfxai train gain``: Guided Attention Inference Network (Li et al., CVPR 2018), optionally with pixel masks (GAIN_ext)."""

import click

from tfxai.apps.common import mixed_precision_option, reports_errors, run_training_app, strategy_option, training_options


@click.command("gain")
@training_options(("paper", "small"), "saved_models/gain", "vgg16, resnet50, mobilenet_v2 or small_cnn",
                  "paper: ImageNet VGG16 (first 7 convs frozen), GAP, 256-1 sigmoid, 224 px, Adam lr 1e-7, batch 32, "
                  "shifts/crops, early stopping on validation accuracy; small: small CNN at 32 px for two CPU cores.")
@click.option("--masks", default=None, help="GAIN_ext: folder of pixel-level masks laid out like --data "
              "(<class>/<image name>.png, white = object). Images without a mask add nothing to L_e.")
@click.option("--hidden", default=None, help="Widths of the dense layers after pooling, e.g. '256'.")
@click.option("--frozen-convs", type=click.IntRange(0, 1000), default=None, help="Freeze the backbone's first N convolutions.")
@click.option("--layer", default=None, help="Feature layer of the attention (default: the backbone's last feature map).")
@click.option("--sigma", type=float, default=None, help="Soft-mask threshold sigma (default 0.5).")
@click.option("--omega", type=float, default=None, help="Soft-mask sharpness omega (default 10).")
@click.option("--mining-weight", type=click.FloatRange(0.0), default=None, help="Weight of the attention-mining loss L_am (default 1).")
@click.option("--map-weight", type=click.FloatRange(0.0), default=None, help="Weight of the mask loss L_e (GAIN_ext, default 1).")
@click.option("--binary-negatives", type=click.Choice(["complement", "ignore"]), default=None,
              help="Sigmoid models: negatives add 1 - p(masked) to L_am (complement) or nothing (ignore).")
@mixed_precision_option
@strategy_option
@reports_errors
def command(preset, no_export, overwrite, **options):
    """Train GAIN; writes model.keras, class_names.json, history.csv, metrics.json, attention/ and saved_model/."""
    from tfxai.attention.gain_training import GAINConfig, train_gain

    run_training_app(GAINConfig, train_gain, preset, no_export, overwrite, **options)
