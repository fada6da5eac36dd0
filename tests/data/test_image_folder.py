import os

import cv2
import numpy as np
import pytest

from tfxai.data import image_dataset, load_demo, read_image, scan_image_folder
from tfxai.errors import TfxaiError


def test_scan_split_and_dataset(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(5):
            cv2.imwrite(str(tmp_path / name / f"{i}.png"), np.full((10, 12, 3), 40 * i, np.uint8))
    folder = scan_image_folder(tmp_path)
    assert folder.class_names == ["a", "b"] and len(folder.paths) == 10
    train, val = image_dataset(folder, 8, channels=3, batch_size=4, validation_split=0.2)
    train_n = sum(int(x.shape[0]) for x, _ in train)
    val_labels = np.concatenate([y.numpy() for _, y in val])
    assert train_n == 8 and sorted(val_labels.tolist()) == [0, 1]
    x, _ = next(iter(train))
    assert x.shape[1:] == (8, 8, 3) and x.dtype.name == "float32" and float(x.numpy().max()) <= 255


def test_read_image_channels_and_corruption(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 2] = 255  # red in BGRA
    cv2.imwrite(str(tmp_path / "x.png"), rgba)
    with pytest.raises(TfxaiError, match="RGBA"):
        read_image(str(tmp_path / "x.png"), channels=3)
    rgb = read_image(str(tmp_path / "x.png"), channels=3, convert=True)
    assert rgb.shape == (4, 4, 3) and rgb[0, 0, 0] == 255
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 broken")
    with pytest.raises(TfxaiError, match="cannot decode"):
        read_image(str(tmp_path / "bad.jpg"))
    with pytest.raises(TfxaiError, match="does not exist"):
        scan_image_folder(tmp_path / "nope")


def test_demo_data_is_real_and_balanced():
    (x_train, y_train), (x_test, y_test), names = load_demo()
    assert x_train.shape == (3000, 28, 28, 1) and x_test.shape == (600, 28, 28, 1)
    assert len(names) == 10 and set(np.unique(y_train)) == set(range(10))
    assert np.bincount(y_train).min() > 250 and x_train.std() > 50


def test_split_stratified_takes_the_same_share_of_every_class_and_is_reproducible():
    from tfxai.data import split_stratified

    labels = np.repeat([0, 1, 2], [10, 20, 5])
    validation = split_stratified(labels, 0.2, seed=3)
    assert validation.dtype == bool and validation.shape == labels.shape
    assert [int(validation[labels == c].sum()) for c in range(3)] == [2, 4, 1]
    np.testing.assert_array_equal(validation, split_stratified(labels, 0.2, seed=3))
    assert not np.array_equal(validation, split_stratified(labels, 0.2, seed=4))
    assert not split_stratified(labels, 0.0).any()


def test_every_app_reader_finds_and_decodes_tif_and_webp_files(tmp_path):
    import cv2

    from tfxai.data import list_images, read_image
    from tfxai.data.float_images import read_image_folder

    pixels = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    for name in ("a.tif", "b.webp", "c.png"):
        assert cv2.imwrite(str(tmp_path / name), pixels, [cv2.IMWRITE_WEBP_QUALITY, 101] if name.endswith("webp") else [])
    found = [os.path.basename(path) for path in list_images(tmp_path)]
    assert found == ["a.tif", "b.webp", "c.png"]
    for path in list_images(tmp_path):
        np.testing.assert_array_equal(read_image(path), pixels[..., ::-1])  # RGB order (OpenCV wrote BGR); lossless files
    images, names = read_image_folder(str(tmp_path))  # the generate / train mixed reader: the same files
    assert names == found and images.shape == (3, 8, 8, 3)
