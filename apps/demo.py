"""``tfxai demo``: the whole pipeline on the bundled data, offline."""

import click

from tfxai.apps.common import echo
from tfxai.apps.options import config_options
from tfxai.classify.demo import DemoConfig


@click.command("demo")
@config_options(DemoConfig)
def command(config):
    """Train a small CNN on bundled Fashion-MNIST images, explain them with Grad-CAM, export a SavedModel and write a report."""
    from tfxai.classify.demo import run_demo

    run_demo(config, log=echo)
