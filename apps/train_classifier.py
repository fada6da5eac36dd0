"""``tfxai train classifier``: transfer learning on a folder of labelled images."""

import click

from tfxai.apps.common import mixed_precision_option, reports_errors, run_training_app, strategy_option, training_options


@click.command("classifier")
@training_options(("paper", "small"), "saved_models/classifier", "mobilenet_v2, resnet50, vgg16 or small_cnn",
                  "paper: ImageNet MobileNetV2 at 224 px, 20 epochs; small: small CNN at 32 px for CPUs.")
@click.option("--train-backbone", is_flag=True, default=None, help="Fine-tune the backbone too.")
@mixed_precision_option
@strategy_option
@reports_errors
def command(preset, no_export, overwrite, **options):
    """Train a classifier; writes model.keras, class_names.json, history.csv, metrics.json and saved_model/."""
    from tfxai.classify.classifier import ClassifierConfig, train_classifier

    run_training_app(ClassifierConfig, train_classifier, preset, no_export, overwrite, **options)
