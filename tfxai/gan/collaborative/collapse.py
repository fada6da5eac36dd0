"""Mode-collapse detection: how diverse each generator's images are, relative to real images.

The measure of one generator is the mean pairwise Euclidean distance between
its images divided by the mean pairwise distance between real images (both on
the same number of images, pixels in [-1, 1]): 1 when the generator's images
are as spread out as the data, 0 when it draws one image whatever z is. A
generator whose ratio is below :data:`COLLAPSE_THRESHOLD` is reported as
collapsed (the threshold is measured in docs/collaborative_gan.md).
"""

import numpy as np

from tfxai.errors import TfxaiError

__all__ = ["COLLAPSE_THRESHOLD", "collapse_report", "collapse_warning", "diversity_ratio", "mean_pairwise_distance"]

#: Diversity ratio below which a generator counts as collapsed. Measured on the demo data (docs/collaborative_gan.md):
#: real images against other real ones 0.9-1.1, garment-like generators (MAD-GAN, all-through at alpha 10) 0.47-0.87,
#: the collapsed all-through generators of the old default (alpha 1,000) 0.12-0.29, a constant image 0.
COLLAPSE_THRESHOLD = 0.35


def mean_pairwise_distance(images, max_images=256, seed=0):
    """Mean Euclidean distance between every pair of (at most ``max_images`` randomly chosen) images."""
    flat = np.asarray(images, np.float64).reshape(len(images), -1)
    if len(flat) < 2:
        raise TfxaiError(f"the pairwise distance needs at least 2 images, got {len(flat)}")
    if len(flat) > max_images:
        flat = flat[np.random.default_rng(seed).permutation(len(flat))[:max_images]]
    squared = np.sum(flat ** 2, axis=1)
    distances = np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2.0 * flat @ flat.T, 0.0))
    count = len(flat)
    return float(distances[np.triu_indices(count, k=1)].mean())


def diversity_ratio(generated, real, max_images=256, seed=0):
    """Mean pairwise distance of ``generated`` over that of ``real`` (same number of images of each)."""
    count = min(len(generated), len(real), max_images)
    reference = mean_pairwise_distance(real, count, seed)
    if reference <= 0:
        raise TfxaiError("the real images are all identical: the collapse measure needs varied real images")
    return mean_pairwise_distance(generated, count, seed) / reference


def collapse_report(samples, real, threshold=COLLAPSE_THRESHOLD, max_images=256, seed=0):
    """``{"diversity": [ratio per generator], "collapsed": [bool per generator], "collapse_threshold": threshold}``.

    ``samples`` is (k, count, H, W, C) (as :meth:`CollaborativeGAN.sample` returns), ``real`` (n, H, W, C).
    """
    ratios = [diversity_ratio(images, real, max_images, seed) for images in samples]
    return {"diversity": ratios, "collapsed": [ratio < threshold for ratio in ratios], "collapse_threshold": float(threshold)}


def collapse_warning(report):
    """One line naming the collapsed generators of a :func:`collapse_report`, or ``None`` if none collapsed."""
    collapsed = [f"G{i + 1} ({ratio:.2f})" for i, (ratio, bad) in enumerate(zip(report["diversity"], report["collapsed"])) if bad]
    if not collapsed:
        return None
    return (f"warning: mode collapse: {', '.join(collapsed)} below {report['collapse_threshold']:.2f} of the real images' "
            "diversity; lower --transfer-weight, train longer or try --graph mad-gan")
