"""``tfxai explain video``: spatial and temporal attention of a video model over the clips of one video."""

import click

from tfxai.apps.common import echo, progress_bar, reports_errors, unsafe_deserialization_option


def _video_argument(function):
    """``VIDEO`` as the positional argument (as every annotate command takes it), ``--video`` a hidden, deprecated alias."""
    function = click.option("--video", "video_option", type=click.Path(), hidden=True,
                            help="Deprecated: pass the video as the positional VIDEO.")(function)
    return click.argument("video", type=click.Path(), required=False)(function)


def _the_video(video, video_option):
    from tfxai.errors import TfxaiError

    if video_option is not None:
        echo("note: --video is deprecated: pass the video as the positional VIDEO argument")
        if video is not None and video != video_option:
            raise TfxaiError(f"two videos given ({video} and --video {video_option}): pass one VIDEO")
        video = video_option
    if video is None:
        raise TfxaiError("missing VIDEO: pass the video file (or folder of frames) as the first argument")
    return video


@click.command("video")
@_video_argument
@click.option("--model", "model_path", required=True, help="A folder written by 'tfxai train video', or any Keras video classifier (.keras/.h5, input (frames, H, W, C); explained with Grad-CAM).")
@click.option("--out", required=True, help="Output folder.")
@click.option("--clips", type=click.IntRange(1, 100), default=2, show_default=True, help="Clips spread over the video; their scores are averaged.")
@click.option("--stride", type=click.IntRange(1, 100), default=1, show_default=True, help="Take every STRIDE-th frame (as in training).")
@click.option("--format", "video_format", type=click.Choice(["mp4", "gif"]), default="mp4", show_default=True)
@click.option("--alpha", type=click.FloatRange(0, 1), default=0.4, show_default=True, help="Heatmap opacity.")
@click.option("--scale", type=click.IntRange(1, 16), default=1, show_default=True, help="Enlarge the frames of the pictures this many times.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder once the new one is complete.")
@unsafe_deserialization_option
@reports_errors
def command(video, video_option, model_path, out, clips, stride, video_format, alpha, scale, overwrite):
    """Explain VIDEO (a video file or a folder of frames): per clip, its frames at their own size with the spatial
    attention (JET), the temporal attention as a strip (red = important) and "class <name> p=<prob> frame <n>" on each.

    ST-ABN shows its own attentions; a 3D ResNet baseline its Grad-CAM and, as the strip, each frame's share of it.
    """
    from tfxai.io import check_output_folder, load_model, staged_directory
    from tfxai.video.explaining import explain_video

    video_path = _the_video(video, video_option)
    check_output_folder(out, overwrite)
    model, class_names = load_model(model_path)
    with staged_directory(out, overwrite=overwrite) as staging:
        summary = explain_video(model, video_path, staging, class_names, clips, stride, video_format, alpha, scale,
                                progress=lambda total: progress_bar(total, desc="explaining", unit="clip", delay=None))
    echo(f"wrote {out}: {summary['predicted']} ({summary['probability']:.3f}, {clips} clip(s) averaged); "
         f"clip*.png, clip*.{video_format}, summary.json")
