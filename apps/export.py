"""``tfxai export``: a SavedModel serving probabilities, class id and heatmap."""

import click

from tfxai.apps.common import echo, reports_errors


@click.command("export")
@click.option("--model", "model_path", required=True, help="A .keras file or a folder written by 'tfxai train'.")
@click.option("--out", required=True, help="SavedModel folder to write.")
@click.option("--method", type=click.Choice(["gradcam", "gradcam++", "cam"]), default="gradcam", show_default=True)
@click.option("--layer", default=None, help="Feature-map layer (default: the last convolutional feature map).")
@click.option("--input-dtype", type=click.Choice(["float32", "uint8"]), default="float32", show_default=True,
              help="Input type of serving_default (serve_float32 and serve_uint8 are always there).")
@click.option("--overwrite", is_flag=True)
@reports_errors
def command(model_path, out, method, layer, input_dtype, overwrite):
    """Export a trained classifier as a SavedModel that returns predictions and explanations."""
    from tfxai.classifier import load_classifier
    from tfxai.export import export_saved_model

    model, _ = load_classifier(model_path)
    export_saved_model(model, out, explain=method, layer=layer, input_dtype=input_dtype, overwrite=overwrite)
    echo(f"wrote {out}: signatures serving_default, serve_float32, serve_uint8 -> probabilities, class_id, heatmap")
