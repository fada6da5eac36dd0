"""Inception Score and Fréchet Inception Distance of generated images.

IS (Salimans et al. 2016) is ``exp(E_x KL(p(y|x) || p(y)))`` over a
classifier's predictions; FID (Heusel et al. 2017) is the Fréchet distance
between Gaussians fitted to features of real and generated images. Both are
computed with InceptionV3 (ImageNet weights, as in the papers) when its
weights can be loaded, or with any Keras classifier / feature model the user
gives -- e.g. one trained on the same data for offline use. Scores of
different networks are not comparable with each other or with published
numbers: every report names the network.
"""

import numpy as np

from tfxai.errors import TfxaiError

__all__ = [
    "frechet_distance",
    "gaussian_frechet_distance",
    "feature_statistics",
    "inception_score",
    "inception_score_from_probabilities",
    "inception_v3",
    "penultimate_features",
]


# === Pure functions of predictions and features ===


def inception_score_from_probabilities(probabilities, splits=1):
    """``(mean, std)`` of ``exp(mean_x KL(p(y|x) || p(y)))`` over ``splits`` equal parts of the rows."""
    p = np.asarray(probabilities, np.float64)
    if p.ndim != 2 or len(p) < splits:
        raise TfxaiError(f"inception score needs (images, classes) probabilities with at least {splits} rows, got shape {p.shape}")
    scores = []
    for part in np.array_split(p, int(splits)):
        marginal = part.mean(axis=0, keepdims=True)
        kl = np.sum(part * (np.log(part + 1e-12) - np.log(marginal + 1e-12)), axis=1)
        scores.append(float(np.exp(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


def feature_statistics(features):
    """Mean (D,) and covariance (D, D) of feature rows (float64)."""
    f = np.asarray(features, np.float64).reshape(len(features), -1)
    if len(f) < 2:
        raise TfxaiError(f"FID needs at least 2 images per set to estimate a covariance, got {len(f)}")
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def _psd_sqrt(matrix):
    """Square root of a symmetric positive semi-definite matrix through its eigen-decomposition (symmetrised first)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def gaussian_frechet_distance(mean1, cov1, mean2, cov2):
    """``|m1 - m2|^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2))`` between two Gaussians.

    ``Tr (C1 C2)^(1/2)`` is computed as ``Tr (C1^(1/2) C2 C1^(1/2))^(1/2)``: a
    symmetric PSD matrix, so its square root comes from ``eigh`` with no
    imaginary parts and no failure on singular covariances.
    """
    mean1, mean2 = np.asarray(mean1, np.float64), np.asarray(mean2, np.float64)
    cov1, cov2 = np.atleast_2d(cov1).astype(np.float64), np.atleast_2d(cov2).astype(np.float64)
    root1 = _psd_sqrt(cov1)
    middle = root1 @ cov2 @ root1
    values = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    trace_root = np.sum(np.sqrt(np.clip(values, 0.0, None)))
    distance = np.sum((mean1 - mean2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_root
    return float(max(distance, 0.0))


# === With a network ===


def inception_v3(weights="imagenet"):
    """InceptionV3 classifier (299 px, ImageNet weights or a local weights file), or a one-line error if unavailable."""
    import keras

    try:
        return keras.applications.InceptionV3(weights=weights)
    except Exception as error:  # no network / bad file: say what to do instead
        raise TfxaiError(
            f"InceptionV3 weights {weights!r} could not be loaded ({type(error).__name__}): connect to the network once, "
            "give a local weights file, or pass a classifier of your own (scores then not comparable with papers)"
        ) from None


def penultimate_features(classifier):
    """A feature model of ``classifier``: its input to the features its classification head reads.

    The input of the last ``Dense`` layer (after skipping a separate
    ``Softmax``/``Activation`` at the end), e.g. the pooled features of a
    ``keras.applications`` model or of a Sequential model ending in
    ``Dense`` + ``Softmax``; a model without a final ``Dense`` (a class
    convolution and pooling, like mini-Xception) gives the output of the layer
    before its squash.
    """
    import keras

    layers = list(classifier.layers)
    if len(layers) < 2:
        raise TfxaiError("the classifier has fewer than 2 layers: pass a feature model for FID instead")
    index = len(layers) - 1
    while index > 0 and isinstance(layers[index], (keras.layers.Softmax, keras.layers.Activation)):
        index -= 1
    if isinstance(layers[index], keras.layers.Dense):
        return keras.Model(classifier.inputs, layers[index].input)
    if index == len(layers) - 1:
        index -= 1  # a last layer that is neither a squash nor a Dense: the layer before it
    return keras.Model(classifier.inputs, layers[index].output)


def _resized(images, model, batch_size):
    """Predictions of ``model`` on ``images`` resized (and grey expanded to RGB) to the model's input."""
    import tensorflow as tf

    shape = model.input_shape[1:]
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise TfxaiError(f"images must be (count, height, width, channels), got shape {images.shape}")
    out = []
    for start in range(0, len(images), batch_size):
        batch = tf.convert_to_tensor(images[start:start + batch_size])
        if shape[0] and tuple(batch.shape[1:3]) != tuple(shape[:2]):
            batch = tf.image.resize(batch, shape[:2])
        if shape[-1] == 3 and batch.shape[-1] == 1:
            batch = tf.repeat(batch, 3, axis=-1)
        elif shape[-1] == 1 and batch.shape[-1] == 3:
            batch = tf.image.rgb_to_grayscale(batch)  # e.g. a Keras-2 grayscale classifier scoring RGB images
        out.append(np.asarray(model(batch, training=False)))
    return np.concatenate(out)


def inception_score(images, classifier=None, splits=1, batch_size=64):
    """``(mean, std)`` Inception Score of ``images`` under ``classifier`` (default InceptionV3, ImageNet).

    ``images`` are in the range the classifier expects (InceptionV3: [-1, 1]);
    the classifier must output probabilities (rows summing to 1).
    """
    classifier = inception_v3() if classifier is None else classifier
    probabilities = _resized(images, classifier, batch_size)
    if not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3):
        raise TfxaiError("the classifier's outputs are not probabilities (rows do not sum to 1): end it with a softmax")
    return inception_score_from_probabilities(probabilities, splits)


def frechet_distance(real, fake, feature_model=None, batch_size=64):
    """FID between ``real`` and ``fake`` images under ``feature_model`` (default InceptionV3's pooled features)."""
    if feature_model is None:
        feature_model = penultimate_features(inception_v3())
    statistics = [feature_statistics(_resized(images, feature_model, batch_size)) for images in (real, fake)]
    return gaussian_frechet_distance(*statistics[0], *statistics[1])
