"""Presets of ST-ABN and its 3D ResNet baseline (``tfxai train video --preset``): preset name -> field values of
:class:`~tfxai.video.training.VideoConfig`.

``thesis`` is the config's defaults (docs/st_abn.md has the table of thesis
value | preset value | why it differs); ``small`` is a 3D ResNet-10 of width
8 on 16 frames of 48 px for two CPU cores.
"""

__all__ = ["VIDEO_PRESETS"]

VIDEO_PRESETS = {
    "thesis": {},
    "small": dict(backbone="r3d10", base_width=8, image_size=48, frames=16, stride=1, epochs=10, batch_size=4, optimizer="adam",
                  learning_rate=1e-3, attention_filters=16, attention_convs=1),
}
