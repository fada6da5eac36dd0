"""Video recognition with visual explanation: the 3D ResNet baseline and ST-ABN."""

from tfxai.video.evaluation import clip_average, format_inversion_table, inversion_table
from tfxai.video.resnet3d import R3D
from tfxai.video.stabn import STABN

__all__ = ["R3D", "STABN", "clip_average", "format_inversion_table", "inversion_table"]
