"""``tfxai attention export-maps`` and ``tfxai attention edit``: human-edited attention maps (Mitsuhara et al. 2021)."""

import click

from tfxai.apps.common import echo, reports_errors, unsafe_deserialization_option


@click.command("export-maps")
@click.option("--model", required=True, help="A trained ABN (.keras or the folder written by 'tfxai train abn').")
@click.option("--data", required=True, help="The training data (folder with one sub-folder per class, or 'demo').")
@click.option("--out", required=True, help="Output folder: images/, maps/, overlays/, edited/, manifest.json.")
@click.option("--select", type=click.Choice(["misclassified", "all", "correct"]), default="misclassified", show_default=True)
@click.option("--limit", type=click.IntRange(1, None), default=50, show_default=True, help="Export at most this many images.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder once the new one is complete.")
@unsafe_deserialization_option
@reports_errors
def export_command(model, data, out, select, limit, overwrite):
    """Export attention maps of chosen images as grayscale PNGs to edit."""
    from tfxai.attention.abn import ABN
    from tfxai.attention.human import export_attention_maps
    from tfxai.data import load_labelled_images
    from tfxai.io import check_output_folder, load_model

    check_output_folder(out, overwrite)  # before reading the model and computing anything
    network, class_names = load_model(model, expect=ABN)
    height, width, channels = network.image_shape
    images = load_labelled_images(data, height, channels)
    echo(f"computing attention maps of {len(images.labels)} images")
    entries = export_attention_maps(network, images.images, images.labels, images.sources, out,
                                    class_names or images.class_names, select=select, limit=limit, overwrite=overwrite)
    echo(f"wrote {len(entries)} maps to {out}; edit them into {out}/edited/ (tfxai attention edit --maps {out})")


@click.command("edit")
@click.option("--maps", "folder", required=True, help="A folder written by 'tfxai attention export-maps'.")
@click.option("--scale", type=click.IntRange(1, 64), default=None, help="Display zoom (default: about 512 px wide).")
@click.option("--brush", type=click.IntRange(0, 64), default=2, show_default=True, help="Brush radius in map pixels.")
@reports_errors
def edit_command(folder, scale, brush):
    """Paint (add) and erase (remove) attention over each image; saves into edited/.

    Keys: n/space next, p previous, s save, u/z undo, e paint/erase, +/- brush, r reset, q/Esc quit.
    Left button paints, right button erases.
    """
    from tfxai.attention.human import load_manifest, run_editor

    load_manifest(folder)
    saved = run_editor(folder, scale=scale, radius=brush)
    echo(f"saved {len(saved)} edited maps in {folder}/edited")
