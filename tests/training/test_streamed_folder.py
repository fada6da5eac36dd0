"""Image folders are streamed into training: the batches equal those of the old in-memory array, bit for bit."""

import os

import cv2
import numpy as np
import pytest

import tfxai  # noqa: F401  (before TensorFlow)
import tensorflow as tf

from tfxai.data import image_dataset, load_images, load_labelled_images, scan_image_folder, split_stratified
from tfxai.data.image_folder import ImageFiles
from tfxai.training import make_dataset, split_run_data
from tfxai.training.resume import epoch_variable

SIZE = 12


@pytest.fixture
def folder(tmp_path):
    """Three classes of odd-sized PNGs, some grayscale and some RGBA, so resizing and channel conversion both happen."""
    rng = np.random.default_rng(3)
    root = tmp_path / "data"
    for c, name in enumerate(["a", "b", "c"]):
        os.makedirs(root / name)
        for i in range(7):
            shape = (17 + i, 14 + c) + {0: (), 1: (3,), 2: (4,)}[(i + c) % 3]
            cv2.imwrite(str(root / name / f"{i}.png"), rng.integers(0, 256, shape, dtype=np.uint8))
    return root


def batches(dataset, epoch):
    epoch_variable().assign(epoch)
    return [tuple(np.asarray(part) for part in batch) for batch in dataset]


def assert_same_batches(streamed, in_memory, epochs=(0, 1)):
    for epoch in epochs:
        got, want = batches(streamed, epoch), batches(in_memory, epoch)
        assert len(got) == len(want) > 0
        for (x, y), (x_ref, y_ref) in zip(got, want):
            assert x.dtype == x_ref.dtype == np.float32
            np.testing.assert_array_equal(x, x_ref)
            np.testing.assert_array_equal(y, y_ref)


@pytest.mark.parametrize("channels", [1, 3])
def test_streamed_batches_equal_the_in_memory_ones(folder, channels, caplog):
    caplog.set_level("INFO", logger="tfxai")
    data = load_labelled_images(str(folder), SIZE, channels)
    assert isinstance(data.images, ImageFiles)  # no pixels kept
    other = {1: "7 RGB images", 3: "7 grayscale images"}[channels]
    assert f"converted {other} and 7 RGBA images" in caplog.text  # the up-front check logs the same line as load_images
    train, held_out = split_run_data(data, 0.3, seed=4)
    paths = scan_image_folder(str(folder)).paths
    reference = load_images(paths, (SIZE, SIZE), channels)  # the old path: every image in one array
    rows = {os.path.relpath(p, folder).replace(os.sep, "/"): i for i, p in enumerate(paths)}
    train_ref, held_ref = (reference[[rows[s] for s in part.sources]] for part in (train, held_out))
    np.testing.assert_array_equal(np.asarray(train.images), train_ref)
    streamed = make_dataset(train.images, train.labels, 4, True, 5, True, 0.2)  # shuffle, flips, shifts and crops
    assert_same_batches(streamed, make_dataset(train_ref, train.labels, 4, True, 5, True, 0.2))
    assert_same_batches(make_dataset(held_out.images, held_out.labels, 4), make_dataset(held_ref, held_out.labels, 4), epochs=(0,))


def test_map_supervision_dict_streams_its_images(folder):
    data = load_labelled_images(str(folder), SIZE, 3)
    maps = np.random.default_rng(0).random((len(data.labels), SIZE, SIZE)).astype(np.float32)
    flags = (np.arange(len(data.labels)) % 2).astype(np.float32)
    streamed = make_dataset({"images": data.images, "attention_maps": maps, "has_attention_map": flags}, data.labels, 5, True, 1, True, 0.1)
    loaded = make_dataset({"images": np.asarray(data.images), "attention_maps": maps, "has_attention_map": flags}, data.labels, 5, True, 1, True, 0.1)
    for epoch in (0, 2):
        epoch_variable().assign(epoch)
        for (x, y), (x_ref, y_ref) in zip(streamed, loaded, strict=True):
            for key in x_ref:
                np.testing.assert_array_equal(x[key].numpy(), x_ref[key].numpy())
            np.testing.assert_array_equal(y.numpy(), y_ref.numpy())


def test_files_are_decoded_when_the_pipeline_reaches_them(folder):
    data = load_labelled_images(str(folder), SIZE, 3)
    dataset = make_dataset(data.images, data.labels, 64)
    first = data.images.paths[0]
    cv2.imwrite(first, np.full((20, 20, 3), 77, np.uint8))  # changed after the dataset was made
    images = next(iter(dataset))[0].numpy()
    assert np.all(images[0] == 77)  # an in-memory dataset would still hold the old pixels


def test_image_files_index_like_the_array(folder):
    data = load_labelled_images(str(folder), SIZE, 3)
    whole = np.asarray(data.images)
    assert data.images.shape == whole.shape and len(data.images) == len(whole)
    np.testing.assert_array_equal(data.images[4], whole[4])
    np.testing.assert_array_equal(np.asarray(data.images[2:9:3]), whole[2:9:3])
    mask = np.arange(len(whole)) % 3 == 1
    np.testing.assert_array_equal(data.images[mask].astype(np.float32), whole[mask].astype(np.float32))
    np.testing.assert_array_equal(np.asarray(data.subset([5, 1]).images), whole[[5, 1]])


def test_image_dataset_streams_the_same_batches(folder):
    folder_files = scan_image_folder(str(folder))
    train, val = image_dataset(folder_files, SIZE, 3, batch_size=4, validation_split=0.25, seed=2, augment=True)
    images = load_images(folder_files.paths, (SIZE, SIZE), 3)  # the previous implementation, in memory
    validation = split_stratified(folder_files.labels, 0.25, 2)

    def pipeline(mask, training):
        data = tf.data.Dataset.from_tensor_slices((images[mask], folder_files.labels[mask]))
        if training:
            data = data.shuffle(int(mask.sum()), seed=2, reshuffle_each_iteration=True)
        data = data.map(lambda x, y: (tf.cast(x, tf.float32), y))
        return data.batch(4)

    for streamed, in_memory in ((train, pipeline(~validation, True)), (val, pipeline(validation, False))):
        got = [(x.numpy(), y.numpy()) for x, y in streamed.map(lambda x, y: (x, y))]
        want = [(x.numpy(), y.numpy()) for x, y in in_memory]
        assert len(got) == len(want)
        for (x, y), (x_ref, y_ref) in zip(got, want):
            np.testing.assert_array_equal(y, y_ref)
            if streamed is val:
                np.testing.assert_array_equal(x, x_ref)


def test_a_file_deleted_mid_epoch_is_one_line_naming_it(folder, tmp_path):
    import keras

    from tfxai.errors import TfxaiError
    from tfxai.training.fit import fit

    data = load_labelled_images(str(folder), SIZE, 1)
    missing = data.images.paths[5]
    os.remove(missing)  # after the up-front check: only the stream meets it
    model = keras.Sequential([keras.Input((SIZE, SIZE, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(TfxaiError) as raised:
        fit(model, make_dataset(data.images, data.labels, 4), epochs=1, verbose=0, backup=str(tmp_path / "backup"))
    assert str(raised.value) == f"image {missing} does not exist: check the path"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__  # not TensorFlow's traceback
