"""``tfxai evaluate attention``: insertion/deletion curves and scores of attention maps."""

import click

from tfxai.apps.common import echo, progress_bar, record_output, reports_errors, unsafe_deserialization_option
from tfxai.errors import plural


@click.command("attention")
@click.option("--model", required=True, help="A .keras model or a folder written by 'tfxai train' (ABN, GAIN or classifier).")
@click.option("--data", required=True, help="Folder with one sub-folder of images per class, or 'demo' (its test split).")
@click.option("--out", required=True, help="Output folder (curves.png, curves.csv, results.csv, results.md, results.json).")
@click.option("--method", type=click.Choice(["auto", "attention", "gradcam", "gradcam++", "cam"]), default="auto", show_default=True,
              help="Map source: the model's own attention (ABN, GAIN) or a CAM method.")
@click.option("--mode", "modes", type=click.Choice(["threshold", "rise"]), multiple=True,
              help="threshold (attention-value sweep, accuracy) and/or rise (pixel order, true-class probability). Default: both.")
@click.option("--thresholds", type=click.IntRange(2, 1001), default=11, show_default=True, help="Points of the threshold sweep over [0, 1].")
@click.option("--step", type=click.IntRange(1, None), default=None, help="Pixels per step in rise mode (default: the image width).")
@click.option("--limit", type=click.IntRange(1, None), default=500, show_default=True, help="Evaluate at most this many images.")
@click.option("--batch-size", type=click.IntRange(1, 4096), default=64, show_default=True)
@click.option("--normalize", is_flag=True, help="Min-max scale each map to [0, 1] first.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the --limit sample.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder once the new one is complete. "
              "An interrupted run continues (same command) from <out>.partial.")
@unsafe_deserialization_option
@reports_errors
def command(model, data, out, method, modes, thresholds, step, limit, batch_size, normalize, seed, overwrite):
    """Evaluate attention maps with insertion/deletion; writes a plot and CSV/markdown tables."""
    from tfxai.attention.evaluation import EvaluateAttentionConfig, evaluate_attention
    from tfxai.explain.streaming import partial_folder

    config = EvaluateAttentionConfig(
        model=model, data=data, out=out, method=method, modes=tuple(modes) or ("threshold", "rise"),
        thresholds=thresholds, step=step, limit=limit, batch_size=batch_size, normalize=normalize,
        seed=seed, overwrite=overwrite,
    )
    record_output(out)  # until a first chunk is saved: an interrupted run leaves nothing

    def saved(done):  # from now on an interrupted run keeps its running scores, and the same command continues it
        record_output(partial_folder(out), keeps=f"the scores of the first {plural(done, 'image')}")

    summary = evaluate_attention(config, log=echo, progress=lambda total, initial: progress_bar(total, initial, "evaluating"),
                                 on_chunk=saved)
    scores = ", ".join(f"{mode} score {r['score']:.3f}" for mode, r in summary["results"].items())
    echo(f"done: top-1 {summary['top1']:.3f}, {scores}; wrote {out}")
