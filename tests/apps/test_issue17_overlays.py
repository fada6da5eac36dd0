"""Issue 17: a training run's attention/ overlays show each held-out image at its file's own resolution and aspect ratio."""

import os

import cv2
import numpy as np
from click.testing import CliRunner

from tfxai.apps.cli import main


def make_wide_folder(root, per_class=6):
    """Two classes (bright left or right half) of non-square images, each file a different size."""
    rng = np.random.default_rng(0)
    sizes = {}
    for index, name in enumerate(("left", "right")):
        os.makedirs(root / name)
        for i in range(per_class):
            height, width = 60 + i, 170 + 3 * i + index  # wider than tall (and than captions); the model takes 16x16
            image = rng.integers(0, 50, (height, width, 3), dtype=np.uint8)
            image[:, index * width // 2 : (index + 1) * width // 2] += 180
            cv2.imwrite(str(root / name / f"{name}{i}.png"), image)
            sizes[f"{name}{i}"] = (height, width)
    return sizes


def test_training_run_overlays_have_the_source_files_size(tmp_path):
    sizes = make_wide_folder(tmp_path / "data")
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "abn", "--data", str(tmp_path / "data"), "--out", str(out), "--preset", "small",
                                       "--image-size", "16", "--epochs", "1", "--batch-size", "6", "--no-cot",
                                       "--validation-split", "0.34", "--no-export", "--quiet"])
    assert result.exit_code == 0, result.output
    names = sorted(os.listdir(out / "attention" / "overlays"))
    assert len(names) == 4  # two held-out images per class
    for name in names:
        stem = os.path.splitext(name)[0].split("_", 1)[1]
        height, width = sizes[stem]
        written = cv2.imread(str(out / "attention" / "overlays" / name))
        assert written.shape[1] == width and written.shape[0] > height, (name, written.shape, (height, width))  # caption below
        source = cv2.imread(str(tmp_path / "data" / stem.rstrip("0123456789") / f"{stem}.png"))
        # the file itself shows through the blend (a squashed 16x16 copy resized back would be blurred)
        assert np.corrcoef(written[:height].ravel().astype(float), source.ravel().astype(float))[0, 1] > 0.5
