"""``tfxai annotate ...``: label a few frames, pre-train a detector, track, review, export, train.

The report's pipeline (regional research centre, auto-annotation of deer
videos): hand labels -> pre-training -> search-region tracking with a
frame-difference fallback -> a person removes wrong labels -> main training.
See docs/annotate.md.
"""

import os

import click

from tfxai.apps.common import echo, progress_bar, reports_errors, unsafe_deserialization_option
from tfxai.apps.studio import host_option, without_tensorflow

VIDEO = click.argument("video", type=click.Path(dir_okay=False))
MIN_HAND_BOXES = 10  # below this the detector has too little to learn from (the report labels 20-30 frames)


def video_argument(function):
    """``VIDEO`` as the positional argument, with ``--video`` kept as a hidden, deprecated alias."""
    function = click.option("--video", "video_option", type=click.Path(dir_okay=False), hidden=True,
                            help="Deprecated: pass the video as the positional VIDEO.")(function)
    return click.argument("video", type=click.Path(dir_okay=False), required=False)(function)


def _the_video(video, video_option, required=True):
    from tfxai.errors import TfxaiError

    if video_option is not None:
        echo("note: --video is deprecated: pass the video as the positional VIDEO argument")
        if video is not None and video != video_option:
            raise TfxaiError(f"two videos given ({video} and --video {video_option}): pass one VIDEO")
        video = video_option
    if video is None and required:
        raise TfxaiError("missing VIDEO: pass the video file as the first argument")
    return video


def _studio_options(function):
    return host_option(function)


def _training_options(function):
    """Options shared by pretrain and train: the fields of :class:`~tfxai.annotate.training.DetectorTrainingConfig`."""
    from tfxai.annotate.config import DetectorTrainingConfig
    from tfxai.apps.options import config_options

    return config_options(DetectorTrainingConfig)(function)


def _fit(frames, labels, classes, config, init=None):
    from tfxai.annotate.training import train_detector
    from tfxai.io import atomic_path, load_model

    if not config.out.endswith(".keras"):
        from tfxai.errors import TfxaiError

        raise TfxaiError(f"--out {config.out} must end in .keras")
    model = load_model(init, compile=False)[0] if init else None
    echo(f"training on {sum(map(len, labels))} boxes in {len(frames)} frames ({', '.join(classes)})")
    result = train_detector(frames, labels, len(classes), config, model=model, verbose=2)
    with atomic_path(config.out) as tmp:
        result.model.save(tmp)
    echo(f"loss {result.history['loss'][0]:.3f} -> {result.history['loss'][-1]:.3f}; wrote {config.out}")


@without_tensorflow  # the studio and --box need no TensorFlow: start in a second
@click.command("label")
@VIDEO
@click.option("--labels", "folder", required=True, help="Label folder (created if new; reopened to continue).")
@click.option("--classes", default="object", show_default=True, help="Comma-separated class names (new folders).")
@click.option("--box", "boxes", multiple=True, metavar="FRAME:x,y,w,h[:CLASS]",
              help="Add a hand box without any page (repeatable; CLASS is the class index, 0 by default).")
@click.option("--start", type=click.IntRange(0, None), default=0, show_default=True, help="First frame shown.")
@_studio_options
@reports_errors
def label_command(video, folder, classes, boxes, start, host, port, open_browser):
    """Label VIDEO in the studio (a local web page): draw, move, resize and delete boxes; every change is saved at once.

    With --box, the boxes are added to the label folder and no page opens (for scripts and pipelines).
    """
    from tfxai.annotate import LabelStore, Video

    with Video(video) as clip:
        if boxes:
            anchors = _parse_boxes(boxes, "--box", clip)
        store = LabelStore(folder, classes=_classes(classes, folder), video=clip)
        last = len(clip) - 1
    if boxes:
        added = _add_hand_boxes(store, anchors)
        echo(f"added {added} hand boxes; {folder}: {_hand_count(store)} hand boxes in {len(dict(store.items({'hand'})))} frames")
        return
    from tfxai.apps.studio import serve

    serve([folder], host, port, videos={folder: video}, page="/label", item="0/.", open_browser=open_browser,
          frame=min(start, last))
    echo(f"{folder}: {_hand_count(store)} hand boxes in {len(dict(store.items({'hand'})))} frames")


