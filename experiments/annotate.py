"""Auto-annotation on a real video (the regional research centre's pipeline) with hand-labelled ground truth.

Video: opencv-doc's vtest.avi (795 frames, 768x576, 10 fps, pedestrians, static camera).
Labels (experiments/annotate/, tfxai label folders): ``hand_train`` holds 25 hand-labelled frames of
two people (person 0, frames 40-150 every 10th; person 1, frames 590-710 every 10th); ``held_out``
holds 23 other hand-labelled frames of the same two people (45-145 and 595-705, every 10th), never
trained on. How they were made: docs/annotate.md and experiments/annotate.md.

Steps:

1. pre-train the CenterNet-style detector on ``hand_train`` (the report's "pre-training");
2. track each person from their first hand-labelled frame to their last (no re-anchoring on the
   other hand labels) with the detector only (the box is held when it misses), the frame
   difference only, and both (the report's pipeline); score the tracked boxes against ``held_out``:
   mean IoU and the fraction of frames a person must fix (IoU < 0.5);
3. "main training": continue training the detector on the combined pipeline's tracked boxes
   (all tracked frames but the held-out ones; not reviewed) and track again.

Run: nice -n 10 python -P experiments/annotate.py [--detector saved.keras]
"""

import argparse
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # no strided 1x1 convolution in the detector (see README)

import tfxai  # noqa: E402  (before tensorflow)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tfxai.annotate import LabelStore, Tracker, TrackerConfig, Video, iou, search_region, track_video  # noqa: E402
from tfxai.annotate.detector import CenterNetDetector  # noqa: E402
from tfxai.annotate.training import DetectorTrainingConfig, labelled_frames, train_detector  # noqa: E402

VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "annotate")
MODES = ("detector", "framediff", "combined")


def stretches(hand):
    """(track id, first frame, last frame) of each hand-labelled person."""
    frames = {}
    for frame, labels in hand.items({"hand"}):
        for label in labels:
            frames.setdefault(label.track, []).append(frame)
    return [(track, min(f), max(f)) for track, f in sorted(frames.items())]


def track_all(video, hand, detector, mode, folder):
    """Track every person in ``mode``; returns (store, frames tracked, seconds)."""
    store = LabelStore(folder, classes=hand.classes, video=video)
    tracker = Tracker(TrackerConfig(mode=mode), detector)
    total, seconds = 0, 0.0
    for track, first, last in stretches(hand):
        init = {first: [label for label in hand.boxes(first) if label.track == track]}
        person = LabelStore(os.path.join(folder, f"person{track}"), classes=hand.classes, video=video)
        count, took = track_video(video, person, tracker, init, stop=last + 1)
        total, seconds = total + count, seconds + took
        for frame, labels in person.items():
            store.put(frame, store.boxes(frame) + labels)
    return store, total, seconds


def score(tracked, truth):
    """IoU of the tracked box of each held-out box's person; per-frame list of (IoU, source)."""
    rows = []
    for frame, labels in truth.items():
        for label in labels:
            mine = [m for m in tracked.boxes(frame) if m.track == label.track]
            rows.append((iou(mine[0].box, label.box), mine[0].source) if mine else (0.0, "missing"))
    return rows


def detector_recall(video, truth, detector, size=416):
    """Fraction of held-out boxes the detector finds (IoU >= 0.5) in the search region centred on them."""
    hits = []
    for frame, labels in truth.items():
        image = video.read(frame)
        for label in labels:
            crop, (x0, y0) = search_region(image, label.box, size)
            found = [iou((d.box[0] + x0, d.box[1] + y0, d.box[2], d.box[3]), label.box) for d in detector.detect(crop)]
            hits.append(max(found, default=0.0) >= 0.5)
    return float(np.mean(hits))


