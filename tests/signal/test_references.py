"""Signal evaluation and attention views against references recomputed another way."""

import numpy as np

from tfxai.signal import SAN1D, CNN1D, Recordings, recording_attention
from tfxai.signal.training import evaluate_recordings
from tfxai.signal.windows import classify_recording, sliding_windows, window_starts


def _recordings(seed=0):
    rng = np.random.default_rng(seed)
    signals = [rng.normal(size=(int(n), 2)).astype("float32") for n in rng.integers(20, 45, size=9)]
    return Recordings(signals, np.array([0, 1, 2, 0, 1, 2, 0, 1, 2]), ["a", "b", "c"], [f"r{i}" for i in range(9)])


def test_evaluation_equals_per_recording_votes_and_the_confusion_is_true_by_predicted():
    model = CNN1D(3, 16, 2, filters=4)
    recordings = _recordings()
    evaluation = evaluate_recordings(model, recordings, window=16, step=5)
    votes = [classify_recording(model, s, window=16, step=5) for s in recordings.signals]
    predicted = np.array([v.label for v in votes])
    np.testing.assert_array_equal(evaluation["predicted"], predicted)
    np.testing.assert_allclose(evaluation["totals"], [v.totals for v in votes], rtol=1e-5)
    # The vote is the argmax of the summed window outputs.
    for vote_, signal in zip(votes, recordings.signals):
        outputs = np.asarray(model.predict(sliding_windows(signal, 16, 5), verbose=0))
        np.testing.assert_allclose(vote_.totals, outputs.sum(axis=0), rtol=1e-5)
    labels = recordings.labels
    assert evaluation["recording_accuracy"] == np.mean(predicted == labels)
    hits = sum(int((v.window_outputs.argmax(1) == y).sum()) for v, y in zip(votes, labels))
    assert evaluation["window_accuracy"] == hits / sum(len(v.window_outputs) for v in votes)
    expected = np.zeros((3, 3), int)
    for true, guess in zip(labels, predicted):
        expected[true, guess] += 1  # rows: true class, columns: predicted class
    np.testing.assert_array_equal(evaluation["confusion"], expected)


def test_recording_attention_row_is_the_mean_of_the_windows_covering_it():
    model = SAN1D(num_classes=2, window_length=16, channels=2, filters=4, padding="reflect")
    recording = np.random.default_rng(2).normal(size=(45, 2)).astype("float32")
    trace = recording_attention(model, recording, window=16, step=7, block=0)
    windows = sliding_windows(recording, 16, 7)
    maps = np.asarray(model.call_with_attention(windows)["attention"][:, 0])  # (windows, 16, footprint)
    starts = window_starts(len(recording), 16, 7)
    for t in range(len(recording)):
        covering = [maps[w, t - s] for w, s in enumerate(starts) if s <= t < s + 16]
        if covering:
            np.testing.assert_allclose(trace.weights[t], np.mean(covering, axis=0), rtol=1e-5, atol=1e-7)
        else:
            assert np.isnan(trace.weights[t]).all()
    assert np.isnan(trace.weights[-1]).all()  # 45 samples, windows end at 44: the last sample is uncovered
    assert (np.array([sum(s <= t < s + 16 for s in starts) for t in range(45)]) >= 2).any()  # overlaps occur
