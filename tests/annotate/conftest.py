"""A tiny synthetic video for the annotation tests: a bright square moving right over a textured floor."""

import cv2
import numpy as np
import pytest


def blob_frame(x, y, size=(96, 128), side=16):
    height, width = size
    frame = np.full((height, width, 3), 60, np.uint8)
    frame[::8, :, :] = 90  # static texture (no change between frames)
    frame[y : y + side, x : x + side] = (230, 200, 40)
    return frame


@pytest.fixture
def make_frame():
    """``make_frame(x, y)``: a 128x96 RGB frame with the 16 px square at (x, y)."""
    return blob_frame


@pytest.fixture
def moving_video(tmp_path):
    """(path, boxes): 20 frames 128x96 (lossless FFV1 .avi), a 16 px square moving 2 px right per frame."""
    path = str(tmp_path / "moving.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"FFV1"), 10, (128, 96))
    assert writer.isOpened()
    boxes = []
    for t in range(20):
        x, y = 20 + 2 * t, 40
        writer.write(cv2.cvtColor(blob_frame(x, y), cv2.COLOR_RGB2BGR))
        boxes.append((x, y, 16, 16))
    writer.release()
    return path, boxes