def report(name, rows, frames, seconds):
    values = np.array([r[0] for r in rows])
    sources = [r[1] for r in rows]
    mix = ", ".join(f"{s} {sources.count(s)}" for s in ("detector", "framediff", "held") if sources.count(s))
    return (f"| {name} | {values.mean():.3f} | {np.median(values):.3f} | {(values < 0.5).mean():.0%} "
            f"({(values < 0.5).sum()}/{len(values)}) | {frames / seconds:.0f} | {mix} |")


def run_modes(video, hand, truth, detector, label, work):
    lines = []
    for mode in MODES:
        store, frames, seconds = track_all(video, hand, detector, mode, os.path.join(work, f"{label}-{mode}"))
        lines.append(report(f"{mode} ({label})" if mode != "framediff" else mode, score(store, truth), frames, seconds))
        yield mode, store, frames, lines[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", help="a pre-trained .keras detector (skip step 1)")
    parser.add_argument("--save", default=os.path.join(tempfile.gettempdir(), "annotate-experiment"))
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    os.makedirs(args.save, exist_ok=True)
    work = tempfile.mkdtemp(prefix="annotate-")
    hand = LabelStore.open(os.path.join(HERE, "hand_train"))
    truth = LabelStore.open(os.path.join(HERE, "held_out"))
    print(f"python {sys.version.split()[0]}, keras {keras.__version__}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS')}")
    config = DetectorTrainingConfig(epochs=args.epochs)
    with Video(VIDEO) as video:
        frames, labels = labelled_frames(video, hand, {"hand"})
        if args.detector:
            model = keras.saving.load_model(args.detector, compile=False)
            print(f"pre-trained detector: {args.detector}")
        else:
            began = time.perf_counter()
            pretrained = train_detector(frames, labels, 1, config)
            model, history = pretrained.model, pretrained.history
            print(f"pre-training: {len(frames)} frames, {config.samples} crops x {config.epochs} epochs, "
                  f"{model.count_params()} parameters, {time.perf_counter() - began:.0f} s, "
                  f"loss {history['loss'][0]:.2f} -> {history['loss'][-1]:.2f}")
            model.save(os.path.join(args.save, "pretrain.keras"))
        detector = CenterNetDetector(model)
        print(f"\nheld-out boxes found by the pre-trained detector in their search region: "
              f"{detector_recall(video, truth, detector):.0%}\n")
        header = ("| tracker | mean IoU | median IoU | frames to fix (IoU < 0.5) | frames/s | sources of the held-out boxes |\n"
                  "|---|---:|---:|---:|---:|---|")
        print(header)
        combined = None
        for mode, store, count, line in run_modes(video, hand, truth, detector, "pre-trained", work):
            print(line, flush=True)
            if mode == "combined":
                combined, tracked_frames = store, count
        # main training on the combined pipeline's boxes (held-out frames excluded, not reviewed)
        held = set(truth.frames())
        main_frames, main_labels = [], []
        for frame, boxes in combined.items():
            if frame not in held:
                main_frames.append(video.read(frame))
                main_labels.append([(b.box, b.class_id) for b in boxes])
        began = time.perf_counter()
        trained = train_detector(main_frames, main_labels, 1, DetectorTrainingConfig(epochs=args.epochs), model=model)
        main_model, history = trained.model, trained.history
        print(f"\nmain training: {len(main_frames)} tracked frames, {time.perf_counter() - began:.0f} s, "
              f"loss {history['loss'][0]:.2f} -> {history['loss'][-1]:.2f}")
        main_model.save(os.path.join(args.save, "main.keras"))
        main_detector = CenterNetDetector(main_model)
        print(f"held-out boxes found by the main detector in their search region: "
              f"{detector_recall(video, truth, main_detector):.0%}\n")
        print(header)
        for mode, _, _, line in run_modes(video, hand, truth, main_detector, "main", work):
            if mode != "framediff":
                print(line, flush=True)
        print(f"\ntracked frames (two people): {tracked_frames}; hand-labelled for pre-training: {len(frames)}")


if __name__ == "__main__":
    main()
