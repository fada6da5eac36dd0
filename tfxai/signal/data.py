"""Loading variable-length multichannel recordings and splitting them by recording.

Two layouts are read:

* a folder with one sub-folder per class, each holding recordings as ``.csv``
  (rows = time steps, columns = channels, an optional header line) or ``.npy``
  (``(time, channels)`` arrays);
* one ``.npz`` file with ``X`` and ``y``: ``X`` either ``(n, time, channels)``
  for equal-length recordings, or ``(total_time, channels)`` concatenated
  recordings with ``lengths`` ``(n,)``; ``y`` integer or string labels;
  optional ``class_names`` and ``names`` (one id per recording).

Train/test splits are drawn over *recordings* (stratified by class), never over
windows, so no window of a test recording is seen in training.
"""

import dataclasses
import os

import numpy as np

from tfxai.errors import TfxaiError

RECORDING_SUFFIXES = (".csv", ".npy")


@dataclasses.dataclass
class Recordings:
    """A labelled set of multichannel recordings of varying length.

    Attributes
    ----------
    signals : list of ndarray
        One ``(time, channels)`` float32 array per recording.
    labels : ndarray of int
        Class index of each recording.
    class_names : list of str
        Name of each class index.
    names : list of str
        An id per recording (file name or ``"recording-<i>"``).
    """

    signals: list
    labels: np.ndarray
    class_names: list
    names: list

    def __len__(self):
        return len(self.signals)

    @property
    def channels(self):
        """Channels per time step (the same for every recording)."""
        return int(self.signals[0].shape[1])

    @property
    def lengths(self):
        """Samples per recording."""
        return np.array([len(s) for s in self.signals])

    def subset(self, indices):
        """The recordings at ``indices``, class names kept."""
        indices = np.asarray(indices, dtype=int)
        return Recordings(
            [self.signals[i] for i in indices], self.labels[indices], list(self.class_names), [self.names[i] for i in indices]
        )

    def index_of(self, name_or_index):
        """Position of a recording given by its name or position (as a string or int)."""
        if isinstance(name_or_index, (int, np.integer)) or str(name_or_index).lstrip("-").isdigit():
            index = int(name_or_index)
            if not -len(self) <= index < len(self):
                raise TfxaiError(f"recording index {index} is out of range: the set has {len(self)} recordings")
            return index % len(self)
        if name_or_index in self.names:
            return self.names.index(name_or_index)
        raise TfxaiError(f"no recording named {name_or_index!r}: give a name such as {self.names[0]!r} or an index")

    def check(self, window):
        """Raise :class:`TfxaiError` unless every recording is at least ``window`` samples long."""
        short = [(n, s.shape) for n, s in zip(self.names, self.signals) if len(s) < window]
        if short:
            name, (length, channels) = short[0][0], short[0][1][:2]
            # pyts and sktime store (n, channels, time): then "time" is the channel count
            swapped = (
                f"; or are the axes swapped? {name!r} has {length} samples of {channels} channels: "
                "transpose (n, channels, time) arrays to (n, time, channels)" if channels > length else ""
            )
            raise TfxaiError(
                f"{len(short)} recording(s) are shorter than the {window}-sample window (e.g. {name!r} has "
                f"{length} samples): remove them or choose a shorter window{swapped}"
            )
        return self


