"""``ImageWeights``: a layer whose weights are the images being generated."""

import math

import keras
from keras import ops

from tfxai.synthesis.mapping import DEFAULT_EPSILON, image_to_weights, weights_to_image


@keras.saving.register_keras_serializable(package="tfxai")
class ImageWeights(keras.layers.Layer):
    """A bias-free dense layer with one input whose weights hold images.

    Hirano, Iwamura & Kise, "Generating images that drive a trained model to an
    arbitrary output, and learning with them": the image is the weight of an
    extra dense layer with D = 1 input, no bias and d = h * w * c outputs. The
    layer is fed the constant 1, so its output *is* its weight; the output is
    mapped by ``arctan(y) / pi + 0.5`` into (0, 1) and reshaped into an image.
    Back-propagating a loss on a classifier placed after this layer changes
    only the image.

    For batched generation the layer holds ``num_images`` such dense kernels,
    one per image, stored as a ``(num_images, d)`` weight: row ``i`` is the
    ``(1, d)`` kernel of image ``i``. Rows never interact, so a loss that is a
    sum over images gives each row exactly its own single-image gradient.

    Parameters
    ----------
    image_shape : tuple of int
        ``(height, width, channels)`` of one image.
    num_images : int
        How many images (independent kernels) the layer holds.
    epsilon : float
        Pixels are clipped to ``[epsilon, 1 - epsilon]`` before ``tan`` when
        images are loaded with :meth:`set_images`, so the weights stay finite.
    **kwargs
        Standard layer arguments (``name``, ``dtype``, ...).

    Call arguments
    --------------
    inputs : tensor of shape ``(num_images, 1)`` or ``(1, 1)``
        The dense layer's input, the constant 1 in the paper. A ``(1, 1)``
        input is broadcast to every image.

    Returns
    -------
    tensor of shape ``(num_images, height, width, channels)`` in (0, 1).
    """

    def __init__(self, image_shape, num_images=1, epsilon=DEFAULT_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.num_images = int(num_images)
        self.epsilon = float(epsilon)
        self.units = math.prod(self.image_shape)

    def build(self, input_shape=None):
        # Zero weights read back as a uniform grey (0.5) image.
        self.kernel = self.add_weight(
            shape=(self.num_images, self.units), initializer="zeros", name="kernel"
        )
        self.built = True

    def call(self, inputs):
        outputs = ops.convert_to_tensor(inputs, self.compute_dtype) * self.kernel
        images = weights_to_image(outputs)
        return ops.reshape(images, (-1,) + self.image_shape)

    def compute_output_shape(self, input_shape):
        return (self.num_images,) + self.image_shape

    def images(self):
        """Return the current images, shape ``(num_images, h, w, c)``."""
        return self(ops.ones((self.num_images, 1), self.compute_dtype))

    def set_images(self, images):
        """Load ``images`` (shape ``(num_images, h, w, c)``, values in [0, 1]) into the weights."""
        if not self.built:
            self.build((self.num_images, 1))
        weights = image_to_weights(images, self.epsilon)
        self.kernel.assign(ops.reshape(weights, (self.num_images, self.units)))

    def get_config(self):
        config = super().get_config()
        config.update(
            {"image_shape": list(self.image_shape), "num_images": self.num_images, "epsilon": self.epsilon}
        )
        return config
