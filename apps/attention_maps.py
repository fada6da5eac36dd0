"""``tfxai attention export-maps`` and ``tfxai attention edit``: human-edited attention maps (Mitsuhara et al. 2021)."""

import click

from tfxai.apps.common import echo, reports_errors, unsafe_deserialization_option
from tfxai.apps.studio import host_option, without_tensorflow


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
    echo(f"wrote {len(entries)} maps to {out}; edit them in the studio: tfxai attention edit --maps {out}")


@without_tensorflow  # the studio starts in a second
@click.command("edit")
@click.option("--maps", "folder", required=True, help="A folder written by 'tfxai attention export-maps'.")
@host_option
@reports_errors
def edit_command(folder, host, port, open_browser):
    """Paint (add) and erase (remove) attention over each image in the studio (a local web page); saves into edited/.

    Left drag paints, right drag erases; e switch, [ ] brush size, u undo, r reset, n/p next/previous.
    Every stroke is saved at once as edited/NNNN.png, which 'tfxai train abn --human-maps' reads.
    """
    import os

    from tfxai.apps.studio import serve
    from tfxai.errors import TfxaiError
    from tfxai.studio.workspace import folder_kind

    if not os.path.isdir(folder) or folder_kind(folder) != "maps":
        raise TfxaiError(f"{folder} has no manifest.json and maps/: pass a folder written by 'tfxai attention export-maps'")
    serve([folder], host, port, page="/attention", item="0/.", open_browser=open_browser)
    edited = os.path.join(folder, "edited")
    echo(f"{len([n for n in os.listdir(edited) if n.endswith('.png')])} edited maps in {edited}")
