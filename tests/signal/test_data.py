"""Loading recordings (CSV/NPY folders, NPZ) and splitting them by recording without leakage."""

import numpy as np
import pytest

from tfxai.errors import TfxaiError
from tfxai.signal import load_recordings, make_windows, split_by_recording


def test_folder_of_csv_and_npy_recordings(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "fist").mkdir()
    (tmp_path / "open").mkdir()
    np.save(tmp_path / "fist" / "a.npy", rng.normal(size=(30, 3)))
    with open(tmp_path / "fist" / "b.csv", "w") as handle:
        handle.write("ch0,ch1,ch2\n" + "\n".join("1,2,3" for _ in range(25)) + "\n")
    np.savetxt(tmp_path / "open" / "c.csv", rng.normal(size=(40, 3)), delimiter=",")
    (tmp_path / "open" / "notes.txt").write_text("ignored")
    recordings = load_recordings(str(tmp_path))
    assert recordings.class_names == ["fist", "open"]
    assert recordings.names == ["fist/a.npy", "fist/b.csv", "open/c.csv"]
    np.testing.assert_array_equal(recordings.labels, [0, 0, 1])
    np.testing.assert_array_equal(recordings.lengths, [30, 25, 40])
    np.testing.assert_array_equal(recordings.signals[1][0], [1, 2, 3])
    assert recordings.channels == 3


def test_npz_equal_length_and_concatenated(tmp_path):
    x = np.random.default_rng(0).normal(size=(4, 20, 2))
    np.savez(tmp_path / "equal.npz", X=x, y=np.array([1, 7, 1, 7]))
    equal = load_recordings(str(tmp_path / "equal.npz"))
    assert equal.class_names == ["1", "7"] and list(equal.labels) == [0, 1, 0, 1]
    np.testing.assert_allclose(equal.signals[2], x[2], rtol=1e-6)
    lengths = np.array([5, 9, 6])
    np.savez(
        tmp_path / "var.npz",
        X=np.arange(20 * 2).reshape(20, 2),
        lengths=lengths,
        y=np.array([0, 1, 1]),
        class_names=np.array(["rest", "grip"]),
        names=np.array(["r1", "g1", "g2"]),
    )
    variable = load_recordings(str(tmp_path / "var.npz"))
    np.testing.assert_array_equal(variable.lengths, lengths)
    assert variable.signals[1][0, 0] == 10 and variable.class_names == ["rest", "grip"]
    assert variable.index_of("g2") == 2 and variable.index_of("1") == 1


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"X": np.zeros((10, 2)), "y": np.zeros(2)}, "give \\(n, time, channels\\)"),
        ({"X": np.zeros((10, 2)), "lengths": np.array([4, 5]), "y": np.array([0, 1])}, "lengths add up to 9"),
        ({"X": np.zeros((3, 8, 2)), "y": np.array([0, 1])}, "3 recordings but 2 labels"),
        ({"X": np.zeros((3, 8, 2))}, "lacks y"),
        ({"X": np.zeros((2, 8, 2)), "y": np.array([0, 0])}, "single class"),
        ({"X": np.full((2, 8, 2), np.nan), "y": np.array([0, 1])}, "NaN"),
        ({"X": np.full((2, 8, 2), "a"), "y": np.array([0, 1])}, "X is not numeric"),
        ({"X": np.zeros((2, 8, 2)), "y": np.array([], int), "class_names": np.array(["a", "b"])}, "no labels"),
    ],
)
def test_bad_npz_files_are_one_line_errors(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(TfxaiError, match=message) as info:
        load_recordings(str(tmp_path / "bad.npz"))
    assert "\n" not in str(info.value)


def test_bad_paths_and_folders(tmp_path):
    with pytest.raises(TfxaiError, match="does not exist"):
        load_recordings(str(tmp_path / "missing"))
    with pytest.raises(TfxaiError, match="no class sub-folders"):
        load_recordings(str(tmp_path))
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(TfxaiError, match="holds no .csv or .npy"):
        load_recordings(str(tmp_path))
    objects = np.empty(2, dtype=object)
    objects[:] = [np.zeros((3, 1)), np.zeros((4, 1))]
    np.savez(tmp_path / "objects.npz", X=objects, y=np.array([0, 1]))
    with pytest.raises(TfxaiError, match="not as Python objects"):
        load_recordings(str(tmp_path / "objects.npz"))
    for name in ("a", "b"):
        (tmp_path / "text" / name).mkdir(parents=True)
        np.save(tmp_path / "text" / name / "r.npy", np.full((20, 2), "x"))
    with pytest.raises(TfxaiError, match="cannot read recording"):
        load_recordings(str(tmp_path / "text"))


def test_too_short_recordings_are_reported(tmp_path):
    np.savez(tmp_path / "short.npz", X=np.zeros((30, 2)), lengths=np.array([20, 10]), y=np.array([0, 1]))
    recordings = load_recordings(str(tmp_path / "short.npz"))
    with pytest.raises(TfxaiError, match="shorter than the 16-sample window .*'recording-1' has 10 samples"):
        recordings.check(16)


def test_split_by_recording_is_stratified_and_never_shares_a_recording():
    labels = np.array([0] * 10 + [1] * 5 + [2] * 2 + [3])
    train, test = split_by_recording(labels, test_fraction=0.4, seed=3)
    assert set(train).isdisjoint(test) and set(train) | set(test) == set(range(len(labels)))
    assert [int((labels[test] == c).sum()) for c in range(4)] == [4, 2, 1, 0]
    again = split_by_recording(labels, test_fraction=0.4, seed=3)
    np.testing.assert_array_equal(again[1], test)
    # windows of test recordings never come from training recordings
    recordings = [np.full((30, 1), i, dtype="float32") for i in range(len(labels))]
    train_windows, _, _ = make_windows([recordings[i] for i in train], labels[train], 16, 2)
    test_windows, _, _ = make_windows([recordings[i] for i in test], labels[test], 16, 2)
    assert set(np.unique(train_windows)).isdisjoint(np.unique(test_windows))
