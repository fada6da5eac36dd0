"""``tfxai train stargan``: (class-aware) StarGAN v2 between two image folders."""

import click

from tfxai.apps.common import mixed_precision_option, echo, progress_settings, quiet_option, reports_errors, strategy_option


@click.command(name="stargan")
@click.option("--source", required=True, type=click.Path(), help="Source-domain folder (one sub-folder per class; required for --class-aware).")
@click.option("--target", required=True, type=click.Path(), help="Target-domain folder (class sub-folders or images; labels are not used).")
@click.option("--out", default="saved_models/stargan", show_default=True, help="Output folder (written only when training finishes).")
@click.option("--class-aware", is_flag=True, help="Add the class classifier on the generator encoder (L_task, L_sem; Imaeda).")
@click.option("--preset", type=click.Choice(["small", "thesis"]), default="small", show_default=True,
              help="small: 1/8 width, 1000 iterations (2 CPU cores); thesis: official width and 100k iterations.")
@click.option("--image-size", type=click.IntRange(16, 1024), default=None, help="Power of two (preset: 32).")
@click.option("--batch-size", type=click.IntRange(2, 4096), default=None, help="Even; half source, half target.")
@click.option("--iterations", type=click.IntRange(1, 10**7), default=None, help="Training iterations (2 D + 2 G updates each).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-export", is_flag=True, help="Do not write the translator SavedModel.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder once the new one is complete.")
@quiet_option
@mixed_precision_option
@strategy_option
@reports_errors
def command(no_export, quiet, **options):
    """Train StarGAN v2 (Choi et al. 2020), optionally class-aware (Imaeda), from SOURCE to TARGET folders."""
    from tfxai.gan.stargan.training import TrainStarGANConfig, run_train_stargan, trained_iterations

    config = TrainStarGANConfig(export=not no_export, **options)
    verbose, log = progress_settings(quiet)
    model, history = run_train_stargan(config, verbose=verbose, log=log)
    echo(f"done: {trained_iterations(model)} iterations, cycle loss {history.history['g_cycle'][-1]:.3f}; wrote {config.out}")
