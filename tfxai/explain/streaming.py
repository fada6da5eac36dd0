"""Explain a long list of image files as a stream, resumable: the report of :mod:`tfxai.explain.report`, chunk by chunk.

Images are decoded a few chunks ahead in a thread pool (OpenCV releases the
GIL), each chunk is explained, its overlays written and its predictions.csv
rows appended at once; only running counts and the contact sheet's first
tiles stay in memory, so memory does not grow with the number of images.

The report is built in ``<out>.partial/`` beside ``out`` with a small
``progress.json`` (images done, running counts, the options' fingerprint).
Rerunning with the same options continues after the last complete chunk;
other options start afresh. When every image is done, the folder is moved
onto ``out`` atomically (:func:`tfxai.io.files.replace_directory`).
"""

import collections
import concurrent.futures
import contextlib
import copy
import csv
import hashlib
import json
import logging
import os
import shutil

import cv2
import numpy as np

from tfxai.data.image_folder import convert_channels, read_image
from tfxai.errors import plural
from tfxai.explain.report import PREDICTIONS_HEADER, explain_batch, prediction_row, summary_text, write_overlay, write_summary_page
from tfxai.io import write_text
from tfxai.io.files import replace_directory

__all__ = ["CHUNK", "partial_folder", "explain_stream", "read_chunk", "chunks_ahead", "file_signature", "fingerprint", "resume_state", "save_state",
           "note_conversions"]

#: Images per chunk: a multiple of the explainers' batch of 32, so the batches (and their numbers) are those of one big array.
CHUNK = 64
PROGRESS = "progress.json"
_SHEET = "sheet_tiles.npz"
_CHANNEL_KINDS = {1: "grayscale", 3: "RGB", 4: "RGBA"}
_WRITERS = 2  # threads drawing and encoding overlays
#: The running values of a new :func:`explain_stream` run (beside ``key`` and ``done``).
_EXPLAIN_COUNTS = {"labelled": 0, "correct": 0, "csv_bytes": 0, "converted": {}}


def partial_folder(out):
    """Where the report to ``out`` is built until it is complete: ``<out>.partial``."""
    return os.path.abspath(os.fspath(out)).rstrip(os.sep) + ".partial"


def read_chunk(paths, size, channels):
    """``(images uint8 (N, H, W, channels), Counter of the converted images' channel counts)`` (as :func:`tfxai.data.load_images`)."""
    out = np.empty((len(paths), size[0], size[1], channels), np.uint8)
    converted = collections.Counter()
    for i, path in enumerate(paths):
        image = read_image(path)
        image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA).reshape(size[0], size[1], -1)
        if image.shape[-1] != channels:
            converted[image.shape[-1]] += 1
            image = convert_channels(image, channels)
        out[i] = image.reshape(size[0], size[1], channels)
    return out, converted


def chunks_ahead(paths, start, size, channels, chunk, ahead=2, workers=2, spans=None):
    """Yield ``(first index, images, converted)`` for each chunk from ``start``, decoded up to ``ahead`` chunks in advance.

    ``spans``: explicit ``(first, stop)`` index ranges to read instead of chunks of ``chunk`` images (those before ``start`` skipped).
    """
    if spans is None:
        spans = [(first, first + chunk) for first in range(start, len(paths), chunk)]
    spans = iter([(first, stop) for first, stop in spans if first >= start])
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        pending = collections.deque()
        try:
            for first, stop in spans:
                pending.append((first, pool.submit(read_chunk, paths[first:stop], size, channels)))
                if len(pending) > ahead:
                    first, future = pending.popleft()
                    yield (first, *future.result())
            while pending:
                first, future = pending.popleft()
                yield (first, *future.result())
        finally:
            for _, future in pending:
                future.cancel()


_chunks_ahead = chunks_ahead  # the name explain_stream has always used


def file_signature(path):
    """A file or folder's path, size and modification time (part of a fingerprint: another model starts an unfinished run afresh)."""
    path = os.path.abspath(os.fspath(path))
    status = os.stat(path)
    return [path, status.st_size, status.st_mtime_ns]


def fingerprint(**options):
    """A short hash of the options a report depends on (a rerun with other options starts afresh)."""
    return hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode()).hexdigest()[:16]


def resume_state(partial, key, say, fresh=None):
    """The progress saved in ``partial`` for options ``key``; a fresh state (``partial`` emptied) when there is none.

    ``fresh``: the running values of a new run besides ``key`` and ``done`` (default: :func:`explain_stream`'s counts).
    """
    fresh = {"key": key, "done": 0, **copy.deepcopy(_EXPLAIN_COUNTS if fresh is None else fresh)}
    path = os.path.join(partial, PROGRESS)
    state = None
    if os.path.isfile(path):
        with contextlib.suppress(OSError, ValueError):
            with open(path, encoding="utf-8") as file:
                state = json.load(file)
    if state is not None and state.get("key") == key:
        return state
    if os.path.exists(partial):
        say(f"{partial} holds an unfinished run with other options: starting afresh" if state is not None
            else f"{partial} holds no usable progress: starting afresh")
        shutil.rmtree(partial)
    return fresh


def save_state(partial, state):
    """Write ``state`` as ``partial``'s progress.json (atomic: a kill leaves the old or the new state)."""
    write_text(os.path.join(partial, PROGRESS), json.dumps(state))


_resume_state, _save_state = resume_state, save_state  # the names explain_stream uses (and its tests replace)


