"""``tfxai annotate ...``: label a few frames, pre-train a detector, track, review, export, train.

The report's pipeline (regional research centre, auto-annotation of deer
videos): hand labels -> pre-training -> search-region tracking with a
frame-difference fallback -> a person removes wrong labels -> main training.
See docs/annotate.md.
"""

import os

import click

from tfxai.apps.common import echo, reports_errors, unsafe_deserialization_option

VIDEO = click.argument("video", type=click.Path(dir_okay=False))


def _training_options(function):
    """Options shared by pretrain and train."""
    for decorator in reversed([
        click.option("--out", required=True, help="Where to write the detector (.keras)."),
        click.option("--epochs", type=click.IntRange(1, None), default=15, show_default=True),
        click.option("--samples", type=click.IntRange(8, None), default=400, show_default=True,
                     help="Augmented search-region crops per epoch."),
        click.option("--input-size", type=click.IntRange(32, None), default=256, show_default=True,
                     help="Detector input (the 416-px search region is resized to it); a multiple of 32."),
        click.option("--width", type=click.IntRange(4, 128), default=16, show_default=True, help="Filters of the first stage."),
        click.option("--search-size", type=click.IntRange(32, None), default=416, show_default=True),
        click.option("--batch-size", type=click.IntRange(1, None), default=8, show_default=True),
        click.option("--learning-rate", type=click.FloatRange(0, None, min_open=True), default=2e-3, show_default=True),
        click.option("--seed", type=int, default=0, show_default=True),
    ]):
        function = decorator(function)
    return function


def _fit(frames, labels, classes, options, init=None):
    from tfxai.annotate.training import DetectorTrainingConfig, train_detector
    from tfxai.io import atomic_path, load_model

    if not options["out"].endswith(".keras"):
        from tfxai.errors import TfxaiError

        raise TfxaiError(f"--out {options['out']} must end in .keras")
    config = DetectorTrainingConfig(input_size=options["input_size"], width=options["width"],
                                    region_size=options["search_size"], samples=options["samples"],
                                    epochs=options["epochs"], batch_size=options["batch_size"],
                                    learning_rate=options["learning_rate"], seed=options["seed"])
    model = load_model(init, compile=False)[0] if init else None
    echo(f"training on {sum(map(len, labels))} boxes in {len(frames)} frames ({', '.join(classes)})")
    model, history = train_detector(frames, labels, len(classes), config, model=model, verbose=2)
    with atomic_path(options["out"]) as tmp:
        model.save(tmp)
    echo(f"loss {history['loss'][0]:.3f} -> {history['loss'][-1]:.3f}; wrote {options['out']}")


@click.command("label")
@VIDEO
@click.option("--labels", "folder", required=True, help="Label folder (created if new; reopened to continue).")
@click.option("--classes", default="object", show_default=True, help="Comma-separated class names (new folders).")
@click.option("--start", type=click.IntRange(0, None), default=0, show_default=True, help="First frame shown.")
@click.option("--jump", type=click.IntRange(1, None), default=10, show_default=True, help="Frames skipped by . and ,")
@click.option("--scale", type=click.FloatRange(0.1, 8), default=1.0, show_default=True, help="Display zoom.")
@reports_errors
def label_command(video, folder, classes, start, jump, scale):
    """Draw, move and delete boxes on video frames; every change is saved at once.

    Mouse: drag on empty space draws, drag a box moves it, right-click deletes.
    Keys: n/space next, p previous, . and , jump, c or 0-9 class, d delete, q quit.
    """
    from tfxai.annotate import LabelStore, Video
    from tfxai.annotate.sessions import LabelSession, check_window, run_window

    check_window()  # before creating the label folder
    with Video(video) as clip:
        store = LabelStore(folder, classes=_classes(classes, folder), video=clip)
        session = LabelSession(clip, store, start=min(start, len(clip) - 1), jump=jump, scale=scale)
        run_window(session, "tfxai annotate label")
    echo(f"{folder}: {len(list(store.items()))} labelled frames")


