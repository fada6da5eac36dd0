"""``tfxai export``: a SavedModel, LiteRT or ONNX model serving probabilities, class id and heatmap, for any tfxai model."""

import click

from tfxai.apps.common import echo, reports_errors, unsafe_deserialization_option


@click.command("export")
@click.option("--model", "model_path", required=True, help="A .keras file or a folder written by 'tfxai train'.")
@click.option("--out", required=True, help="Folder to write: the SavedModel, or a folder holding model.tflite / model.onnx; model_card.json in each.")
@click.option("--format", "export_format", type=click.Choice(["savedmodel", "tflite", "onnx"]), default="savedmodel", show_default=True,
              help="savedmodel (TensorFlow Serving), tflite (LiteRT: phones, boards) or onnx (ONNX Runtime).")
@click.option("--quantize", type=click.Choice(["none", "dynamic", "float16", "int8"]), default="none", show_default=True,
              help="tflite only: int8 weights (dynamic), float16 weights, or int8 weights and activations (int8, needs calibration images).")
@click.option("--calibration", default=None,
              help="Images for int8 calibration and the export check: an image folder or 'demo' "
                   "(default: the run folder's training data when metrics.json names it).")
@click.option("--method", type=click.Choice(["auto", "gradcam", "gradcam++", "cam"]), default="auto", show_default=True,
              help="auto: an attention model's own maps (ABN, GAIN), Grad-CAM for other classifiers.")
@click.option("--layer", default=None, help="Feature-map layer (default: the last convolutional feature map).")
@click.option("--input-dtype", type=click.Choice(["float32", "uint8"]), default="float32", show_default=True,
              help="Input type of serving_default / of the LiteRT and ONNX input 'images' (the SavedModel also has serve_float32 and serve_uint8).")
@click.option("--overwrite", is_flag=True)
@unsafe_deserialization_option
@reports_errors
def command(model_path, out, export_format, quantize, calibration, method, layer, input_dtype, overwrite):
    """Export a trained model that returns predictions and explanations (SavedModel, LiteRT or ONNX)."""
    from tfxai.io import check_output_folder, load_model, model_kind
    from tfxai.io.export import export, training_data

    check_output_folder(out, overwrite)
    model, class_names = load_model(model_path)
    if model_kind(model) == "signal":
        return _export_signal(model, model_path, out, export_format, quantize, calibration, method, overwrite)
    explain = None if method == "auto" else method
    if calibration is None and quantize == "int8":
        calibration = training_data(model_path)
    card = export(model, out, format=export_format, explain=explain, layer=layer, input_dtype=input_dtype, overwrite=overwrite,
                  class_names=class_names, quantize=quantize, calibration=calibration)
    outputs = ", ".join(name for name in ("probabilities", "class_id", "class_name", "heatmap", "spatial", "temporal") if name in card["outputs"])
    check = card["agreement_with_keras"]
    if check is None:
        echo(f"not checked: {card['agreement_not_measured']}")
    else:
        echo(f"checked on {check['images']} images: max |diff| probabilities {check['max_abs_diff_probabilities']:.1e}"
             + (f", heatmap {check['max_abs_diff_heatmap']:.1e}" if "max_abs_diff_heatmap" in check else "")
             + f", top-1 agreement {check['top1_agreement']:.1%}")
    if export_format == "tflite":
        echo(f"Select TF ops: {card['select_tf_ops_note']}")
    if export_format == "savedmodel":
        echo(f"wrote {out}: signatures serving_default, serve_float32, serve_uint8 -> {outputs}")
    else:
        echo(f"wrote {out}/{card['file']} ({card['size_bytes'] / 1e6:.2f} MB) -> {outputs}; model_card.json beside it")


def _export_signal(model, model_path, out, export_format, quantize, calibration, method, overwrite):
    """A signal run folder: its preprocessing, window and class names go into the export; the model's own attention is served."""
    import os

    from tfxai.errors import TfxaiError
    from tfxai.signal.run_export import export_signal_run

    if method != "auto":
        raise TfxaiError(f"--method {method} explains images; a signal model serves its own attention (1D-SAN) or none: drop --method")
    folder = model_path if os.path.isdir(model_path) else os.path.dirname(os.path.abspath(model_path))
    card = export_signal_run(folder, out, export_format, quantize, calibration, overwrite)
    if card is None:
        echo(f"wrote {out}: endpoint serve(windows) -> probabilities{', attention' if hasattr(model, 'call_with_attention') else ''}")
        return
    check = card["agreement_with_keras"]
    if check is not None:
        echo(f"checked on {check['images']} windows: max |diff| probabilities {check['max_abs_diff_probabilities']:.1e}"
             + (f", attention {check['max_abs_diff_attention']:.1e}" if "max_abs_diff_attention" in check else "")
             + f", top-1 agreement {check['top1_agreement']:.1%}")
    echo(f"wrote {out}/{card['file']} ({card['size_bytes'] / 1e6:.2f} MB) -> {', '.join(card['outputs'])}; model_card.json beside it")