def load_recordings(path):
    """Load recordings from a class-per-folder tree of CSV/NPY files or from one NPZ file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise TfxaiError(f"data path {path} does not exist: give a folder of class sub-folders or an .npz file")
    if os.path.isdir(path):
        recordings = _load_folder(path)
    elif path.lower().endswith(".npz"):
        recordings = _load_npz(path)
    else:
        raise TfxaiError(f"cannot read {path}: give a folder of class sub-folders (CSV/NPY files) or an .npz file")
    return _validate(recordings, path)


def split_by_recording(labels, test_fraction=0.4, seed=0):
    """Split recording indices into train and test sets, stratified by class.

    Every class with at least two recordings puts ``round(n * test_fraction)``
    of them (at least one, at most ``n - 1``) in the test set; whole recordings
    go to one side only, so their windows never leak across the split.

    Returns
    -------
    train, test : ndarray of int
        Sorted recording indices.
    """
    if not 0.0 < float(test_fraction) < 1.0:
        raise TfxaiError(f"test fraction must lie between 0 and 1, got {test_fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = 0 if len(members) < 2 else int(np.clip(round(len(members) * test_fraction), 1, len(members) - 1))
        test.extend(members[:count])
        train.extend(members[count:])
    if not test:
        raise TfxaiError("no class has two or more recordings, so nothing is left for testing: add recordings")
    return np.sort(np.array(train, dtype=int)), np.sort(np.array(test, dtype=int))


def _load_folder(path):
    classes = sorted(
        entry.name for entry in os.scandir(path) if entry.is_dir() and not entry.name.startswith(".")
    )
    if not classes:
        raise TfxaiError(f"folder {path} has no class sub-folders: put each class's recordings in its own sub-folder")
    signals, labels, names = [], [], []
    for label, class_name in enumerate(classes):
        folder = os.path.join(path, class_name)
        files = sorted(
            name for name in os.listdir(folder) if name.lower().endswith(RECORDING_SUFFIXES) and not name.startswith(".")
        )
        if not files:
            raise TfxaiError(
                f"class folder {folder} holds no .csv or .npy recordings: add recordings or remove the folder"
            )
        for name in files:
            signals.append(_read_file(os.path.join(folder, name)))
            labels.append(label)
            names.append(f"{class_name}/{name}")
    return Recordings(signals, np.array(labels), classes, names)


def _read_file(path):
    try:
        if path.lower().endswith(".npy"):
            array = np.load(path, allow_pickle=False).astype("float32")
        else:
            with open(path, encoding="utf-8") as handle:
                first = handle.readline()
            skip = 0 if _numeric(first) else 1
            array = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2, dtype="float32")
    except (ValueError, TypeError, OSError, EOFError) as error:
        raise TfxaiError(f"cannot read recording {path}: {error}: save numbers only, one time step per row") from None
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise TfxaiError(f"recording {path} has shape {array.shape}: save it as (time, channels)")
    return array


def _numeric(line):
    try:
        [float(field) for field in line.strip().split(",") if field.strip()]
    except ValueError:
        return False
    return True


def _load_npz(path):
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except ValueError as error:
        raise TfxaiError(
            f"cannot read {path} ({error}): store variable-length recordings concatenated as X (total_time, channels) "
            "with lengths (n,), not as Python objects"
        ) from None
    except (OSError, EOFError) as error:
        raise TfxaiError(f"cannot read {path} as an .npz archive ({error}): check the file") from None
    missing = [key for key in ("X", "y") if key not in arrays]
    if missing:
        raise TfxaiError(f"{path} lacks {', '.join(missing)} (found {sorted(arrays)}): store recordings as X and labels as y")
    x, y = arrays["X"], np.asarray(arrays["y"]).reshape(-1)
    if len(y) == 0:
        raise TfxaiError(f"{path} has no labels in y: store one label per recording")
    try:
        x = x.astype("float32")
    except (ValueError, TypeError) as error:
        raise TfxaiError(f"{path}: X is not numeric ({error}): store the signals as numbers") from None
    if x.ndim == 3:
        if "lengths" in arrays:
            raise TfxaiError(f"{path} has a 3-D X and lengths: give either (n, time, channels) or concatenated X with lengths")
        signals = [np.asarray(s, dtype="float32") for s in x]
    elif x.ndim == 2 and "lengths" in arrays:
        lengths = np.asarray(arrays["lengths"]).reshape(-1).astype(int)
        if lengths.sum() != len(x) or (lengths < 0).any():
            raise TfxaiError(
                f"{path}: lengths add up to {lengths.sum()} but X has {len(x)} time steps: lengths must partition X"
            )
        signals = [np.asarray(s, dtype="float32") for s in np.split(x, np.cumsum(lengths)[:-1])]
    else:
        raise TfxaiError(
            f"{path}: X has shape {x.shape}: give (n, time, channels), or concatenated (total_time, channels) with lengths"
        )
    if len(signals) != len(y):
        raise TfxaiError(f"{path}: {len(signals)} recordings but {len(y)} labels in y: give one label per recording")
    labels, class_names = _encode_labels(y, arrays.get("class_names"), path)
    names = [str(n) for n in arrays["names"]] if "names" in arrays else [f"recording-{i}" for i in range(len(signals))]
    if len(names) != len(signals):
        raise TfxaiError(f"{path}: {len(names)} names for {len(signals)} recordings: give one name per recording")
    return Recordings(signals, labels, class_names, names)


def _encode_labels(y, class_names, path):
    if class_names is not None:
        class_names = [str(c) for c in np.asarray(class_names).reshape(-1)]
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= len(class_names):
            raise TfxaiError(f"{path}: with class_names, y must hold integers from 0 to {len(class_names) - 1}")
        return y.astype(int), class_names
    values, labels = np.unique(y, return_inverse=True)
    return labels.astype(int), [str(v) for v in values]


def _validate(recordings, path):
    if len(recordings) == 0:
        raise TfxaiError(f"{path} holds no recordings: add recordings")
    channels = {s.shape[1] for s in recordings.signals}
    if len(channels) > 1:
        raise TfxaiError(f"{path}: recordings have different channel counts {sorted(channels)}: all must have the same")
    if 0 in channels:
        raise TfxaiError(f"{path}: recordings have no channels: save them as (time, channels)")
    for name, signal in zip(recordings.names, recordings.signals):
        if not np.isfinite(signal).all():
            raise TfxaiError(f"recording {name!r} in {path} holds NaN or infinite values: clean or drop it")
    if len(np.unique(recordings.labels)) < 2:
        raise TfxaiError(f"{path} holds a single class: a classifier needs recordings of two or more classes")
    return recordings
