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


def test_the_collaborative_gan_thesis_preset_carries_the_search_and_the_common_scoring_protocol():
    from tfxai.gan.collaborative.training import CollabGANConfig

    thesis = CollabGANConfig.from_preset("thesis", data="demo")
    # "探索回数を 1,500" (1,500 search trials), "学習回数を 50" (50 epochs per trial); IS/FID on 50,000 images, IS over 10 splits
    assert (thesis.search_trials, thesis.search_epochs, thesis.score_images, thesis.score_splits) == (1500, 50, 50000, 10)
    small = CollabGANConfig.from_preset("small", data="demo")
    assert small.search_trials < thesis.search_trials and small.search_epochs < thesis.search_epochs
