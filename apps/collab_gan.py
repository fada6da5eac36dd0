"""``tfxai train collab-gan`` and ``tfxai search gates``: collaborative GANs with a knowledge-transfer graph."""

import click

from tfxai.apps.common import mixed_precision_option, _as_int, echo, progress_settings, quiet_option, reports_errors, strategy_option, unsafe_deserialization_option

PRESET_HELP = "thesis: Tsukahara 2021 (64 px RGB, batch 256, latent 100, 200 epochs); small: 32 px grey, 5 epochs, for CPUs."
CLASSIFIER_HELP = ("Scores IS/FID with: none | inceptionv3 (ImageNet weights) | PATH to local InceptionV3 .h5 weights | "
                   "PATH to a .keras classifier taking images in [-1, 1] (scores then not comparable with papers').")


def gan_options(function):
    """Options of both apps, filling :class:`tfxai.gan.collaborative.training.CollabGANConfig` (None = the preset's value)."""
    options = [
        click.option("--data", required=True, help="Folder with sub-folders of images (labels unused), or 'demo'."),
        click.option("--preset", type=click.Choice(["small", "thesis"]), default="small", show_default=True, help=PRESET_HELP),
        click.option("--generators", type=click.IntRange(1, 16), default=None, help="Number of generators k (1 = DCGAN)."),
        click.option("--spectral-norm/--no-spectral-norm", default=None, help="Spectral normalisation in the discriminator (default on)."),
        click.option("--image-size", type=click.IntRange(8, 1024), default=None, help="A power of two."),
        click.option("--channels", type=click.Choice(["1", "3"]), default=None, callback=_as_int),
        click.option("--latent-dim", type=click.IntRange(1, 4096), default=None),
        click.option("--filters", type=click.IntRange(1, 1024), default=None, help="Filters of the widest-resolution layer."),
        click.option("--transfer-weight", type=click.FloatRange(0.0), default=None, help="Weight of attention transfer (the thesis's alpha)."),
        click.option("--epochs", type=click.IntRange(1, 100000), default=None),
        click.option("--batch-size", type=click.IntRange(1, 4096), default=None),
        click.option("--learning-rate", type=float, default=None),
        click.option("--max-images", type=click.IntRange(0), default=None, help="Use at most this many images (0: all)."),
        click.option("--classifier", default=None, help=CLASSIFIER_HELP),
        click.option("--score-images", type=click.IntRange(2), default=None, help="Generated images per generator for IS/FID."),
        click.option("--seed", type=int, default=None),
        quiet_option,
        click.option("--overwrite", is_flag=True, help="Replace an existing output folder once the new one is complete."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.command("collab-gan")
@gan_options
@click.option("--out", default="saved_models/collab_gan", show_default=True, help="Output run folder.")
@click.option("--graph", default=None, help="all-through | mad-gan | PATH to a graph JSON (from 'tfxai search gates').")
@unsafe_deserialization_option
@mixed_precision_option
@strategy_option
@reports_errors
def train_command(preset, quiet, **options):
    """Train k generators along one knowledge-transfer graph; writes generator_<i>.keras, samples/, metrics.json."""
    from tfxai.gan.collaborative.training import CollabGANConfig, train_collab_gan

    config = CollabGANConfig.from_preset(preset, **options)
    verbose, log = progress_settings(quiet)
    _, history, scores = train_collab_gan(config, verbose=verbose, log=log)
    summary = f"d_loss {history.history['d_loss'][-1]:.3f}, g_loss {history.history['g_loss'][-1]:.3f}"
    if scores:
        summary += ", IS " + " ".join(f"{s:.2f}" for s in scores["is"]) + ", FID " + " ".join(f"{s:.1f}" for s in scores["fid"])
    echo(f"done: {config.generators} generator(s), {summary}; wrote {config.out}")


@click.command("gates")
@gan_options
@click.option("--out", default="saved_models/gate_search", show_default=True,
              help="Search folder: study.db (resumable), best_graph.json, best_graph.png, trials.csv.")
@click.option("--trials", type=click.IntRange(1), default=20, show_default=True, help="Total trial budget (completed trials count).")
@unsafe_deserialization_option
@reports_errors
def search_command(preset, quiet, trials, out, overwrite, **options):
    """Search the gate of every edge maximising the generators' mean IS (Optuna, resumable); draws the best graph."""
    from tfxai.gan.collaborative.search_training import run_gate_search

    options["graph"] = "all-through"
    run_gate_search(preset, trials, out, log=(lambda message: None) if quiet else echo, overwrite=overwrite, **options)
