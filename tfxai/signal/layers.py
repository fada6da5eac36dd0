"""The one-dimensional pairwise self-attention block (1D-SAB).

Zhao, Jia and Koltun, "Exploring Self-attention for Image Recognition", CVPR
2020, define pairwise self-attention as

    y_i = sum_{j in R(i)} gamma(phi(x_i) - psi(x_j)) * beta(x_j)

over a local footprint ``R(i)``. :class:`SelfAttention1D` is that operation on
sequences, with the footprint made of neighbours at a fixed spacing
(``i``, ``i +- s``, ``i +- 2s``, ...), wrapped in a residual block.
"""

import keras
import tensorflow as tf
from keras import ops

from tfxai.errors import TfxaiError

PADDINGS = ("zeros", "reflect", "symmetric")
NORMALIZATIONS = ("none", "softmax")


@keras.saving.register_keras_serializable(package="tfxai")
class SelfAttention1D(keras.layers.Layer):
    """Pairwise 1-D self-attention block (1D-SAB), after Zhao et al., CVPR 2020.

    For every time step ``i`` and each neighbour ``j = i + o`` in the footprint
    ``o in {-m*s, ..., -s, 0, s, ..., m*s}`` (``footprint = 2m + 1`` positions at
    spacing ``s``)::

        h      = relu(batch_norm(x))                       # pre-activation (optional)
        delta  = phi(h)_i - psi(h)_j                       # relation, `relation_channels`
        alpha  = gamma(delta) = W2 relu(W1 delta + p_o)    # -> `value_channels` weights
        y_i    = sum_j alpha_ij * beta(h)_j                # element-wise, summed over footprint
        out_i  = x_i + W_out y_i                           # pointwise conv back, residual

    ``phi`` and ``psi`` are 1-D convolutions (``relation_kernel_size`` wide),
    ``beta`` is pointwise, ``gamma`` is a two-layer pointwise MLP and ``p_o`` a
    learned vector per footprint position (Zhao's position encoding for the
    pairwise form, added inside ``gamma``). ``W_out`` has no bias, so a block
    whose ``gamma`` outputs zeros is exactly the identity.

    Sequence ends: neighbours that fall outside the sequence are taken from a
    padded copy of the projected features. With ``padding="zeros"`` (the
    default) ``beta`` and ``psi`` are zero there, so out-of-range neighbours
    contribute nothing (they are masked out; with ``normalization="softmax"``
    they also get zero weight). ``"reflect"`` / ``"symmetric"`` mirror the
    sequence at its ends instead (needs sequences longer than the footprint's
    half-width ``m*s``).

    Parameters
    ----------
    footprint : int
        Odd number of positions in the footprint (the step itself included).
    spacing : int
        Distance between neighbouring footprint positions (the thesis uses 3
        in the first block of a 1D-SAN and 5 in the others).
    relation_channels : int or None
        Channels of ``phi``/``psi`` (the relation ``delta``); default
        ``max(1, channels // 4)``.
    value_channels : int or None
        Channels of ``beta`` (and of ``gamma``'s output); default ``channels``.
    hidden_channels : int or None
        Width of ``gamma``'s hidden layer; default ``relation_channels``.
    relation_kernel_size : int
        Width of the ``phi``/``psi`` convolutions (1 = pointwise, as in Zhao).
    padding : str
        ``"zeros"``, ``"reflect"`` or ``"symmetric"``: how neighbours beyond the
        sequence ends are formed (see above).
    normalization : str
        ``"none"`` (the weights ``gamma(delta)`` are used as they are, as in the
        formula) or ``"softmax"`` (normalised over the footprint per channel,
        as in Zhao's released code).
    position_encoding : bool
        Add a learned vector per footprint position inside ``gamma``.
    pre_activation : bool
        Apply batch normalisation and ReLU to the input before the projections.
    kernel_initializer, kernel_regularizer
        Passed to every projection.
    **kwargs
        Standard layer arguments (``name``, ``dtype``, ...).
    """

    def __init__(
        self,
        footprint=5,
        spacing=1,
        relation_channels=None,
        value_channels=None,
        hidden_channels=None,
        relation_kernel_size=1,
        padding="zeros",
        normalization="none",
        position_encoding=True,
        pre_activation=True,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(footprint) < 1 or int(footprint) % 2 == 0:
            raise TfxaiError(f"footprint must be a positive odd number of positions, got {footprint}")
        if int(spacing) < 1:
            raise TfxaiError(f"spacing must be a positive number of time steps, got {spacing}")
        if padding not in PADDINGS:
            raise TfxaiError(f"unknown padding {padding!r}: choose one of {', '.join(PADDINGS)}")
        if normalization not in NORMALIZATIONS:
            raise TfxaiError(f"unknown normalization {normalization!r}: choose one of {', '.join(NORMALIZATIONS)}")
        self.footprint = int(footprint)
        self.spacing = int(spacing)
        self.relation_channels = relation_channels
        self.value_channels = value_channels
        self.hidden_channels = hidden_channels
        self.relation_kernel_size = int(relation_kernel_size)
        self.padding = padding
        self.normalization = normalization
        self.position_encoding = bool(position_encoding)
        self.pre_activation = bool(pre_activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    @property
    def offsets(self):
        """The footprint as time offsets ``(-m*s, ..., 0, ..., m*s)``."""
        half = self.footprint // 2
        return tuple((k - half) * self.spacing for k in range(self.footprint))

    @property
    def reach(self):
        """How far the footprint reaches on each side (``m * s`` time steps)."""
        return (self.footprint // 2) * self.spacing

    def build(self, input_shape):
        channels = int(input_shape[-1])
        length = input_shape[1]
        if self.padding != "zeros" and length is not None and int(length) <= self.reach:
            raise TfxaiError(
                f"{self.padding} padding needs sequences longer than the footprint's reach ({self.reach} steps), "
                f"got {length}: use padding='zeros' or a smaller footprint/spacing"
            )
        relation = int(self.relation_channels or max(1, channels // 4))
        value = int(self.value_channels or channels)
        hidden = int(self.hidden_channels or relation)
        common = {"kernel_initializer": self.kernel_initializer, "kernel_regularizer": self.kernel_regularizer}
        sequence_shape = tuple(input_shape)
        pair_shape = sequence_shape[:2] + (self.footprint,)
        # === Layers ===
        self.input_norm = keras.layers.BatchNormalization(name="input_norm") if self.pre_activation else None
        self.phi = keras.layers.Conv1D(relation, self.relation_kernel_size, padding="same", name="phi", **common)
        self.psi = keras.layers.Conv1D(relation, self.relation_kernel_size, padding="same", name="psi", **common)
        self.beta = keras.layers.Conv1D(value, 1, name="beta", **common)
        self.gamma_hidden = keras.layers.Dense(hidden, name="gamma_hidden", **common)
        self.gamma_output = keras.layers.Dense(value, name="gamma_output", **common)
        self.output_projection = keras.layers.Conv1D(channels, 1, use_bias=False, name="output_projection", **common)
        # === Build ===
        if self.input_norm is not None:
            self.input_norm.build(sequence_shape)
        self.phi.build(sequence_shape)
        self.psi.build(sequence_shape)
        self.beta.build(sequence_shape)
        self.gamma_hidden.build(pair_shape + (relation,))
        self.gamma_output.build(pair_shape + (hidden,))
        self.output_projection.build(sequence_shape[:2] + (value,))
        if self.position_encoding:
            self.position = self.add_weight(
                shape=(self.footprint, hidden), initializer="zeros", name="position", trainable=True
            )
        else:
            self.position = None
        super().build(input_shape)

    def neighbours(self, features):
        """Stack each step's footprint: ``(batch, T, D) -> (batch, T, footprint, D)``.

        Positions outside the sequence come from the padding chosen at construction.
        """
        padded, length = self._pad(features), ops.shape(features)[1]
        return ops.stack([self._shift(padded, offset, length) for offset in self.offsets], axis=2)

    def valid_neighbours(self, length):
        """``(T, footprint)`` booleans: which footprint positions lie inside a length-``T`` sequence."""
        steps = ops.expand_dims(ops.arange(length), 1) + ops.convert_to_tensor(self.offsets, dtype="int32")
        return ops.logical_and(steps >= 0, steps < length)

    def attention(self, inputs, training=None):
        """Return ``(alpha, values)``, both ``(batch, T, footprint, value_channels)``.

        ``alpha`` are the weights ``gamma(delta)`` (normalised when
        ``normalization="softmax"``), ``values`` the neighbours' ``beta``.
        """
        weights, padded_values = self._weights_and_values(_time_major(inputs), training)
        values = _shifted_stack(padded_values, self.footprint, self.spacing, ops.shape(inputs)[1])
        return _time_major(weights, footprint_axis=True), _time_major(values, footprint_axis=True)

    def call(self, inputs, training=None, return_attention=False):
        # Time-major inside: a shift along time is then a slice of whole rows (no copy), and the
        # gathers/scatters over the footprint are one op each (see _shifted_stack, _footprint_sum).
        weights, padded_values = self._weights_and_values(_time_major(inputs), training)
        aggregated = _footprint_sum(weights, padded_values, self.spacing)
        kernel = self.output_projection.kernel
        outputs = inputs + _time_major(_pointwise(aggregated, ops.cast(kernel[0], aggregated.dtype)))
        if return_attention:
            return outputs, _time_major(weights, footprint_axis=True)
        return outputs

    def _weights_and_values(self, inputs, training):
        """From time-major ``(T, batch, channels)`` inputs: ``gamma(delta)`` as ``(footprint, T, batch, value)``
        (normalised if asked) and the padded ``beta`` as ``(T + 2 reach, batch, value)``."""
        hidden = inputs
        if self.input_norm is not None:
            hidden = ops.relu(self.input_norm(hidden, training=training))
        length = ops.shape(inputs)[0]
        # gamma's first layer is affine: W1 (phi_i - psi_j) + b1 = (W1 phi_i + b1) - W1 psi_j, so it is
        # applied before the neighbours are gathered (zero-padded psi stays zero after W1).
        kernel = ops.cast(self.gamma_hidden.kernel, hidden.dtype)
        query = _pointwise(self._project(self.phi, hidden), kernel, self.gamma_hidden.bias)
        keys = self._pad(_pointwise(self._project(self.psi, hidden), kernel), axis=0)
        values = self._pad(self._project(self.beta, hidden), axis=0)
        relation = ops.expand_dims(query, 0) - _shifted_stack(keys, self.footprint, self.spacing, length)
        if self.position is not None:
            relation = relation + ops.cast(self.position, relation.dtype)[:, None, None, :]
        output = self.gamma_output
        weights = _pointwise(ops.relu(relation), ops.cast(output.kernel, relation.dtype), output.bias)
        if self.normalization == "softmax":
            if self.padding == "zeros":
                valid = ops.transpose(self.valid_neighbours(length))[:, :, None, None]
                weights = ops.where(valid, weights, ops.cast(-1e9, weights.dtype))
            weights = ops.softmax(weights, axis=0)
        return weights, values

    def _project(self, layer, hidden):
        """A ``Conv1D`` projection of time-major features (pointwise ones as one matrix product)."""
        if layer.kernel_size[0] == 1:
            return _pointwise(hidden, ops.cast(layer.kernel[0], hidden.dtype), layer.bias)
        return _time_major(layer(_time_major(hidden)))

    def _pad(self, features, axis=1):
        widths = [[0, 0], [0, 0], [0, 0]]
        widths[axis] = [self.reach, self.reach]
        if self.padding == "zeros":
            return ops.pad(features, widths)
        return ops.pad(features, widths, mode=self.padding)

    def _shift(self, padded, offset, length):
        start = self.reach + offset
        return padded[:, start : start + length]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_output_spec(self, inputs, training=None, return_attention=False):
        outputs = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if not return_attention:
            return outputs
        value = int(self.value_channels or inputs.shape[-1])
        weights = keras.KerasTensor(tuple(inputs.shape[:2]) + (self.footprint, value), dtype=self.compute_dtype)
        return outputs, weights

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "footprint": self.footprint,
                "spacing": self.spacing,
                "relation_channels": self.relation_channels,
                "value_channels": self.value_channels,
                "hidden_channels": self.hidden_channels,
                "relation_kernel_size": self.relation_kernel_size,
                "padding": self.padding,
                "normalization": self.normalization,
                "position_encoding": self.position_encoding,
                "pre_activation": self.pre_activation,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            }
        )
        return config


def _time_major(tensor, footprint_axis=False):
    """``(batch, T, D) <-> (T, batch, D)``; with ``footprint_axis``, ``(batch, T, footprint, D) <-> (footprint, T, batch, D)``."""
    return ops.transpose(tensor, (2, 1, 0, 3) if footprint_axis else (1, 0, 2))


def _pointwise(tensor, kernel, bias=None):
    """``tensor @ kernel (+ bias)`` over the last axis, as one matrix product over all leading positions."""
    shape = ops.shape(tensor)
    product = ops.matmul(ops.reshape(tensor, (-1, shape[-1])), kernel)
    if bias is not None:
        product = product + ops.cast(bias, product.dtype)
    return ops.reshape(product, tuple(shape[:-1]) + (kernel.shape[-1],))


def _scatter_shifted(stacked, spacing, padded_length):
    """Transpose of :func:`_shifted_stack`: add ``stacked[k, t]`` into row ``t + k * spacing`` (one segment sum)."""
    shape = tf.shape(stacked)
    rows = tf.reshape(tf.range(shape[1])[None, :] + spacing * tf.range(shape[0])[:, None], [-1])
    flat = tf.reshape(stacked, tf.concat([[-1], shape[2:]], 0))
    return tf.math.unsorted_segment_sum(flat, rows, padded_length)


def _shifted_stack(padded, footprint, spacing, length):
    """``(T + 2 reach, ...) -> (footprint, T, ...)`` with ``[k, t] = padded[t + k * spacing]``.

    Time-major rows make each shift a slice without a copy; the gradient is one
    segment sum (TensorFlow's own would pad and add one full copy per position).
    """

    @tf.custom_gradient
    def stack(padded):
        def grad(upstream):
            return _scatter_shifted(upstream, spacing, tf.shape(padded)[0])

        return tf.stack([padded[k * spacing : k * spacing + length] for k in range(footprint)]), grad

    return stack(padded)


def _footprint_sum(weights, padded, spacing):
    """``sum_k weights[k] * padded[k * spacing : k * spacing + T]`` for ``weights (footprint, T, ...)``.

    Forward: one product per footprint position on row slices (no stacked copy of the values).
    Backward: one product with the stacked values and one segment sum for the values' gradient.
    """
    footprint = int(weights.shape[0])

    @tf.custom_gradient
    def weighted_sum(weights, padded):
        length = tf.shape(weights)[1]
        terms = [w * padded[k * spacing : k * spacing + length] for k, w in enumerate(tf.unstack(weights, footprint))]

        def grad(upstream):
            values = tf.stack([padded[k * spacing : k * spacing + length] for k in range(footprint)])
            upstream = upstream[None]
            return upstream * values, _scatter_shifted(upstream * weights, spacing, tf.shape(padded)[0])

        return tf.add_n(terms), grad

    return weighted_sum(weights, padded)
