"""StarGAN v2's domains are streamed from their folders: only paths are kept, and the batches equal the loaded arrays' ones."""

import os

import cv2
import numpy as np
import pytest

import tfxai  # noqa: F401  (before TensorFlow)
import tensorflow as tf

from tfxai.data import load_images
from tfxai.data.image_folder import ImageFiles
from tfxai.errors import TfxaiError
from tfxai.gan.stargan.data import Domain, load_domain, scan_domain, two_domain_dataset

SIZE = 8


@pytest.fixture
def domains(tmp_path):
    """A labelled source (3 classes, 12 odd-sized PNGs, some grey, some RGBA) and an unlabelled target (10 PNGs)."""
    rng = np.random.default_rng(5)
    for c, name in enumerate(["a", "b", "c"]):
        os.makedirs(tmp_path / "source" / name)
        for i in range(4):
            shape = (11 + i, 9 + c) + {0: (), 1: (3,), 2: (4,)}[(i + c) % 3]
            cv2.imwrite(str(tmp_path / "source" / name / f"{i}.png"), rng.integers(0, 256, shape, dtype=np.uint8))
    os.makedirs(tmp_path / "target")
    for i in range(10):
        cv2.imwrite(str(tmp_path / "target" / f"{i}.png"), rng.integers(0, 256, (10, 13 + i % 2, 3), dtype=np.uint8))
    return tmp_path / "source", tmp_path / "target"


def loaded(path, require_labels=False):
    """The domain as read before streaming: every image in one uint8 array (load_images)."""
    paths, labels, class_names = scan_domain(path, require_labels)
    return Domain(load_images(paths, (SIZE, SIZE), 3, convert=True), labels, class_names)


def first_batches(dataset, count=6):
    return [{key: np.asarray(value) for key, value in batch.items()} for batch in dataset.take(count)]


def test_a_folder_domain_keeps_only_paths_and_reads_the_loaded_pixels(domains):
    source = load_domain(domains[0], SIZE, require_labels=True)
    reference = loaded(domains[0], require_labels=True)
    assert isinstance(source.images, ImageFiles)  # no pixels kept
    assert source.class_names == ["a", "b", "c"] and len(source.images) == 12
    np.testing.assert_array_equal(source.labels, reference.labels)
    np.testing.assert_array_equal(np.asarray(source.images), reference.images)
    np.testing.assert_array_equal(source.images[5], reference.images[5])
    np.testing.assert_array_equal(np.asarray(source.images[:6], np.float32), reference.images[:6].astype(np.float32))  # the grids' read


@pytest.mark.parametrize("batch_size, seed", [(4, 0), (6, 7)])
def test_streamed_batches_equal_the_in_memory_ones(domains, batch_size, seed):
    source, target = load_domain(domains[0], SIZE, require_labels=True), load_domain(domains[1], SIZE)
    streamed = first_batches(two_domain_dataset(source, target, batch_size, seed), 8)  # 8 batches: past one pass of each domain
    in_memory = first_batches(two_domain_dataset(loaded(domains[0], True), loaded(domains[1]), batch_size, seed), 8)
    assert len(streamed) == len(in_memory) == 8
    for got, want in zip(streamed, in_memory):
        assert got.keys() == want.keys()
        assert got["images"].shape == (batch_size, SIZE, SIZE, 3) and got["images"].dtype == np.float32
        for key in want:
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_an_unreadable_file_is_a_one_line_error_before_training(domains):
    (domains[1] / "broken.png").write_bytes(b"not an image")
    with pytest.raises(TfxaiError, match=r"cannot decode image .*broken\.png") as error:
        load_domain(domains[1], SIZE)
    assert "\n" not in str(error.value)


def test_grey_and_rgba_files_are_converted_and_said_once(domains, caplog):
    caplog.set_level("INFO", logger="tfxai")
    load_domain(domains[0], SIZE)
    assert [r.getMessage() for r in caplog.records] == ["converted 4 grayscale images and 4 RGBA images to the model's 3 channels (RGB)"]


def test_in_memory_domains_are_still_accepted():
    rng = np.random.default_rng(0)
    source = Domain(rng.integers(0, 256, (6, SIZE, SIZE, 3), dtype=np.uint8), np.arange(6, dtype=np.int32) % 2, ["x", "y"])
    target = Domain(rng.integers(0, 256, (6, SIZE, SIZE, 3), dtype=np.uint8), np.full(6, -1, np.int32))
    batch = next(iter(two_domain_dataset(source, target, 4, 0)))
    images = np.asarray(batch["images"])
    assert images.shape == (4, SIZE, SIZE, 3)
    assert all(any(np.array_equal(image, own) for own in source.images.astype(np.float32)) for image in images[:2])
    assert all(any(np.array_equal(image, own) for own in target.images.astype(np.float32)) for image in images[2:])
    assert tf.reduce_all(batch["labels"][2:] == -1)