@click.command("pretrain")
@click.option("--video", required=True, type=click.Path(dir_okay=False))
@click.option("--labels", "folder", required=True, help="Label folder with hand-labelled frames.")
@_training_options
@reports_errors
def pretrain_command(video, folder, **options):
    """Pre-train the detector on the hand-labelled frames (20-30 are enough to start)."""
    from tfxai.annotate import LabelStore, Video
    from tfxai.annotate.training import labelled_frames

    store = LabelStore.open(folder)
    with Video(video) as clip:
        frames, labels = labelled_frames(clip, store, sources={"hand"})
    _fit(frames, labels, store.classes, options)


@click.command("train")
@click.option("--data", required=True, help="An export folder ('tfxai annotate export') or a label folder (with --video).")
@click.option("--format", "fmt", type=click.Choice(["yolo", "coco", "voc", "labels"]), default="yolo", show_default=True)
@click.option("--video", type=click.Path(dir_okay=False), help="The video of a label folder (--format labels).")
@click.option("--init", type=click.Path(dir_okay=False), help="Continue from this detector (e.g. the pre-trained one).")
@_training_options
@unsafe_deserialization_option
@reports_errors
def train_command(data, fmt, video, init, **options):
    """Main training on the reviewed labels (an export folder, or a label folder and its video)."""
    from tfxai.annotate import LabelStore, Video
    from tfxai.annotate.training import exported_frames, labelled_frames
    from tfxai.errors import TfxaiError

    if fmt == "labels":
        if not video:
            raise TfxaiError("--format labels needs --video: pass the video the labels belong to")
        store = LabelStore.open(data)
        with Video(video) as clip:
            frames, labels = labelled_frames(clip, store)
        classes = store.classes
    else:
        frames, labels, classes = exported_frames(data, fmt)
    _fit(frames, labels, classes, options, init=init)


@click.command("track")
@VIDEO
@click.option("--init", "inits", multiple=True, metavar="FRAME:x,y,w,h", help="A box to track (repeat for more objects).")
@click.option("--labels", "folder", help="Hand-label folder: start at its first frame, re-anchor at each labelled frame.")
@click.option("--out", required=True, help="Label folder to write (resumes when it already holds frames).")
@click.option("--detector", type=click.Path(), help="A .keras detector from 'pretrain'/'train' or a SavedModel folder.")
@click.option("--mode", type=click.Choice(["combined", "detector", "framediff"]), default=None,
              help="Default: combined with --detector, framediff without.")
@click.option("--classes", default="object", show_default=True, help="Class names for --init boxes (class 0 is the first).")
@click.option("--search-size", type=click.IntRange(32, None), default=416, show_default=True)
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.3, show_default=True, help="Detector score threshold.")
@click.option("--min-iou", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="A detection must overlap the previous box this much.")
@click.option("--start", type=click.IntRange(0, None), help="First frame (default: the first labelled one).")
@click.option("--stop", type=click.IntRange(1, None), help="Stop before this frame (default: the end).")
@unsafe_deserialization_option
@reports_errors
def track_command(video, inits, folder, out, detector, mode, classes, search_size, threshold, min_iou, start, stop):
    """Track boxes through VIDEO: detector on a search region, frame difference when it misses."""
    from tfxai.annotate import LabelStore, Tracker, TrackerConfig, Video, track_video
    from tfxai.errors import TfxaiError

    if bool(inits) == bool(folder):
        raise TfxaiError("pass either --init FRAME:x,y,w,h or --labels HAND_LABELS (one of them)")
    if folder:
        hand = LabelStore.open(folder)
        anchors = dict(hand.items({"hand"}))
        class_names = hand.classes
    else:
        anchors = _parse_inits(inits)
        class_names = [name.strip() for name in classes.split(",") if name.strip()]
    mode = mode or ("combined" if detector else "framediff")
    found = None
    if detector:
        from tfxai.annotate.detector import load_detector

        found = load_detector(detector, threshold=threshold)
    tracker = Tracker(TrackerConfig(mode=mode, search_size=search_size, min_iou=min_iou), found)
    with Video(video) as clip:
        store = LabelStore(out, classes=class_names, video=clip)
        last = min(len(clip), stop or len(clip))
        with click.progressbar(length=last, label=f"tracking ({mode})", file=click.get_text_stream("stderr")) as bar:
            def progress(index, total):
                bar.update(index + 1 - bar.pos)

            tracked, seconds = track_video(clip, store, tracker, anchors, start=start, stop=stop, progress=progress)
    rate = tracked / seconds if seconds > 0 else float("inf")
    echo(f"tracked {tracked} frames in {seconds:.1f} s ({rate:.0f} frames/s); labels in {out}")


