"""``tfxai generate``: images that drive a trained classifier to a chosen output distribution."""

import click

from tfxai.apps.common import echo, progress_callback, reports_errors, unsafe_deserialization_option


@click.command(name="generate")
@click.option("--model", required=True, type=click.Path(), help="Trained classifier: a .keras/.h5 file or a folder written by 'tfxai train'.")
@click.option("--images", required=True, type=click.Path(), help="Starting images: an image file, a folder, or a folder of class sub-folders.")
@click.option("--target", required=True, help='Target distribution, e.g. "cat:0.9,dog:0.1" (must sum to 1; classes by name or index), or one class: "cat" or "3".')
@click.option("--out", required=True, type=click.Path(), help="Output folder (PNGs, results.csv, summary.json).")
@click.option("--classes", default=None, help="Class names: a JSON list file or 'a,b,c' (default: class_names.json next to the model).")
@click.option("--optimizer", type=click.Choice(["sgd", "momentum"]), default="momentum", show_default=True)
@click.option("--steps", type=int, default=300, show_default=True, help="Maximum updates per image.")
@click.option("--learning-rate", type=float, default=0.05, show_default=True)
@click.option("--momentum", type=float, default=0.9, show_default=True)
@click.option("--weight-decay", type=float, default=5e-4, show_default=True)
@click.option("--tolerance", type=float, default=0.01, show_default=True, help="Stop an image once KL(target||output) <= this.")
@click.option("--low-pass", "low_pass_radius", type=float, default=None, help="Low-pass filter radius (cycles per image); off by default.")
@click.option("--scale", type=float, default=None, help="Multiply [0,1] pixels by this before the model. Default: 255 for a model "
              "tfxai trained (read from its preprocessing layer: it takes [0, 255] pixels), else 1.")
@click.option("--mean", default=None, help="Per-channel mean subtracted after scaling, e.g. '0.49,0.48,0.45'.")
@click.option("--std", default=None, help="Per-channel standard deviation divided by after scaling.")
@click.option("--from-logits", is_flag=True, help="The model outputs logits, not probabilities.")
@click.option("--batch-size", type=int, default=256, show_default=True, help="Images optimised together per pass.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
@unsafe_deserialization_option
@reports_errors
def command(**options):
    """Generate images that make MODEL output TARGET (Hirano, Iwamura & Kise)."""
    from tfxai.synthesis.training import GenerateConfig, parse_floats, run_generate

    options["mean"], options["std"] = parse_floats(options["mean"]), parse_floats(options["std"])
    config = GenerateConfig(**options)
    summary = run_generate(config, progress=progress_callback("generating"))
    echo(f"pixels scaled by {summary['scale']:g} ({summary['scale_source']})")
    echo(
        f"wrote {summary['images']} images to {config.out}: mean KL to target {summary['mean_kl']:.4f}, "
        f"top-2 match {summary['top2_match_rate']:.0%}"
    )
    if summary["mean_kl"] > 10 * max(config.tolerance or 0.0, 0.01):
        echo(
            f"some images did not reach the target: try a larger --learning-rate (e.g. 1 or 5) or more --steps, and check "
            f"--scale (used {summary['scale']:g}: 255 for a model fed [0, 255] pixels, 1 for [0, 1]); results.csv lists each image's KL"
        )
