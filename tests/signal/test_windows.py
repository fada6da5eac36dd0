"""Sliding windows and voting: window contents, vote = argmax of summed outputs, short recordings."""

import numpy as np
import pytest

from tfxai.errors import TfxaiError
from tfxai.signal import CNN1D, WindowPreprocessor, classify_recording, classify_recordings, make_windows, sliding_windows, vote


def test_sliding_windows_cut_the_recording_at_every_step():
    recording = np.arange(50 * 2, dtype="float32").reshape(50, 2)
    windows = sliding_windows(recording, window=16, step=10)
    assert windows.shape == (4, 16, 2)  # starts 0, 10, 20, 30 (40 + 16 > 50)
    for k, start in enumerate((0, 10, 20, 30)):
        np.testing.assert_array_equal(windows[k], recording[start : start + 16])


def test_recording_shorter_than_the_window_is_an_error():
    with pytest.raises(TfxaiError, match="fewer than the 16-sample window"):
        sliding_windows(np.zeros((15, 3)), window=16, step=4)


def test_make_windows_keeps_labels_and_recording_index():
    recordings = [np.zeros((20, 1)), np.ones((26, 1))]
    windows, labels, index = make_windows(recordings, [3, 5], window=16, step=5)
    assert windows.shape == (1 + 3, 16, 1)
    np.testing.assert_array_equal(labels, [3, 5, 5, 5])
    np.testing.assert_array_equal(index, [0, 1, 1, 1])
    assert windows[index == 1].min() == 1.0


def test_vote_answers_the_class_with_the_largest_total():
    outputs = np.array([[0.5, 0.25, 0.25], [0.0, 0.5, 0.5], [0.0, 0.5, 0.5], [0.5, 0.25, 0.25]])
    label, totals = vote(outputs)
    np.testing.assert_allclose(totals, [1.0, 1.5, 1.5])
    assert label == 1  # ties go to the first class, like argmax
    assert vote(outputs[[0, 3]])[0] == 0


def test_classify_recording_equals_argmax_of_summed_window_outputs():
    rng = np.random.default_rng(0)
    recording = rng.normal(size=(95, 3)).astype("float32")
    model = CNN1D(num_classes=4, window_length=9, channels=3, filters=4, kernel_size=3)
    preprocessor = WindowPreprocessor(fourier=True).adapt(sliding_windows(recording, 16, 4))
    result = classify_recording(model, recording, window=16, step=7, preprocessor=preprocessor)
    # reference: every window on its own, in a plain loop
    totals = np.zeros(4)
    for start in range(0, 95 - 16 + 1, 7):
        window = recording[None, start : start + 16]
        totals += np.asarray(model(preprocessor(window), training=False))[0]
    assert result.window_outputs.shape == (12, 4)
    np.testing.assert_allclose(result.totals, totals, rtol=1e-5)
    assert result.label == int(np.argmax(totals))
    many = classify_recordings(model, [recording, recording[:40]], 16, 7, preprocessor)
    assert many[0].label == result.label and len(many[1].window_outputs) == 4
