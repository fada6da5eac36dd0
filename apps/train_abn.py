"""``tfxai train abn``: Attention Branch Network (+ mining branch, PC loss, COT, human-edited maps)."""

import click

from tfxai.apps.common import mixed_precision_option, quiet_option, run_training_app, strategy_option, unsafe_deserialization_option
from tfxai.apps.options import config_options
from tfxai.attention.abn_training import ABNConfig


@click.command("abn")
@config_options(ABNConfig)
@quiet_option
@unsafe_deserialization_option
@mixed_precision_option
@strategy_option
def command(config, quiet):
    """Train ABN; writes model.keras, class_names.json, history.csv, metrics.json, attention/ and saved_model/."""
    from tfxai.attention.abn_training import train_abn

    run_training_app(config, train_abn, quiet)
