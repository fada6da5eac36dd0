"""``tfxai explain``: overlays, a contact sheet and a CSV of predictions for images or a folder."""

import os

import click

from tfxai.apps.common import echo, reports_errors, unsafe_deserialization_option
from tfxai.errors import plural

CAM_CHOICES = ["gradcam", "gradcam++", "cam", "scorecam", "smoothgrad", "layercam"]


@click.command("explain")
@click.option("--model", "model_path", required=True, help="A .keras file or a folder written by 'tfxai train'.")
@click.option("--images", "image_paths", required=True, multiple=True, help="Image files or folders (repeatable). "
              "Images in class-named sub-folders get their true label printed.")
@click.option("--out", required=True, help="Output folder.")
@click.option("--method", type=click.Choice(CAM_CHOICES), default="gradcam", show_default=True)
@click.option("--layer", default=None, help="Feature-map layer name (default: the last convolutional feature map).")
@click.option("--target", default=None, help="Explain this class (a name or an index) instead of the predicted class.")
@click.option("--alpha", type=click.FloatRange(0, 1), default=0.4, show_default=True, help="Heatmap opacity.")
@click.option("--convert", is_flag=True, hidden=True, help="No effect (images are always converted to the model's channels); kept for old scripts.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder once the new one is complete.")
@unsafe_deserialization_option
@reports_errors
def command(model_path, image_paths, out, method, layer, target, alpha, convert, overwrite):
    """Explain a classifier's predictions on images with a CAM method."""
    import numpy as np

    from tfxai.classify.classifier import load_classifier
    from tfxai.data import list_images, load_images
    from tfxai.explain import METHODS, get_method, saliency
    from tfxai.explain.report import explain_batch, write_report
    from tfxai.io import check_output_folder, class_index, staged_directory

    check_output_folder(out, overwrite)
    model, class_names = load_classifier(model_path)
    target = None if target is None else class_index(target, class_names)
    paths = [p for entry in image_paths for p in list_images(entry)]
    height, width, channels = model.inputs[0].shape[1:]
    images = load_images(paths, (height, width), channels)
    true = [class_names.index(os.path.basename(os.path.dirname(p))) if os.path.basename(os.path.dirname(p)) in class_names else -1 for p in paths]
    targets = None if target is None else [target] * len(paths)
    echo(f"explaining {plural(len(paths), 'image')} with {method}")
    if method in METHODS:
        explainer = get_method(method)(model, layer)
    else:
        def explainer(batch):
            probabilities = model(batch, training=False).numpy()
            # one class for every image, however the report batches them
            return saliency(method, model, batch, targets=target, layer=layer), probabilities
    with staged_directory(out, overwrite=overwrite) as staging:
        explanations = explain_batch(explainer, images, paths, np.asarray(true), targets if method in METHODS else None, sources=paths)
        accuracy = write_report(explanations, class_names, staging, f"tfxai explain: {method}", alpha=alpha)
    summary = f", accuracy {accuracy:.3f} on labelled images" if accuracy is not None else ""
    echo(f"wrote {out}: contact_sheet.png, predictions.csv, overlays/{summary}")
