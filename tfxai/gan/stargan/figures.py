"""Figures of style transfer: translation grids and UMAP maps of a classifier's features."""

import numpy as np

from tfxai.io import atomic_path, write_image

__all__ = ["translation_grid", "umap_figure", "write_translation_grid"]


def translation_grid(model, images, domain, styles=5, seed=0):
    """Rows: input images; columns: the input, then ``styles`` sampled styles of ``domain`` (uint8 RGB)."""
    rng = np.random.default_rng(seed)
    images = np.asarray(images, np.float32)
    latents = rng.normal(size=(styles, model.latent_dim)).astype("float32")
    columns = [images]
    for latent in latents:
        columns.append(np.asarray(model.translate(images, np.full(len(images), domain, np.int32),
                                                  latents=np.repeat(latent[None], len(images), 0))))
    rows = [np.concatenate([column[i] for column in columns], axis=1) for i in range(len(images))]
    return np.concatenate(rows, axis=0).round().astype(np.uint8)


def write_translation_grid(path, model, images, domain, styles=5, seed=0):
    """Write :func:`translation_grid` as an image file (atomically)."""
    grid = translation_grid(model, images, domain, styles, seed)
    write_image(path, grid[..., ::-1].copy())


def umap_figure(path, features, labels, title="", seed=0):
    """A UMAP map of features of several domains, coloured by class, one marker per domain.

    ``features`` and ``labels`` are dicts domain name -> (N, D) array / (N,) classes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import umap

    names = list(features)
    stacked = np.concatenate([np.asarray(features[name]).reshape(len(features[name]), -1) for name in names])
    embedding = umap.UMAP(random_state=seed).fit_transform(stacked)
    figure, axes = plt.subplots(figsize=(6, 6))
    start = 0
    for name, marker in zip(names, "o^sPD*"):
        count = len(features[name])
        points = embedding[start:start + count]
        axes.scatter(points[:, 0], points[:, 1], c=labels[name], cmap="tab10", vmin=0, vmax=9, marker=marker, s=14,
                     label=name, edgecolors="none", alpha=0.8)
        start += count
    axes.legend()
    axes.set_title(title)
    axes.set_xticks([])
    axes.set_yticks([])
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return embedding
