"""Translation grids and UMAP maps."""

import cv2
import numpy as np

from tfxai.gan.stargan import StarGANv2
from tfxai.gan.stargan.figures import translation_grid, umap_figure


def test_translation_grid_rows_are_inputs_and_columns_styles():
    model = StarGANv2(16, 2, style_dim=8, latent_dim=4, preset="tiny")
    images = np.random.default_rng(0).uniform(0, 255, (3, 16, 16, 3)).astype("float32")
    grid = translation_grid(model, images, 1, styles=4)
    assert grid.shape == (48, 80, 3) and grid.dtype == np.uint8
    np.testing.assert_array_equal(grid[16:32, :16], images[1].round().astype(np.uint8))  # first column: the input
    latent = np.random.default_rng(0).normal(size=(1, 4)).astype("float32")  # the grid's first sampled style
    expected = np.asarray(model.translate(images[2:3], [1], latents=latent))[0].round()
    np.testing.assert_allclose(grid[32:48, 16:32], expected, atol=1)


def test_umap_figure_embeds_every_domain_and_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    features = {"source": rng.normal(0, 1, (20, 6)), "target": rng.normal(5, 1, (20, 6))}
    labels = {"source": np.arange(20) % 10, "target": np.arange(20) % 10}
    embedding = umap_figure(str(tmp_path / "umap.png"), features, labels, "test")
    assert embedding.shape == (40, 2) and np.isfinite(embedding).all()
    # two well-separated domains stay apart in the map
    assert np.linalg.norm(embedding[:20].mean(0) - embedding[20:].mean(0)) > 2 * embedding[:20].std()
    assert cv2.imread(str(tmp_path / "umap.png")) is not None