def explain_stream(explainer, paths, class_names, out, size, channels, *, true=None, target=None, title="tfxai explanations",
                   alpha=0.4, max_sheet=64, columns=8, chunk=CHUNK, options=None, say=print, progress=None, on_chunk=None):
    """Explain image files ``paths`` chunk by chunk into a report at ``out``; return ``(count, labelled, accuracy, resumed_at)``.

    Parameters
    ----------
    true : callable or None
        ``true(path) -> class index`` (-1: unlabelled).
    target : int or None
        The class to explain (None: the predicted class).
    options : dict
        What else the report depends on (model, method, ...): part of the fingerprint deciding whether to resume.
    say : callable
        Prints one-line notes (resuming, starting afresh).
    progress : callable or None
        ``progress(total, initial)`` -> a tqdm-like bar (``update(n)``, ``close()``), or None for none.
    on_chunk : callable or None
        Called with the number of images done after each chunk is saved (and at the start of a resumed run).
    """
    partial = partial_folder(out)
    key = fingerprint(paths=paths, size=size, channels=channels, target=target, title=title, alpha=alpha, max_sheet=max_sheet,
                      columns=columns, chunk=chunk, class_names=class_names, options=options)
    state = _resume_state(partial, key, say)
    resumed_at = state["done"]
    if resumed_at:
        say(f"continuing the unfinished run in {partial} after {plural(resumed_at, 'image')} of {len(paths)}")
        if on_chunk is not None:
            on_chunk(resumed_at)
    os.makedirs(os.path.join(partial, "overlays"), exist_ok=True)
    tiles = _load_tiles(partial) if resumed_at else []
    csv_path = os.path.join(partial, "predictions.csv")
    with open(csv_path, "a+", newline="", encoding="utf-8") as file:
        file.truncate(state["csv_bytes"])  # rows of a chunk whose progress was never saved
        file.seek(state["csv_bytes"])
        writer = csv.writer(file)
        if not state["csv_bytes"]:
            writer.writerow(PREDICTIONS_HEADER)
        bar = progress(len(paths), resumed_at) if progress is not None else None

        def finish(chunk_done):
            """Wait for a chunk's overlays, then count it and save the progress: only complete chunks are ever claimed."""
            first, count, writes, counts, converted, csv_bytes = chunk_done
            for index, write in enumerate(writes):
                tile = write.result()
                if first + index < max_sheet:
                    tiles.append(tile)
            if first < max_sheet:
                np.savez(os.path.join(partial, _SHEET), *tiles)
            state["labelled"] += counts[0]
            state["correct"] += counts[1]
            for channel_count, n in converted.items():
                state["converted"][str(channel_count)] = state["converted"].get(str(channel_count), 0) + n
            state.update(done=first + count, csv_bytes=csv_bytes)
            _save_state(partial, state)
            if bar is not None:
                bar.update(count)
            if on_chunk is not None:
                on_chunk(state["done"])

        # Overlays are drawn and encoded in threads (OpenCV releases the GIL) while the next chunk is explained.
        with concurrent.futures.ThreadPoolExecutor(_WRITERS) as writers:
            try:
                previous = None
                for first, images, converted in _chunks_ahead(paths, resumed_at, size, channels, chunk):
                    names = paths[first:first + len(images)]
                    labels = np.asarray([-1 if true is None else true(p) for p in names])
                    targets = None if target is None else [target] * len(images)
                    items = explain_batch(explainer, images, names, labels, targets, sources=names)
                    writes = [writers.submit(write_overlay, partial, first + i, item, class_names, alpha, first + i < max_sheet)
                              for i, item in enumerate(items)]
                    writer.writerows(prediction_row(item, class_names) for item in items)
                    file.flush()
                    counts = (sum(int(item.true >= 0) for item in items),
                              sum(int(item.true >= 0 and item.true == item.predicted) for item in items))
                    if previous is not None:
                        finish(previous)
                    previous = (first, len(images), writes, counts, converted, file.tell())
                if previous is not None:
                    finish(previous)
            except BaseException:
                writers.shutdown(wait=True, cancel_futures=True)  # no overlay is written after this point
                if not state["done"]:  # nothing worth keeping: leave no trace
                    file.close()
                    shutil.rmtree(partial, ignore_errors=True)
                raise
            finally:
                if bar is not None:
                    bar.close()
    note_conversions(state["converted"], channels)
    summary, accuracy = summary_text(len(paths), state["labelled"], state["correct"])
    write_summary_page(partial, tiles, len(paths), summary, title, columns)
    for name in (PROGRESS, _SHEET):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(partial, name))
    replace_directory(partial, os.path.abspath(os.fspath(out)))
    return len(paths), state["labelled"], accuracy, resumed_at


def _load_tiles(partial):
    path = os.path.join(partial, _SHEET)
    if not os.path.isfile(path):
        return []
    with np.load(path) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


def note_conversions(converted, channels):
    """The one line of :func:`tfxai.data.image_folder.to_model_channels` for the whole run (``converted``: channel count -> images)."""
    if not converted:
        return
    kinds = " and ".join(plural(count, f"{_CHANNEL_KINDS.get(int(c), f'{c}-channel')} image") for c, count in sorted(converted.items()))
    target = f"{plural(channels, 'channel')} ({_CHANNEL_KINDS.get(channels, 'other')})"
    logging.getLogger("tfxai").info(f"converted {kinds} to the model's {target}")


_note_conversions = note_conversions
