"""``tfxai train stargan``: (class-aware) StarGAN v2 between two image folders."""

import click

from tfxai.apps.common import echo, mixed_precision_option, progress_settings, quiet_option, strategy_option
from tfxai.apps.options import config_options
from tfxai.gan.stargan.training import TrainStarGANConfig


@click.command(name="stargan")
@config_options(TrainStarGANConfig)
@quiet_option
@mixed_precision_option
@strategy_option
def command(config, quiet):
    """Train StarGAN v2 (Choi et al. 2020), optionally class-aware (Imaeda), from SOURCE to TARGET folders."""
    from tfxai.gan.stargan.training import run_train_stargan, trained_iterations

    verbose, log = progress_settings(quiet)
    result = run_train_stargan(config, verbose=verbose, log=log)
    echo(f"done: {trained_iterations(result.model)} iterations, cycle loss {result.history['g_cycle'][-1]:.3f}; wrote {config.out}")