def _add_hand_boxes(store, anchors):
    """Append ``{frame: [Label]}`` to the frames' existing boxes (new track ids after theirs)."""
    from tfxai.annotate import Label

    added = 0
    for frame, labels in sorted(anchors.items()):
        record = store.get(frame)
        track = max((label.track for label in record.boxes), default=-1) + 1
        new = [Label(label.box, label.class_id, track + i, "hand") for i, label in enumerate(labels)]
        for label in new:
            if label.class_id >= len(store.classes):
                from tfxai.errors import TfxaiError

                raise TfxaiError(f"--box class {label.class_id} is not one of the folder's classes {store.classes} (0 to {len(store.classes) - 1})")
        store.put(frame, record.boxes + new, reviewed=record.reviewed)
        added += len(new)
    return added


def _hand_count(store):
    return sum(len(boxes) for _, boxes in store.items({"hand"}))


@click.command("pretrain")
@video_argument
@click.option("--labels", "folder", required=True, help="Label folder with hand-labelled frames.")
@click.option("--min-boxes", type=click.IntRange(1, None), default=MIN_HAND_BOXES, show_default=True,
              help="Refuse to train on fewer hand boxes than this (too few to learn from).")
@_training_options
def pretrain_command(video, video_option, folder, min_boxes, config):
    """Pre-train the detector on the hand-labelled frames of VIDEO (20-30 are enough to start)."""
    from tfxai.annotate import LabelStore, Video
    from tfxai.annotate.training import labelled_frames
    from tfxai.errors import TfxaiError

    video = _the_video(video, video_option)
    store = LabelStore.open(folder)
    count = _hand_count(store)
    if count < min_boxes:
        frames = len(dict(store.items({"hand"})))
        raise TfxaiError(f"{folder} holds {count} hand boxes in {frames} frames, too few to learn from (at least {min_boxes}; "
                         "the report labels 20-30 frames): label more with 'tfxai annotate label' (or --box), "
                         "or lower --min-boxes")
    with Video(video) as clip:
        frames, labels = labelled_frames(clip, store, sources={"hand"})
    _fit(frames, labels, store.classes, config)


@click.command("train")
@video_argument
@click.option("--data", required=True, help="An export folder ('tfxai annotate export') or a label folder (with VIDEO).")
@click.option("--format", "fmt", type=click.Choice(["yolo", "coco", "voc", "labels"]), default="yolo", show_default=True)
@click.option("--init", type=click.Path(dir_okay=False), help="Continue from this detector (e.g. the pre-trained one).")
@_training_options
@unsafe_deserialization_option
def train_command(video, video_option, data, fmt, init, config):
    """Main training on the reviewed labels (an export folder, or a label folder and its VIDEO)."""
    from tfxai.annotate import LabelStore, Video
    from tfxai.annotate.training import exported_frames, labelled_frames
    from tfxai.errors import TfxaiError

    video = _the_video(video, video_option, required=False)
    if fmt == "labels":
        if not video:
            raise TfxaiError("--format labels needs VIDEO: pass the video the labels belong to")
        store = LabelStore.open(data)
        with Video(video) as clip:
            frames, labels = labelled_frames(clip, store)
        classes = store.classes
    else:
        frames, labels, classes = exported_frames(data, fmt)
    _fit(frames, labels, classes, config, init=init)


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
        bars = []  # made at the first frame tracked, where a resumed run starts

        def progress(index, total):
            if not bars:
                bars.append(progress_bar(total, index, f"tracking ({mode})", unit="frame", delay=None))
            if bars[0] is not None:
                bars[0].update(1)

        try:
            tracked, seconds = track_video(clip, store, tracker, anchors, start=start, stop=stop, progress=progress)
        finally:
            if bars and bars[0] is not None:
                bars[0].close()
    rate = tracked / seconds if seconds > 0 else float("inf")
    echo(f"tracked {tracked} frames in {seconds:.1f} s ({rate:.0f} frames/s); labels in {out}")


