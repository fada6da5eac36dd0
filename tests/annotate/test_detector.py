import numpy as np

from tfxai.annotate.boxes import iou
from tfxai.annotate.detector import CenterNetDetector, SavedModelDetector, centernet_targets, decode_centernet, export_detector
from tfxai.annotate.training import DetectorTrainingConfig, train_detector


def _scene(rng, size=96):
    frame = rng.integers(40, 90, (size, size, 3)).astype(np.uint8)
    w, h = rng.integers(14, 24, 2)
    x, y = rng.integers(0, size - w), rng.integers(0, size - h)
    frame[y : y + h, x : x + w] = (240, 60, 60)
    return frame, (float(x), float(y), float(w), float(h))


def test_decode_inverts_the_targets():
    boxes = [(10.0, 6.0, 20.0, 30.0), (40.0, 36.0, 12.0, 8.0)]
    target = centernet_targets(boxes, [0, 1], 2, 64)
    detections = decode_centernet(target[..., :-1], 64, threshold=0.99)
    assert sorted((d.class_id, d.box) for d in detections) == [(0, boxes[0]), (1, boxes[1])]


def test_detector_trains_on_a_tiny_set_and_finds_the_box(tmp_path):
    rng = np.random.default_rng(0)
    scenes = [_scene(rng) for _ in range(12)]
    config = DetectorTrainingConfig(input_size=64, width=8, region_size=64, samples=128, epochs=10, batch_size=16,
                                    learning_rate=5e-3)
    result = train_detector([f for f, _ in scenes], [[(b, 0)] for _, b in scenes], 1, config)
    assert result.history["loss"][-1] < 0.5 * result.history["loss"][0]
    detector = CenterNetDetector(result.model, threshold=0.2)
    found = []
    for _ in range(4):  # unseen scenes
        frame, box = _scene(rng, 64)
        detections = detector.detect(frame)
        found.append(max((iou(d.box, box) for d in detections), default=0.0))
    assert np.mean(found) > 0.5, found
    # the same detections through the documented SavedModel signature
    export_detector(result.model, str(tmp_path / "saved"))
    saved = SavedModelDetector(str(tmp_path / "saved"), threshold=0.2)
    a, b = detector.detect(frame), saved.detect(frame)
    assert len(a) == len(b) > 0
    np.testing.assert_allclose(a[0].box, b[0].box, atol=1.0)
