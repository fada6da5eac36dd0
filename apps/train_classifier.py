"""``tfxai train classifier``: transfer learning on a folder of labelled images."""

import click

from tfxai.apps.common import mixed_precision_option, quiet_option, run_training_app, strategy_option
from tfxai.apps.options import config_options
from tfxai.classify.classifier import ClassifierConfig


@click.command("classifier")
@config_options(ClassifierConfig)
@quiet_option
@mixed_precision_option
@strategy_option
def command(config, quiet):
    """Train a classifier; writes model.keras, class_names.json, history.csv, metrics.json and saved_model/."""
    from tfxai.classify.classifier import train_classifier

    run_training_app(config, train_classifier, quiet)