@click.command("review")
@VIDEO
@click.option("--labels", "folder", required=True, help="Label folder to review (changes are saved at once).")
@click.option("--sheets", help="Headless: write contact sheets (PNG) to this folder instead of opening a window.")
@click.option("--every", type=click.IntRange(1, None), default=1, show_default=True, help="Show every n-th frame.")
@click.option("--step", type=click.FloatRange(0.5, 100), default=2, show_default=True, help="Nudge step in pixels.")
@click.option("--scale", type=click.FloatRange(0.1, 8), default=1.0, show_default=True, help="Display zoom.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --sheets folder.")
@reports_errors
def review_command(video, folder, sheets, every, step, scale, overwrite):
    """Step through tracked frames (boxes coloured by source): keep, delete, nudge; or write contact sheets.

    Keys: space keep+next, n/p, Tab select, d delete, x delete all, h/j/k/l nudge (capitals 5x), +/- size, q quit.
    """
    from tfxai.annotate import LabelStore, Video
    from tfxai.annotate.sessions import ReviewSession, check_window, run_window, write_contact_sheets

    store = LabelStore.open(folder)
    with Video(video) as clip:
        if sheets:
            names = write_contact_sheets(clip, store, sheets, every=every, overwrite=overwrite)
            echo(f"wrote {len(names)} contact sheets to {sheets}")
            return
        check_window()
        session = ReviewSession(clip, store, frames=store.frames()[::every], step=step, scale=scale)
        run_window(session, "tfxai annotate review")
    reviewed = sum(store.get(frame).reviewed for frame in store.frames())
    echo(f"{reviewed} of {len(store.frames())} frames reviewed in {folder}")


@click.command("export")
@click.option("--labels", "folder", required=True, help="Label folder.")
@click.option("--video", required=True, type=click.Path(dir_okay=False), help="The video the labels belong to.")
@click.option("--format", "fmt", type=click.Choice(["yolo", "coco", "voc"]), required=True)
@click.option("--out", required=True, help="Output folder (written only when complete).")
@click.option("--reviewed-only", is_flag=True, help="Only frames marked reviewed (kept) in 'review'.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
@reports_errors
def export_command(folder, video, fmt, out, reviewed_only, overwrite):
    """Write frames and boxes as YOLO, COCO or Pascal VOC (for CVAT, Label Studio, YOLO trainers)."""
    from tfxai.annotate import LabelStore, Video
    from tfxai.annotate.formats import export_labels

    store = LabelStore.open(folder)
    items = [(frame, boxes) for frame, boxes in store.items() if not reviewed_only or store.get(frame).reviewed]
    with Video(video) as clip:
        count = export_labels(items, store.classes, clip, fmt, out, overwrite=overwrite)
    echo(f"exported {count} frames ({fmt}) to {out}")


def _classes(text, folder):
    names = [name.strip() for name in text.split(",") if name.strip()]
    if os.path.isfile(os.path.join(folder, "meta.json")) and text == "object":
        return None  # an existing folder keeps its classes
    return names or ["object"]


def _parse_inits(inits):
    """``FRAME:x,y,w,h[:class]`` strings -> {frame: [Label]}."""
    from tfxai.annotate import Label
    from tfxai.errors import TfxaiError

    anchors = {}
    for text in inits:
        try:
            parts = text.split(":")
            frame, box = int(parts[0]), [float(v) for v in parts[1].split(",")]
            class_id = int(parts[2]) if len(parts) > 2 else 0
        except (ValueError, IndexError):
            raise TfxaiError(f"--init {text!r} is not FRAME:x,y,w,h (e.g. 0:120,80,40,90)") from None
        labels = anchors.setdefault(frame, [])
        labels.append(Label(box, class_id, len(labels), "hand"))
    return anchors
