"""The four StarGAN v2 networks (Choi et al., CVPR 2020), as the official architecture
(clovaai/stargan-v2 ``core/model.py``) without the high-pass filter (``w_hpf=0``).

Every network works on images in [-1, 1] (channels last) and picks one output
head per domain with an integer ``domains`` tensor.
"""

import math

import keras
from keras import ops

from tfxai.errors import TfxaiError
from tfxai.gan.stargan.layers import AdainResBlock, ResBlock, conv, dense, instance_norm

__all__ = ["Discriminator", "Generator", "MappingNetwork", "StyleEncoder", "WIDTH_DIVISORS", "network_widths"]

# preset -> how much narrower than the official width every layer is
WIDTH_DIVISORS = {"official": 1, "thesis": 1, "small": 8, "tiny": 64}  # tiny: for tests


def network_widths(image_size, preset="official"):
    """``(first conv width, widest conv, mapping width)``: officially 2**14 // size, 512 and 512."""
    if preset not in WIDTH_DIVISORS:
        raise TfxaiError(f"unknown StarGAN v2 preset {preset!r}: use one of {', '.join(WIDTH_DIVISORS)}")
    if image_size < 16 or image_size & (image_size - 1):
        raise TfxaiError(f"image size {image_size} is not a power of two >= 16: StarGAN v2 halves it down to 4 (use 16, 32, 64, ...)")
    divisor = WIDTH_DIVISORS[preset]
    return max((2**14 // image_size) // divisor, 1), 512 // divisor, 512 // divisor


def select_domain(stacked, domains):
    """Row ``i`` of ``stacked[:, domains[i]]`` for (batch, num_domains, ...) outputs."""
    return ops.take_along_axis(stacked, ops.reshape(ops.cast(domains, "int32"), (-1, 1) + (1,) * (len(stacked.shape) - 2)), axis=1)[:, 0]


class _Network(keras.Model):
    """Shared config plumbing: every network is rebuilt from its constructor arguments."""

    def get_config(self):
        return {"name": self.name, **self._arguments}


@keras.saving.register_keras_serializable(package="tfxai")
class Generator(_Network):
    """Encoder (residual blocks with instance norm, downsampling, bottleneck) and AdaIN decoder."""

    def __init__(self, image_size=256, style_dim=64, preset="official", channels=3, **kwargs):
        super().__init__(**kwargs)
        self._arguments = {"image_size": image_size, "style_dim": style_dim, "preset": preset, "channels": channels}
        dim_in, max_dim, _ = network_widths(image_size, preset)
        self.from_rgb = conv(dim_in)
        self.encode_blocks, decode = [], []
        dim_out = dim_in
        for _ in range(int(math.log2(image_size)) - 4):
            dim_out = min(dim_in * 2, max_dim)
            self.encode_blocks.append(ResBlock(dim_in, dim_out, normalize=True, downsample=True))
            decode.insert(0, AdainResBlock(dim_out, dim_in, upsample=True))
            dim_in = dim_out
        for _ in range(2):
            self.encode_blocks.append(ResBlock(dim_out, dim_out, normalize=True))
            decode.insert(0, AdainResBlock(dim_out, dim_out))
        self.decode_blocks = decode
        self.to_rgb_norm = instance_norm()
        self.to_rgb = conv(channels, 1)
        self.encoder_channels = dim_out

    def encode(self, images):
        """The content features (the class-aware classifier reads them)."""
        x = self.from_rgb(images)
        for block in self.encode_blocks:
            x = block(x)
        return x

    def decode(self, features, styles):
        """Images in [-1, 1] (not clipped) from content features and style codes."""
        x = features
        for block in self.decode_blocks:
            x = block(x, styles)
        return ops.cast(self.to_rgb(ops.leaky_relu(self.to_rgb_norm(x), 0.2)), "float32")  # float32 under mixed precision too

    def call(self, images, styles):
        return self.decode(self.encode(images), styles)


@keras.saving.register_keras_serializable(package="tfxai")
class MappingNetwork(_Network):
    """Latent code -> style code: a shared 4-layer MLP and a 4-layer head per domain."""

    def __init__(self, num_domains=2, latent_dim=16, style_dim=64, preset="official", image_size=256, **kwargs):
        super().__init__(**kwargs)
        self._arguments = {"num_domains": num_domains, "latent_dim": latent_dim, "style_dim": style_dim,
                           "preset": preset, "image_size": image_size}
        width = network_widths(image_size, preset)[2]
        self.shared = [dense(width, "relu") for _ in range(4)]
        self.heads = [[dense(width, "relu") for _ in range(3)] + [dense(style_dim)] for _ in range(num_domains)]

    def call(self, latents, domains):
        h = latents
        for layer in self.shared:
            h = layer(h)
        outputs = []
        for head in self.heads:
            x = h
            for layer in head:
                x = layer(x)
            outputs.append(x)
        return ops.cast(select_domain(ops.stack(outputs, axis=1), domains), "float32")


class _DownsamplingTrunk(_Network):
    """Conv, residual blocks halving the size down to 4x4, then a 4x4 valid conv (shared by E and D)."""

    def _build_trunk(self, image_size, preset):
        dim_in, max_dim, _ = network_widths(image_size, preset)
        self.from_rgb = conv(dim_in)
        self.blocks = []
        for _ in range(int(math.log2(image_size)) - 2):
            dim_out = min(dim_in * 2, max_dim)
            self.blocks.append(ResBlock(dim_in, dim_out, downsample=True))
            dim_in = dim_out
        self.last_conv = conv(dim_out, 4, padding="valid")
        return dim_out

    def trunk(self, images):
        x = self.from_rgb(images)
        for block in self.blocks:
            x = block(x)
        x = self.last_conv(ops.leaky_relu(x, 0.2))
        return ops.leaky_relu(x, 0.2)[:, 0, 0, :]


@keras.saving.register_keras_serializable(package="tfxai")
class StyleEncoder(_DownsamplingTrunk):
    """Image -> style code of a given domain: a shared trunk and a linear head per domain."""

    def __init__(self, image_size=256, num_domains=2, style_dim=64, preset="official", **kwargs):
        super().__init__(**kwargs)
        self._arguments = {"image_size": image_size, "num_domains": num_domains, "style_dim": style_dim, "preset": preset}
        self._build_trunk(image_size, preset)
        self.heads = [dense(style_dim) for _ in range(num_domains)]

    def call(self, images, domains):
        h = self.trunk(images)
        return ops.cast(select_domain(ops.stack([head(h) for head in self.heads], axis=1), domains), "float32")


@keras.saving.register_keras_serializable(package="tfxai")
class Discriminator(_DownsamplingTrunk):
    """Image -> real/fake logit for a given domain (one output per domain, a 1x1 conv of the trunk)."""

    def __init__(self, image_size=256, num_domains=2, preset="official", **kwargs):
        super().__init__(**kwargs)
        self._arguments = {"image_size": image_size, "num_domains": num_domains, "preset": preset}
        self._build_trunk(image_size, preset)
        self.out = dense(num_domains)  # the official 1x1 conv on a 1x1 map

    def call(self, images, domains):
        return ops.cast(select_domain(self.out(self.trunk(images)), domains), "float32")
