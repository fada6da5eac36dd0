"""``tfxai demo``: the whole pipeline on the bundled data, offline."""

import click

from tfxai.apps.common import echo, reports_errors


@click.command("demo")
@click.option("--out", default="demo_output", show_default=True, help="Output folder (report, model, SavedModel).")
@click.option("--epochs", default=5, show_default=True, type=click.IntRange(1, 1000))
@click.option("--explain-images", default=64, show_default=True, type=click.IntRange(1, 600), help="Test images to explain.")
@click.option("--seed", default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder (only once the new one is complete).")
@reports_errors
def command(out, epochs, explain_images, seed, overwrite):
    """Train a small CNN on bundled Fashion-MNIST images, explain them with Grad-CAM, export a SavedModel and write a report."""
    from tfxai.classify.demo import DemoConfig, run_demo

    run_demo(DemoConfig(out=out, epochs=epochs, explain_images=explain_images, seed=seed, overwrite=overwrite), log=echo)
