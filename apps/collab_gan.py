"""``tfxai train collab-gan`` and ``tfxai search gates``: collaborative GANs with a knowledge-transfer graph."""

import dataclasses

import click

from tfxai.apps.common import echo, mixed_precision_option, progress_settings, quiet_option, strategy_option, unsafe_deserialization_option
from tfxai.apps.options import config_options
from tfxai.gan.collaborative.training import CollabGANConfig

#: ``--classifier`` was the scorer's flag; ``tfxai tta --classifier`` is the tested model, so here it is ``--scorer``.
DEPRECATED = {"--classifier": "scorer"}


@click.command("collab-gan")
@config_options(CollabGANConfig, exclude=("search_trials", "search_epochs"), aliases=DEPRECATED)
@quiet_option
@unsafe_deserialization_option
@mixed_precision_option
@strategy_option
def train_command(config, quiet):
    """Train k generators along one knowledge-transfer graph; writes generator_<i>.keras, samples/, metrics.json."""
    from tfxai.gan.collaborative.training import train_collab_gan

    verbose, log = progress_settings(quiet)
    result = train_collab_gan(config, verbose=verbose, log=log, warn=lambda message: click.echo(message, err=True))  # even under --quiet
    history, scores = result.history, result.metrics
    summary = f"d_loss {history['d_loss'][-1]:.3f}, g_loss {history['g_loss'][-1]:.3f}"
    summary += ", diversity " + " ".join(f"{s:.2f}" for s in scores["diversity"])
    if "is" in scores:
        summary += ", IS " + " ".join(f"{s:.2f}" for s in scores["is"]) + ", FID " + " ".join(f"{s:.1f}" for s in scores["fid"])
        summary += f" ({scores['scored_with']})"
    echo(f"done: {config.generators} generator(s), {summary}; wrote {config.out}")


@click.command("gates")
@config_options(CollabGANConfig, exclude=("out", "graph"), aliases=DEPRECATED)
@click.option("--out", default="saved_models/gate_search", show_default=True,
              help="Search folder: study.db (resumable), best_graph.json, best_graph.png, trials.csv.")
@quiet_option
@unsafe_deserialization_option
def search_command(config, quiet, out):
    """Search the gate of every edge maximising the generators' mean IS (Optuna, resumable); draws the best graph."""
    from tfxai.gan.collaborative.search_training import run_gate_search

    options = {field.name: getattr(config, field.name) for field in dataclasses.fields(config) if field.name not in ("out", "preset", "overwrite")}
    options["graph"] = "all-through"
    run_gate_search(config.preset, out, log=(lambda message: None) if quiet else echo, overwrite=config.overwrite, **options)
