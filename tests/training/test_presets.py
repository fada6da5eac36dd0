"""One ``from_preset`` for every config (issue 17: CollabGANConfig had a copy of RunConfig's)."""

import pytest

from tfxai.classify.classifier import ClassifierConfig
from tfxai.errors import TfxaiError
from tfxai.gan.collaborative.training import CollabGANConfig


@pytest.mark.parametrize("config_class", [ClassifierConfig, CollabGANConfig])
def test_presets_apply_overrides_skip_none_and_name_bad_input(config_class):
    preset = "small"
    config = config_class.from_preset(preset, epochs=3, seed=None)
    assert config.epochs == 3 and config.seed == 0  # None keeps the preset/default value
    assert config.image_size == config_class.presets[preset]["image_size"]
    with pytest.raises(TfxaiError, match=r"unknown preset 'nope': choose one of"):
        config_class.from_preset("nope")
    with pytest.raises(TfxaiError, match=r"unknown option\(s\) \['colour'\] for " + config_class.__name__):
        config_class.from_preset(preset, colour="red")
