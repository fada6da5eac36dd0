"""``tfxai export``: a SavedModel serving probabilities, class id and heatmap, for any tfxai model."""

import click

from tfxai.apps.common import echo, reports_errors, unsafe_deserialization_option


@click.command("export")
@click.option("--model", "model_path", required=True, help="A .keras file or a folder written by 'tfxai train'.")
@click.option("--out", required=True, help="SavedModel folder to write.")
@click.option("--method", type=click.Choice(["auto", "gradcam", "gradcam++", "cam"]), default="auto", show_default=True,
              help="auto: an attention model's own maps (ABN, GAIN), Grad-CAM for other classifiers.")
@click.option("--layer", default=None, help="Feature-map layer (default: the last convolutional feature map).")
@click.option("--input-dtype", type=click.Choice(["float32", "uint8"]), default="float32", show_default=True,
              help="Input type of serving_default (serve_float32 and serve_uint8 are always there).")
@click.option("--overwrite", is_flag=True)
@unsafe_deserialization_option
@reports_errors
def command(model_path, out, method, layer, input_dtype, overwrite):
    """Export a trained model as a SavedModel that returns predictions and explanations."""
    from tfxai.io.export import export_saved_model
    from tfxai.io import check_output_folder, load_model

    check_output_folder(out, overwrite)
    model, class_names = load_model(model_path)
    explain = None if method == "auto" else method
    export_saved_model(model, out, explain=explain, layer=layer, input_dtype=input_dtype, overwrite=overwrite,
                       class_names=class_names)
    names = ", class_name" if class_names else ""
    echo(f"wrote {out}: signatures serving_default, serve_float32, serve_uint8 -> probabilities, class_id{names}, heatmap")
