"""``tfxai train abn``: Attention Branch Network (+ mining branch, PC loss, COT, human-edited maps)."""

import dataclasses

import click

from tfxai.apps.common import echo, reports_errors


@click.command("abn")
@click.option("--data", required=True, help="Folder with one sub-folder of images per class, or 'demo' (bundled Fashion-MNIST subset).")
@click.option("--out", default="saved_models/abn", show_default=True, help="Output folder.")
@click.option("--preset", type=click.Choice(["paper", "small"]), default="paper", show_default=True,
              help="paper: ResNet-50 at 224 px, batch 16, 300 epochs, mining+PC+COT, sigma 0.78; "
                   "small: small CNN at 28 px for two CPU cores.")
@click.option("--backbone", default=None, help="resnet50, mobilenet_v2, vgg16 or small_cnn (overrides the preset).")
@click.option("--weights", default=None, help="imagenet | none | PATH to a local weights file.")
@click.option("--image-size", type=click.IntRange(8, 1024), default=None)
@click.option("--channels", type=click.Choice(["1", "3"]), default=None)
@click.option("--epochs", type=click.IntRange(1, 100000), default=None)
@click.option("--batch-size", type=click.IntRange(1, 4096), default=None)
@click.option("--optimizer", type=click.Choice(["sgd", "adam"]), default=None)
@click.option("--learning-rate", type=float, default=None)
@click.option("--mining/--no-mining", "use_mining", default=None, help="Attention Mining Branch.")
@click.option("--pc/--no-pc", "use_pc", default=None, help="Prototype Conformity loss.")
@click.option("--cot/--no-cot", "use_cot", default=None, help="Complement Objective Training (needs --mining).")
@click.option("--threshold", type=float, default=None, help="Mask threshold sigma (paper: 0.78 CUB-200-2010, 0.40 Stanford Dogs).")
@click.option("--omega", type=float, default=None, help="Mask sharpness omega.")
@click.option("--mining-weight", type=float, default=None, help="Weight of L_am (paper: 1e-4).")
@click.option("--pc-weight", type=float, default=None)
@click.option("--cot-weight", type=float, default=None)
@click.option("--pretrain-epochs", type=click.IntRange(0, 100000), default=None, help="Epochs of plain ABN before mining/PC/COT start.")
@click.option("--init", default=None, help="A trained ABN (.keras or folder) to fine-tune.")
@click.option("--human-maps", default=None, help="Folder from 'tfxai attention export-maps' with edited maps (needs --init).")
@click.option("--human-weight", type=float, default=None, help="Weight of the L2 loss to the edited maps.")
@click.option("--validation-split", type=click.FloatRange(0.0, 0.9), default=None)
@click.option("--tensorboard", default=None, help="Log attention maps and metrics to this TensorBoard folder.")
@click.option("--seed", type=int, default=None)
@click.option("--no-export", is_flag=True, help="Do not write the SavedModel.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder once the new one is complete.")
@reports_errors
def command(preset, no_export, overwrite, **options):
    """Train ABN; writes model.keras, class_names.json, history.csv, metrics.json, attention/ and saved_model/."""
    from tfxai.attention.training import ABN_PRESETS, train_abn

    overrides = {k: v for k, v in options.items() if v is not None}
    if "channels" in overrides:
        overrides["channels"] = int(overrides["channels"])
    config = dataclasses.replace(ABN_PRESETS[preset], export=not no_export, overwrite=overwrite, **overrides)
    model, class_names, history = train_abn(config, log=echo)
    accuracy = history.history.get("val_accuracy", history.history.get("accuracy"))[-1]
    echo(f"done: {len(class_names)} classes, final accuracy {accuracy:.3f}; wrote {config.out}")
