"""``tfxai tta``: style-transfer test-time augmentation accuracy with N = 0, 1 and N styles."""

import click

from tfxai.apps.common import echo, progress_bar, reports_errors, unsafe_deserialization_option


@click.command(name="tta")
@click.option("--classifier", required=True, type=click.Path(), help="Source-trained classifier: .keras file or a 'tfxai train' folder.")
@click.option("--translator", required=True, type=click.Path(), help="StarGAN v2 from 'tfxai train stargan' (folder or .keras file).")
@click.option("--data", required=True, type=click.Path(), help="Labelled target-domain folder (one sub-folder per class).")
@click.option("--n", type=click.IntRange(1, 1000), default=10, show_default=True, help="Styles per image (N).")
@click.option("--batch-size", type=click.IntRange(1, 4096), default=64, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", default=None, type=click.Path(), help="Optional folder for results.json and the TTA classifier SavedModel.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
@unsafe_deserialization_option
@reports_errors
def command(**options):
    """Classify translated target images, averaging N source styles (Imaeda)."""
    from tfxai.gan.stargan.training import TTAConfig, run_tta

    config = TTAConfig(**options)
    results = run_tta(config, log=echo, progress=lambda total, initial: progress_bar(total, initial, "translating"))
    click.echo(" ".join(f"{key}={value:.4f}" for key, value in results.items()))
