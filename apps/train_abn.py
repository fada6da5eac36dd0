"""``tfxai train abn``: Attention Branch Network (+ mining branch, PC loss, COT, human-edited maps)."""

import click

from tfxai.apps.common import mixed_precision_option, reports_errors, run_training_app, strategy_option, training_options, unsafe_deserialization_option


@click.command("abn")
@training_options(("paper", "small"), "saved_models/abn", "resnet50, mobilenet_v2, vgg16 or small_cnn",
                  "paper: ResNet-50 at 224 px, batch 16, 300 epochs, mining+PC+COT, sigma 0.78; "
                  "small: small CNN at 28 px for two CPU cores.")
@click.option("--optimizer", type=click.Choice(["sgd", "adam"]), default=None)
@click.option("--mining/--no-mining", "use_mining", default=None, help="Attention Mining Branch.")
@click.option("--pc/--no-pc", "use_pc", default=None, help="Prototype Conformity loss.")
@click.option("--cot/--no-cot", "use_cot", default=None, help="Complement Objective Training (needs --mining).")
@click.option("--sigma", type=float, default=None, help="Mask threshold sigma (paper: 0.78 CUB-200-2010, 0.40 Stanford Dogs).")
@click.option("--omega", type=float, default=None, help="Mask sharpness omega.")
@click.option("--mining-weight", type=float, default=None, help="Weight of L_am (paper: 1e-4).")
@click.option("--pc-weight", type=float, default=None)
@click.option("--cot-weight", type=float, default=None)
@click.option("--pretrain-epochs", type=click.IntRange(0, 100000), default=None, help="Epochs of plain ABN before mining/PC/COT start.")
@click.option("--init", default=None, help="A trained ABN (.keras or folder) to fine-tune.")
@click.option("--human-maps", default=None, help="Folder from 'tfxai attention export-maps' with edited maps (needs --init).")
@click.option("--map-weight", type=float, default=None, help="Weight of the map loss to the edited maps.")
@click.option("--tensorboard", default=None, help="Log attention maps and metrics to this TensorBoard folder.")
@unsafe_deserialization_option
@mixed_precision_option
@strategy_option
@reports_errors
def command(preset, no_export, overwrite, **options):
    """Train ABN; writes model.keras, class_names.json, history.csv, metrics.json, attention/ and saved_model/."""
    from tfxai.attention.abn_training import ABNConfig, train_abn

    run_training_app(ABNConfig, train_abn, preset, no_export, overwrite, **options)
