"""StarGAN v2 networks: official parameter counts, per-domain heads, AdaIN by hand."""

import numpy as np
import pytest

from tfxai.errors import TfxaiError
from tfxai.gan.stargan.layers import AdaIN
from tfxai.gan.stargan.networks import Discriminator, Generator, MappingNetwork, StyleEncoder, network_widths

# clovaai/stargan-v2 at style dim 64, latent dim 16, 2 domains, w_hpf=0
OFFICIAL_COUNTS = {256: (33_892_995, 2_438_272, 20_916_928, 20_852_290), 32: (28_740_099, 2_438_272, 18_433_664, 18_369_026)}


def _build(size, preset, num_domains=2, style_dim=64, latent_dim=16):
    networks = (Generator(size, style_dim, preset), MappingNetwork(num_domains, latent_dim, style_dim, preset, size),
                StyleEncoder(size, num_domains, style_dim, preset), Discriminator(size, num_domains, preset))
    images = np.zeros((2, size, size, 3), "float32")
    domains = np.arange(2) % num_domains
    styles = networks[1](np.zeros((2, latent_dim), "float32"), domains)
    return networks, [networks[0](images, styles), styles, networks[2](images, domains), networks[3](images, domains)]


@pytest.mark.parametrize("size", [32, 256])
def test_parameter_counts_match_the_official_architecture(size):
    networks, _ = _build(size, "official")
    assert tuple(network.count_params() for network in networks) == OFFICIAL_COUNTS[size]


def test_output_shapes_and_each_domain_uses_its_own_head():
    (generator, mapping, encoder, discriminator), outputs = _build(16, "tiny", num_domains=3, style_dim=8, latent_dim=4)
    assert [tuple(o.shape) for o in outputs] == [(2, 16, 16, 3), (2, 8), (2, 8), (2,)]
    rng = np.random.default_rng(0)
    latents, images = rng.normal(size=(1, 4)).astype("float32"), rng.normal(size=(1, 16, 16, 3)).astype("float32")
    for network, x in ((mapping, latents), (encoder, images), (discriminator, images)):
        per_domain = [np.asarray(network(x, np.array([d]))) for d in range(3)]
        stacked = np.asarray(network(np.repeat(x, 3, 0), np.arange(3)))
        np.testing.assert_allclose(stacked, np.concatenate(per_domain), atol=1e-5)
        assert not np.allclose(per_domain[0], per_domain[1]) and not np.allclose(per_domain[1], per_domain[2])


def test_adain_normalises_then_applies_the_styles_scale_and_bias():
    rng = np.random.default_rng(1)
    x, style = rng.normal(2.0, 3.0, (2, 4, 4, 3)).astype("float32"), rng.normal(size=(2, 5)).astype("float32")
    layer = AdaIN(3)
    layer(x, style)
    kernel, bias = (np.asarray(w) for w in layer.fc.weights)
    h = style @ kernel + bias
    gamma, beta = h[:, None, None, :3], h[:, None, None, 3:]
    mean, var = x.mean(axis=(1, 2), keepdims=True), x.var(axis=(1, 2), keepdims=True)
    expected = (1 + gamma) * (x - mean) / np.sqrt(var + 1e-5) + beta
    np.testing.assert_allclose(np.asarray(layer(x, style)), expected, atol=1e-4)


def test_bad_image_size_and_preset_are_one_line_errors():
    with pytest.raises(TfxaiError, match="power of two"):
        network_widths(48)
    with pytest.raises(TfxaiError, match="unknown StarGAN v2 preset"):
        network_widths(32, "huge")
