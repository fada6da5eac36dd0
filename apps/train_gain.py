"""``tfxai train gain``: Guided Attention Inference Network (Li et al., CVPR 2018), optionally with pixel masks (GAIN_ext)."""

import click

from tfxai.apps.common import mixed_precision_option, quiet_option, run_training_app, strategy_option
from tfxai.apps.options import config_options
from tfxai.attention.gain_training import GAINConfig


@click.command("gain")
@config_options(GAINConfig)
@quiet_option
@mixed_precision_option
@strategy_option
def command(config, quiet):
    """Train GAIN; writes model.keras, class_names.json, history.csv, metrics.json, attention/ and saved_model/."""
    from tfxai.attention.gain_training import train_gain

    run_training_app(config, train_gain, quiet)
