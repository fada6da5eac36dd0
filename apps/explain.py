"""``tfxai explain``: overlays, a contact sheet and a CSV of predictions for images or a folder."""

import os

import click

from tfxai import _runtime
from tfxai.apps.common import echo, progress_bar, record_output, reports_errors, unsafe_deserialization_option
from tfxai.errors import plural

#: The model kinds this app explains (:func:`tfxai.io.model_kind`); videos and signals have their own apps.
KINDS = ("image", "attention")


class RegistryChoice(click.Choice):
    """``--method``'s choices: the names in :data:`tfxai.explain.EXPLAINERS` for image and attention models.

    Read when first needed (parsing or ``--help``), so listing the apps does
    not import TensorFlow; it is then imported with its start-up logs hidden.
    """

    def __init__(self, kinds):
        self.kinds = kinds
        super().__init__((), case_sensitive=False)

    @property
    def choices(self):
        context = click.get_current_context(silent=True)
        if context is None or not context.find_root().params.get("verbose"):
            _runtime.import_tensorflow_silently()
        from tfxai.explain import explainer_names

        return tuple(explainer_names(self.kinds))

    @choices.setter
    def choices(self, value):
        """click sets the choices when built; they are the registry's."""


@click.command("explain")
@click.option("--model", "model_path", required=True, help="A .keras/.h5 image classifier, or a folder written by 'tfxai train' "
              "(classifier, abn, gain).")
@click.option("--images", "image_paths", required=True, multiple=True, help="Image files or folders (repeatable). "
              "Images in class-named sub-folders get their true label printed.")
@click.option("--out", required=True, help="Output folder.")
@click.option("--method", type=RegistryChoice(KINDS), default="gradcam", show_default=True,
              help="The CAM family (cam, gradcam, gradcam++), tf-keras-vis' scorecam, layercam and smoothgrad, or an attention "
              "model's own maps (abn, gain).")
@click.option("--layer", default=None, help="Feature-map layer name (default: the last convolutional feature map).")
@click.option("--target", default=None, help="Explain this class (a name or an index) instead of the predicted class.")
@click.option("--alpha", type=click.FloatRange(0, 1), default=0.4, show_default=True, help="Heatmap opacity.")
@click.option("--convert", is_flag=True, hidden=True, help="No effect (images are always converted to the model's channels); kept for old scripts.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder once the new one is complete.")
@unsafe_deserialization_option
@reports_errors
def command(model_path, image_paths, out, method, layer, target, alpha, convert, overwrite):
    """Explain an image classifier's (or an attention model's) predictions on images."""
    from tfxai.data import list_images
    from tfxai.explain.streaming import explain_stream, file_signature, partial_folder
    from tfxai.io import check_output_folder, class_index, load_model
    from tfxai.io.models import model_input_shape

    out = check_output_folder(out, overwrite)
    model, class_names = load_model(model_path, kinds=KINDS)
    class_names = _class_names(model, class_names, model_path)
    explainer, takes_targets = _explainer(method, model, layer)
    target = None if target is None else class_index(target, class_names)
    if target is not None and not takes_targets:
        from tfxai.errors import TfxaiError

        raise TfxaiError(f"{method} shows the model's own attention, the same for every class: drop --target or choose a CAM method")
    paths = [p for entry in image_paths for p in list_images(entry)]
    height, width, channels = model_input_shape(model)
    echo(f"explaining {plural(len(paths), 'image')} with {method}")
    record_output(out)  # until a first chunk is saved: an interrupted run leaves nothing

    def saved(done):  # from now on an interrupted run keeps what it wrote, and the same command continues it
        record_output(partial_folder(out), keeps=f"the explanations of the first {plural(done, 'image')}")

    count, labelled, accuracy, _ = explain_stream(
        explainer, paths, class_names, out, (height, width), channels,
        true=lambda p: _true_label(p, class_names), target=target, title=f"tfxai explain: {method}", alpha=alpha,
        options={"model": file_signature(model_path), "method": method, "layer": layer}, say=echo, progress=_progress_bar, on_chunk=saved)
    summary = f", accuracy {accuracy:.3f} on labelled images" if accuracy is not None else ""
    echo(f"wrote {out}: contact_sheet.png, predictions.csv, overlays/{summary}")


def _true_label(path, class_names):
    """The class of an image in a class-named sub-folder (-1: none)."""
    folder = os.path.basename(os.path.dirname(path))
    return class_names.index(folder) if folder in class_names else -1


def _progress_bar(total, initial):
    """A tqdm bar on stderr (rate and time left) when there is more than a chunk to do; none under ``--quiet``."""
    from tfxai.explain.streaming import CHUNK

    return progress_bar(total, initial, "explaining", minimum=CHUNK)


def _explainer(method, model, layer):
    """``(explainer, takes_targets)``: the registry's ``method`` on ``model`` (a CAM method on a GAIN explains its classifier)."""
    from tfxai.errors import TfxaiError
    from tfxai.explain import explainer_spec, get_explainer
    from tfxai.io import model_kind

    spec = explainer_spec(method)
    if spec.model == "image" and model_kind(model) == "attention":
        if getattr(model, "classifier", None) is None:
            raise TfxaiError(f"{type(model).__name__} is an attention model without a separate classifier, so {method} cannot "
                             f"explain it: use --method {type(model).__name__.lower()} (its own attention maps)")
        model = model.classifier
    explainer = get_explainer(method, model, layer=layer)
    return explainer, spec.model == "image" or method == "gain"


def _class_names(model, class_names, path):
    """The run folder's class names, or ``class_0``, ... (one per output; two for a single sigmoid)."""
    from tfxai.errors import TfxaiError

    outputs = getattr(model, "num_classes", None) or getattr(model, "num_outputs", None) or int(model.outputs[0].shape[-1])
    if class_names is None:
        return [f"class_{i}" for i in range(max(int(outputs), 2))]
    if len(class_names) != max(int(outputs), 2):
        raise TfxaiError(f"class_names.json beside {path} lists {len(class_names)} class names but the model has "
                         f"{outputs} outputs: give one name per class")
    return class_names
