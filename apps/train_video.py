"""``tfxai train video``: ST-ABN or the 3D ResNet baseline on a folder of labelled videos."""

import click

from tfxai.apps.common import mixed_precision_option, reports_errors, run_training_app, strategy_option, training_options


@click.command("video")
@training_options(("thesis", "small"), "saved_models/video", "r3d10, r3d18, r3d34 or r3d50 (3D ResNet depth)",
                  "thesis: 3D ResNet-50, 32-frame clips at 112 px; small: 3D ResNet-10 (width 8), 16 frames at 48 px for two CPU cores.")
@click.option("--model", type=click.Choice(["st_abn", "r3d"]), default=None, help="ST-ABN (default) or the plain 3D ResNet baseline.")
@click.option("--frames", type=click.IntRange(2, 1024), default=None, help="Frames per clip (T).")
@click.option("--stride", type=click.IntRange(1, 100), default=None, help="Take every STRIDE-th frame of the video.")
@click.option("--clips-per-video", type=click.IntRange(1, 100), default=None, help="Clips averaged per video at evaluation (the thesis's 32+32: 2).")
@click.option("--base-width", type=click.IntRange(1, 1024), default=None, help="Channels of the 3D ResNet's first stage.")
@click.option("--optimizer", type=click.Choice(["sgd", "adam"]), default=None)
@click.option("--attention-weight", type=float, default=None, help="Weight of L_att (ST-ABN).")
@click.option("--perception-weight", type=float, default=None, help="Weight of L_per (ST-ABN).")
@mixed_precision_option
@strategy_option
@reports_errors
def command(preset, no_export, overwrite, **options):
    """Train a video model; writes model.keras, class_names.json, history.csv, metrics.json and saved_model/.

    --data is a folder with one sub-folder per class holding videos (any format OpenCV reads) or folders of frames.
    """
    from tfxai.video.training import VideoConfig, train_video

    run_training_app(VideoConfig, train_video, preset, no_export, overwrite, **options)
