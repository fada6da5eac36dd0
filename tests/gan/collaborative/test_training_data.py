"""Collaborative-GAN training images are streamed: the batches, scores and weights equal those of the old float32 array."""

import os

import cv2
import numpy as np
import pytest

import tfxai  # noqa: F401  (before TensorFlow)
import tensorflow as tf

from tfxai.data import load_images, load_labelled_images, scan_image_folder
from tfxai.data.image_folder import ImageFiles
from tfxai.errors import TfxaiError
from tfxai.gan.collaborative.collapse import collapse_report
from tfxai.gan.collaborative.graph import KnowledgeTransferGraph
from tfxai.gan.collaborative.model import CollaborativeGAN
from tfxai.gan.collaborative.training import (CollabGANConfig, GanImages, collapse_sample, gan_dataset, load_gan_images, score_generators,
                                              train_graph)
from tfxai.testing import tiny_cnn
from tfxai.training.resume import epoch_shuffle, epoch_variable

SIZE = 8


@pytest.fixture
def folder(tmp_path):
    """Three classes of 5 odd-sized PNGs, some RGB, so resizing and grey conversion both happen."""
    rng = np.random.default_rng(2)
    for c, name in enumerate(["a", "b", "c"]):
        os.makedirs(tmp_path / "data" / name)
        for i in range(5):
            shape = (9 + i, 11 + c) + ((3,) if (i + c) % 2 else ())
            cv2.imwrite(str(tmp_path / "data" / name / f"{i}.png"), rng.integers(0, 256, shape, dtype=np.uint8))
    return str(tmp_path / "data")


def config(data, **options):
    options = {"image_size": SIZE, "channels": 1, "generators": 2, "latent_dim": 4, "filters": 4, "transfer_weight": 10.0,
               "epochs": 2, "batch_size": 4, "max_images": 10, "seed": 3, **options}
    return CollabGANConfig(data=data, out="unused", **options)


def old_images(cfg):
    """The training images as read before streaming: every image loaded, the max_images subset drawn, then float32 in [-1, 1]."""
    if cfg.data == "demo":
        images = load_labelled_images("demo", cfg.image_size, cfg.channels).images
    else:
        images = load_images(scan_image_folder(cfg.data).paths, (cfg.image_size, cfg.image_size), cfg.channels)
    if cfg.max_images and len(images) > cfg.max_images:
        images = images[np.random.default_rng(cfg.seed).permutation(len(images))[: cfg.max_images]]
    return images.astype(np.float32) / 127.5 - 1.0


def old_dataset(images, batch_size, seed):
    data = epoch_shuffle(tf.data.Dataset.from_tensor_slices(images), len(images), seed)
    return data.batch(batch_size, drop_remainder=True)


def batches(dataset, epoch):
    epoch_variable().assign(epoch)
    return [np.asarray(batch) for batch in dataset]


def test_a_folder_keeps_only_paths_and_reads_the_old_subset(folder):
    cfg = config(folder)
    images = load_gan_images(cfg)
    assert isinstance(images, GanImages) and isinstance(images.source, ImageFiles)  # no pixels kept
    reference = old_images(cfg)
    assert len(images) == 10 and images.shape == reference.shape == (10, SIZE, SIZE, 1)
    np.testing.assert_array_equal(np.asarray(images), reference)
    np.testing.assert_array_equal(images[[7, 2]], reference[[7, 2]])
    np.testing.assert_array_equal(images[3], reference[3])


@pytest.mark.parametrize("data, max_images", [("folder", 10), ("folder", 0), ("demo", 40)])
def test_streamed_batches_equal_the_in_memory_ones(folder, data, max_images):
    cfg = config(folder if data == "folder" else data, max_images=max_images)
    images, reference = load_gan_images(cfg), old_images(cfg)
    for epoch in (0, 1):  # a new order per epoch
        got, want = batches(gan_dataset(images, 4, cfg.seed), epoch), batches(old_dataset(reference, 4, cfg.seed), epoch)
        assert len(got) == len(want) == len(reference) // 4
        for x, x_ref in zip(got, want):
            assert x.dtype == np.float32 and x.min() >= -1 and x.max() <= 1
            np.testing.assert_array_equal(x, x_ref)


def test_training_on_the_stream_gives_the_weights_of_training_on_the_array(folder):
    cfg = config(folder)
    images = load_gan_images(cfg)
    streamed, _ = train_graph(cfg, KnowledgeTransferGraph(2), images)
    loaded, _ = train_graph(cfg, KnowledgeTransferGraph(2), old_images(cfg))
    for got, want in zip(streamed.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_scores_and_collapse_measure_read_only_their_sample_and_equal_the_old_ones():
    rng = np.random.default_rng(0)
    images = GanImages(rng.integers(0, 256, (300, SIZE, SIZE, 1), dtype=np.uint8))  # more than the 256 the collapse measure draws
    real = np.asarray(images)
    sample = collapse_sample(images, 256, seed=4)
    assert sample.shape == (256, SIZE, SIZE, 1)
    samples = rng.uniform(-1, 1, (2, 256, SIZE, SIZE, 1)).astype(np.float32)
    assert collapse_report(samples, sample, seed=4) == collapse_report(samples, real, seed=4)
    assert collapse_sample(GanImages(images.source[:100]), 256, seed=4).shape == (100, SIZE, SIZE, 1)
    model = CollaborativeGAN(2, None, 4, SIZE, 1, 4, total_steps=1)
    scorer = tiny_cnn((SIZE, SIZE, 1), classes=3, seed=0)
    assert score_generators(model, scorer, images, 20, seed=1, splits=2) == score_generators(model, scorer, real, 20, seed=1, splits=2)


def test_an_unreadable_file_is_a_one_line_error_before_training(folder):
    with open(os.path.join(folder, "b", "broken.png"), "wb") as file:
        file.write(b"not an image")
    with pytest.raises(TfxaiError, match=r"cannot decode image .*broken\.png") as error:
        load_gan_images(config(folder))
    assert "\n" not in str(error.value)


def test_fewer_images_than_a_batch_is_a_one_line_error(folder):
    with pytest.raises(TfxaiError, match="less than one batch of 4"):
        load_gan_images(config(folder, max_images=3))
