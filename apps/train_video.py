"""``tfxai train video``: ST-ABN or the 3D ResNet baseline on a folder of labelled videos."""

import click

from tfxai.apps.common import mixed_precision_option, quiet_option, run_training_app, strategy_option
from tfxai.apps.options import config_options
from tfxai.video.training import VideoConfig


@click.command("video")
@config_options(VideoConfig)
@quiet_option
@mixed_precision_option
@strategy_option
def command(config, quiet):
    """Train a video model; writes model.keras, class_names.json, history.csv, metrics.json and saved_model/.

    --data is a folder with one sub-folder per class holding videos (any format OpenCV reads) or folders of frames.
    """
    from tfxai.video.training import train_video

    run_training_app(config, train_video, quiet)
