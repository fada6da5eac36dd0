"""GAIN_ext's pixel-level masks: matched by name, checked once up front, streamed in tf.data with the batches of the in-memory array."""

import tfxai  # noqa: F401  (before tensorflow)

import os

import cv2
import numpy as np
import pytest

from tfxai.attention import load_mask_folder
from tfxai.attention.gain_training import MaskFiles, mask_files, mask_inputs
from tfxai.data import load_labelled_images
from tfxai.errors import TfxaiError
from tfxai.training import make_dataset, split_run_data

SIZE = 16


def mask_folder(root, per_class=6, seed=0):
    """Two classes of noise images; masks of other sizes, gray or colour, PNG or JPEG, for some images only."""
    rng = np.random.default_rng(seed)
    for name in ("a", "b"):
        os.makedirs(root / "data" / name)
        os.makedirs(root / "masks" / name)
        for i in range(per_class):
            cv2.imwrite(str(root / "data" / name / f"{i}.png"), rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))
            side = int(rng.integers(9, 40))  # smaller and larger than SIZE: INTER_AREA both ways
            if i % 3 == 0:
                continue  # no mask
            if i % 3 == 1:
                cv2.imwrite(str(root / "masks" / name / f"{i}.png"), rng.integers(0, 256, (side, side), dtype=np.uint8))
            else:  # colour, another extension
                cv2.imwrite(str(root / "masks" / name / f"{i}.bmp"), rng.integers(0, 256, (side, side + 3, 3), dtype=np.uint8))
    return root / "data", root / "masks"


def reference_maps(masks, sources, size):
    """The masks read straight with OpenCV (BGR -> gray, INTER_AREA, / 255), zeros and 0 where an image has none."""
    maps, has = np.zeros((len(sources), size, size), np.float32), np.zeros(len(sources), np.float32)
    for i, source in enumerate(sources):
        stem = os.path.join(os.fspath(masks), os.path.splitext(source)[0])
        found = [stem + ext for ext in (".png", ".bmp") if os.path.exists(stem + ext)]
        if found:
            pixels = cv2.imread(found[0], cv2.IMREAD_UNCHANGED)
            gray = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
            maps[i] = cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
            has[i] = 1.0
    return maps, has


class StreamOnly(MaskFiles):
    """Mask files that refuse to be read whole: the pipeline must decode them one by one."""

    def __array__(self, dtype=None, copy=None):
        raise AssertionError("make_dataset read every mask into one array instead of streaming them")


@pytest.fixture
def folder(tmp_path):
    data, masks = mask_folder(tmp_path)
    return data, masks, load_labelled_images(str(data), SIZE, 3)


def test_mask_files_keep_paths_and_read_as_the_reference(folder):
    _, masks, data = folder
    maps, has = mask_files(masks, data.sources, (SIZE, SIZE))
    expected, expected_has = reference_maps(masks, data.sources, SIZE)
    assert isinstance(maps, MaskFiles) and maps.shape == (12, SIZE, SIZE)
    assert [bool(path) for path in maps.paths] == expected_has.astype(bool).tolist() and expected_has.sum() == 8
    np.testing.assert_array_equal(has, expected_has)
    np.testing.assert_array_equal(np.asarray(maps), expected)
    np.testing.assert_array_equal(maps[4], expected[4])
    np.testing.assert_array_equal(np.asarray(maps[[5, 1]]), expected[[5, 1]])
    legacy_maps, legacy_has = load_mask_folder(masks, data.sources, (SIZE, SIZE))  # the in-memory API stays
    assert isinstance(legacy_maps, np.ndarray) and legacy_maps.dtype == np.float32
    np.testing.assert_array_equal(legacy_maps, expected)
    np.testing.assert_array_equal(legacy_has, expected_has)


@pytest.mark.parametrize("augment, shift_crop", [(False, 0.0), (True, 0.2)])
def test_streamed_training_batches_equal_those_of_the_in_memory_masks(folder, augment, shift_crop):
    _, masks, data = folder
    train, _ = split_run_data(data, 0.25, 3)
    streamed = mask_inputs(train, data.sources, mask_files(masks, data.sources, (SIZE, SIZE)))
    assert isinstance(streamed["attention_maps"], MaskFiles)
    streamed["attention_maps"] = StreamOnly(streamed["attention_maps"].paths, streamed["attention_maps"].size)
    expected, expected_has = reference_maps(masks, data.sources, SIZE)
    rows = [data.sources.index(source) for source in train.sources]
    in_memory = {"images": np.asarray(train.images), "attention_maps": expected[rows], "has_attention_map": expected_has[rows]}
    batches = [make_dataset(inputs, train.labels, 3, True, 7, augment, shift_crop) for inputs in (streamed, in_memory)]
    count = 0
    for (got, got_labels), (want, want_labels) in zip(*batches, strict=True):
        np.testing.assert_array_equal(got_labels.numpy(), want_labels.numpy())
        for key in ("images", "attention_maps", "has_attention_map"):
            assert got[key].dtype == want[key].dtype
            np.testing.assert_array_equal(got[key].numpy(), want[key].numpy(), err_msg=key)
        count += 1
    assert count == 3 and expected_has[rows].any() and not expected_has[rows].all()


def test_an_unreadable_mask_is_named_before_training(folder):
    _, masks, data = folder
    (masks / "b" / "4.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(TfxaiError, match=r"cannot decode .*b.4\.png") as raised:
        mask_files(masks, data.sources, (SIZE, SIZE))
    assert "\n" not in str(raised.value)


def test_masks_that_match_no_image_are_refused(folder):
    _, masks, data = folder
    os.rename(masks / "a", masks / "c")
    os.rename(masks / "b", masks / "d")
    with pytest.raises(TfxaiError, match="none of the 8 mask files"):
        mask_files(masks, data.sources, (SIZE, SIZE))