@without_tensorflow
@click.command("review")
@VIDEO
@click.option("--labels", "folder", required=True, help="Label folder to review (changes are saved at once).")
@click.option("--sheets", help="Headless: write contact sheets (PNG) to this folder instead of opening the studio.")
@click.option("--every", type=click.IntRange(1, None), default=1, show_default=True, help="Contact sheets: every n-th frame.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --sheets folder.")
@_studio_options
@reports_errors
def review_command(video, folder, sheets, every, overwrite, host, port, open_browser):
    """Review tracked labels in the studio: boxes coloured by source, what most needs a look first; keep, delete, edit.

    Or, with --sheets, write contact sheets of the labelled frames.
    """
    from tfxai.annotate import LabelStore, Video

    store = LabelStore.open(folder)
    if sheets:
        from tfxai.annotate.sessions import write_contact_sheets

        with Video(video) as clip:
            names = write_contact_sheets(clip, store, sheets, every=every, overwrite=overwrite)
        echo(f"wrote {len(names)} contact sheets to {sheets}")
        return
    Video(video).close()  # a readable video, before the server starts
    from tfxai.apps.studio import serve

    serve([folder], host, port, videos={folder: video}, page="/review", item="0/.", open_browser=open_browser)
    reviewed = sum(store.get(frame).reviewed for frame in store.frames())
    echo(f"{reviewed} of {len(store.frames())} frames reviewed in {folder}")


@click.command("export")
@video_argument
@click.option("--labels", "folder", required=True, help="Label folder.")
@click.option("--format", "fmt", type=click.Choice(["yolo", "coco", "voc"]), required=True)
@click.option("--out", required=True, help="Output folder (written only when complete).")
@click.option("--reviewed-only", is_flag=True, help="Only frames marked reviewed (kept) in 'review'.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
@reports_errors
def export_command(video, video_option, folder, fmt, out, reviewed_only, overwrite):
    """Write frames of VIDEO and their boxes as YOLO, COCO or Pascal VOC (for CVAT, Label Studio, YOLO trainers)."""
    from tfxai.annotate import LabelStore, Video
    from tfxai.annotate.formats import export_labels

    video = _the_video(video, video_option)
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


def _parse_inits(inits, option="--init", clip=None):
    """``FRAME:x,y,w,h[:class]`` strings -> {frame: [Label]}; with ``clip``, frames and boxes are checked against the video."""
    from tfxai.annotate import Label
    from tfxai.errors import TfxaiError

    anchors = {}
    for text in inits:
        try:
            parts = text.split(":")
            if len(parts) > 3:
                raise ValueError
            frame, box = int(parts[0]), [float(v) for v in parts[1].split(",")]
            class_id = int(parts[2]) if len(parts) > 2 else 0
        except (ValueError, IndexError):
            raise TfxaiError(f"{option} {text!r} is not FRAME:x,y,w,h[:CLASS] (e.g. 0:120,80,40,90)") from None
        if clip is not None:
            if not 0 <= frame < len(clip):
                raise TfxaiError(f"{option} {text!r}: frame {frame} is outside the video (0 to {len(clip) - 1})")
            if len(box) == 4 and (box[0] < 0 or box[1] < 0 or box[0] + box[2] > clip.width or box[1] + box[3] > clip.height):
                raise TfxaiError(f"{option} {text!r}: the box leaves the {clip.width}x{clip.height} frame")
        labels = anchors.setdefault(frame, [])
        labels.append(Label(box, class_id, len(labels), "hand"))
    return anchors


def _parse_boxes(boxes, option, clip):
    return _parse_inits(boxes, option, clip)
