"""``train mixed`` on a class-folder tree streams: files + a float32 memmap give the in-memory batches bit for bit."""

import os

import cv2
import numpy as np
import pytest
import tensorflow as tf

import tfxai  # noqa: F401
from tfxai.data.float_images import LabelledImageFiles, load_labelled_data
from tfxai.synthesis import build_mixed_dataset, flip_and_crop, replacement_order
from tfxai.synthesis.generator import TargetOutputGenerator
from tfxai.training.resume import epoch_shuffle, epoch_variable

SETTINGS = {"optimizer": "sgd", "learning_rate": 0.05, "weight_decay": 5e-4, "steps": 5, "batch_size": 4}


@pytest.fixture
def folder(tmp_path):
    """3 classes x 6 PNGs: mostly 8x8 RGB, some grey and some 10x10 (resized and converted when read)."""
    rng = np.random.default_rng(0)
    for label, name in enumerate(["a", "b", "c"]):
        os.makedirs(tmp_path / "data" / name)
        for i in range(6):
            size = 10 if i == 5 else 8
            pixels = rng.integers(0, 256, (size, size) if i == 4 else (size, size, 3)).astype("uint8")
            cv2.imwrite(str(tmp_path / "data" / name / f"{i}.png"), pixels)
    return tmp_path / "data"


def _old_mixed(images, labels, teacher, fraction, seed):
    """The in-memory computation before streaming: one generate call on all chosen images, one mixed array."""
    classes = 3
    order = replacement_order(len(images), seed)
    others = (labels[order] + np.random.default_rng([seed, 1]).integers(1, classes, size=len(order))) % classes
    replaced = order[: int(round(fraction * len(images)))]
    design = np.zeros((len(replaced), classes), "float32")
    design[np.arange(len(replaced)), labels[replaced]] = 0.9
    design[np.arange(len(replaced)), others[: len(replaced)]] += 0.1
    result = TargetOutputGenerator(teacher, **SETTINGS).generate(images[replaced], design)
    mixed, soft = images.copy(), np.eye(classes, dtype="float32")[labels]
    mixed[replaced], soft[replaced] = result.images, result.outputs
    return mixed, soft, replaced, result


def _old_batches(images, labels, soft, generated, seed, batch_size=5):
    """``MixedDataset.as_dataset`` as it was: the whole set sliced into tf.data, flip_and_crop on originals."""
    data = epoch_shuffle(tf.data.Dataset.from_tensor_slices((images, labels.astype("int32"), soft, generated)), len(images), seed)
    epoch = epoch_variable()

    def prepare(position, sample):
        image, label, target, is_generated = sample
        key = tf.stack([tf.constant(seed, tf.int64) * 1_000_003 + epoch.read_value(), position])
        image = tf.cond(is_generated, lambda: image, lambda: flip_and_crop(image, 2, True, key))
        return image, (label, target)

    return list(data.enumerate().map(prepare).batch(batch_size).as_numpy_iterator())


def _assert_same_batches(new, old):
    assert len(new) == len(old)
    for (x, (y, q)), (old_x, (old_y, old_q)) in zip(new, old):
        np.testing.assert_array_equal(x, old_x)
        np.testing.assert_array_equal(y, old_y)
        np.testing.assert_array_equal(q, old_q)


def test_streamed_folder_gives_the_in_memory_batches_bit_for_bit(folder, tmp_path, tiny_cnn):
    tf.keras.utils.set_random_seed(1)
    teacher = tiny_cnn(size=8, channels=3)
    images, labels, names = load_labelled_data(str(folder), (8, 8), 3)
    files, file_labels, file_names = load_labelled_data(str(folder), (8, 8), 3, stream=True)
    assert isinstance(files, LabelledImageFiles) and file_names == names == ["a", "b", "c"]
    np.testing.assert_array_equal(file_labels, labels)
    np.testing.assert_array_equal(np.asarray(files), images)  # decoded as the in-memory reader does

    spill = tmp_path / "spill"
    spill.mkdir()
    mixed = build_mixed_dataset(files, file_labels, teacher, 0.5, seed=2, spill=str(spill), **SETTINGS)  # 9 = 4 + 4 + 1 rows
    old_images, old_soft, replaced, result = _old_mixed(images, labels, teacher, 0.5, 2)
    np.testing.assert_array_equal(mixed.replaced, replaced)
    np.testing.assert_array_equal(np.load(spill / "generated.npy"), result.images)  # exact float32 values on disk
    assert isinstance(mixed.generated_images, np.memmap)
    np.testing.assert_array_equal(mixed.soft_targets, old_soft)
    np.testing.assert_array_equal(mixed.kl, result.kl)
    np.testing.assert_array_equal(mixed.images, old_images)

    augment = lambda image, key: flip_and_crop(image, 2, True, key)  # noqa: E731
    new = list(mixed.as_dataset(5, augment, seed=7).as_numpy_iterator())
    _assert_same_batches(new, _old_batches(old_images, labels, old_soft, mixed.generated, 7))

    fewer = mixed.with_fraction(0.25)  # 4 generated images kept, the other 5 restored from their files
    kept = replaced[:4]
    restored_images, restored_soft = old_images.copy(), old_soft.copy()
    restored_images[replaced[4:]] = images[replaced[4:]]
    restored_soft[replaced[4:]] = np.eye(3, dtype="float32")[labels[replaced[4:]]]
    generated = np.zeros(len(images), bool)
    generated[kept] = True
    _assert_same_batches(list(fewer.as_dataset(5, augment, seed=7).as_numpy_iterator()),
                         _old_batches(restored_images, labels, restored_soft, generated, 7))


def test_train_mixed_on_a_folder_matches_the_same_images_in_an_npz_and_leaves_no_spill(folder, tmp_path, tiny_cnn):
    from tfxai.synthesis.training import TrainMixedConfig, run_train_mixed

    tf.keras.utils.set_random_seed(1)
    teacher = tiny_cnn(size=8, channels=3)
    teacher.save(tmp_path / "teacher.keras")
    images, labels, names = load_labelled_data(str(folder), (8, 8), 3)
    np.savez(tmp_path / "data.npz", x=images, y=labels, class_names=np.array(names))
    weights = []
    for data in (str(folder), str(tmp_path / "data.npz")):
        out = tmp_path / ("out_" + os.path.basename(data))
        config = TrainMixedConfig(data=data, teacher=str(tmp_path / "teacher.keras"), out=str(out), fraction=0.5, epochs=1,
                                  batch_size=4, generation_steps=3, validation_split=0.2, export=False, seed=3)
        result = run_train_mixed(config, verbose=0)
        assert result.metrics["train_images"] == 14 and result.metrics["generated_images"] == 7
        weights.append([np.asarray(w) for w in result.model.get_weights()])
    leftovers = [name for name in os.listdir(tmp_path) if ".generated-" in name]
    assert leftovers == []
    for streamed, in_memory in zip(*weights):
        np.testing.assert_array_equal(streamed, in_memory)


def test_an_unreadable_file_fails_before_training_in_one_line(folder):
    (folder / "b" / "2.png").write_bytes(b"not a png")
    with pytest.raises(tfxai.errors.TfxaiError, match="2.png") as error:
        load_labelled_data(str(folder), (8, 8), 3, stream=True)
    assert "\n" not in str(error.value)
