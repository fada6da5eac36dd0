"""ST-ABN vs the 3D ResNet baseline on a real motion task cut from opencv-doc's vtest.avi.

Task ("which way, and when"): a clip is 16 frames of a 48x48 crop of the real
pedestrian video vtest.avi (768x576, 10 fps, static camera, downscaled 4x to
192x144). In each clip only a window of 6 consecutive frames is the real
video playing; the other frames repeat the window's first or last frame, so
the scene stands still before and after. The window starts at a random frame
(0 to 10), known per clip. The class is the direction in which the people in
the crop walk during the window (left / right), measured from the real video
by Farneback optical flow (mean horizontal flow of the moving pixels); crops
without a clear direction are dropped. Mirrored crops (flow sign flipped) are
added so both classes have equal counts. Train on the first 70 % of the
video's frames, test on the last 30 % (no window overlaps the split).

Both models: the small preset's 3D ResNet-10 (stage-1 width 8), same seeds,
data order, epochs, Adam 1e-3, batch 8. Reports top-1 accuracy, the
attention-inversion table of ST-ABN and how its temporal attention lines up
with the known motion frames.

    TF_ENABLE_ONEDNN_OPTS=1 nice -n 10 python -P experiments/st_abn.py --seeds 0 1 2 3 4 --epochs 20 --threads 1 \
        --runs runs_20ep --results results_5seeds.json

Resumable: each (seed, model) writes ``<runs>/<model>_seed<S>.json`` when it
finishes and is skipped when the command is run again; the summary over the
finished runs is written every time. Each epoch's test top-1 is recorded
(``test_top1_by_epoch``) to show whether the accuracy has plateaued; the
reported top-1 is the last epoch's (no selection on the test set).

(oneDNN on: without it a Conv3D training step is ~30x slower on this CPU,
see benchmarks/README.md.)
"""

import argparse
import json
import os
import platform
import time

VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
FRAMES, WINDOW, CROP, SCALE = 16, 6, 48, 4
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "st_abn")


def read_video():
    import cv2
    import numpy as np

    capture = cv2.VideoCapture(VIDEO)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frame = cv2.resize(frame, (frame.shape[1] // SCALE, frame.shape[0] // SCALE), interpolation=cv2.INTER_AREA)
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    return np.stack(frames)


def direction(window):
    """+1 (right), -1 (left) or 0 (unclear) from the mean horizontal Farneback flow of the moving pixels."""
    import cv2
    import numpy as np

    flows = []
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in window]
    for a, b in zip(gray[:-1], gray[1:]):
        flows.append(cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 2, 9, 3, 5, 1.1, 0))
    flow = np.stack(flows)
    moving = np.linalg.norm(flow, axis=-1) > 0.5
    if moving.mean() < 0.02:
        return 0
    dx = float(flow[..., 0][moving].mean())
    return int(np.sign(dx)) if abs(dx) > 0.4 else 0


def make_clips(video, first, last, rng):
    """Clips whose window lies in frames [first, last): (clips uint8, labels, window starts)."""
    import numpy as np

    height, width = video.shape[1:3]
    clips, labels, starts = [], [], []
    for t in range(first, last - WINDOW, 6):
        for y in range(0, height - CROP + 1, CROP // 2):
            for x in range(0, width - CROP + 1, CROP // 2):
                window = video[t : t + WINDOW, y : y + CROP, x : x + CROP]
                sign = direction(window)
                if sign == 0:
                    continue
                start = int(rng.integers(0, FRAMES - WINDOW + 1))
                clip = np.concatenate([np.repeat(window[:1], start, 0), window, np.repeat(window[-1:], FRAMES - WINDOW - start, 0)])
                for mirrored in (False, True):
                    clips.append(clip[:, :, ::-1] if mirrored else clip)
                    labels.append(int((sign > 0) != mirrored))  # 1 = right
                    starts.append(start)
    return np.stack(clips), np.asarray(labels), np.asarray(starts)


def subsample(data, count, rng):
    """At most ``count`` clips, drawn at random (all arrays of ``data`` alike)."""
    keep = rng.permutation(len(data[1]))[:count]
    return tuple(array[keep] for array in data)


def temporal_alignment(weights, starts):
    """How the temporal attention (clips, T) lines up with each clip's motion window."""
    import numpy as np

    inside = np.zeros_like(weights, bool)
    for i, s in enumerate(starts):
        inside[i, s : s + WINDOW] = True
    top = np.argsort(-weights, axis=1)[:, :WINDOW]
    return {
        "argmax_in_window": float(np.mean(inside[np.arange(len(weights)), weights.argmax(1)])),
        "top6_precision": float(np.mean(np.take_along_axis(inside, top, 1))),
        "chance_top6_precision": WINDOW / FRAMES,
        "mean_weight_in_window": float(weights[inside].mean()),
        "mean_weight_outside": float(weights[~inside].mean()),
    }


def run(kind, seed, train, test, epochs, batch, figure=False):
    import keras
    import numpy as np

    from tfxai.video import R3D, STABN, format_inversion_table, inversion_table

    shape = (FRAMES, CROP, CROP, 3)
    keras.utils.set_random_seed(seed)
    if kind == "r3d":
        model = R3D(2, shape, depth=10, base_width=8)
        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    else:
        model = STABN(2, shape, depth=10, base_width=8, attention_filters=16)
        model.compile(keras.optimizers.Adam(1e-3), metrics=["accuracy"])
    order = np.random.default_rng(seed).permutation(len(train[1]))
    start = time.time()
    by_epoch = []

    class TestAccuracy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            scores = self.model.predict(test[0].astype("float32"), batch_size=16, verbose=0)
            by_epoch.append(round(float(np.mean(np.asarray(scores).argmax(1) == test[1])), 4))
            print(f"{kind} seed {seed} epoch {epoch + 1}: test top-1 {by_epoch[-1]:.3f}", flush=True)

    history = model.fit(train[0][order].astype("float32"), train[1][order], batch_size=batch, epochs=epochs, verbose=2, shuffle=True,
                        callbacks=[TestAccuracy()])
    seconds = time.time() - start
    probabilities = model.predict(test[0].astype("float32"), batch_size=16, verbose=0)
    result = {"model": kind, "seed": seed, "parameters": int(model.count_params()), "train_seconds": round(seconds, 1),
              "train_accuracy": float(history.history["accuracy"][-1]), "test_top1": float(np.mean(probabilities.argmax(1) == test[1])),
              "train_accuracy_by_epoch": [round(float(a), 4) for a in history.history["accuracy"]], "test_top1_by_epoch": by_epoch}
    if kind == "st_abn":
        rows = inversion_table(model, test[0], test[1], batch_size=16)
        result["inversion"] = rows
        result["inversion_table"] = format_inversion_table(rows)
        weights = np.concatenate([np.asarray(model.attention(test[0][i : i + 16].astype("float32"))["temporal"]) for i in range(0, len(test[1]), 16)])
        result["temporal"] = temporal_alignment(weights, test[2])
        result["mean_temporal_by_offset"] = [float(v) for v in _by_offset(weights, test[2])]
        if figure:
            _figure(model, test)
    print(json.dumps({k: v for k, v in result.items() if k != "inversion_table"}), flush=True)
    return result


def _by_offset(weights, starts):
    """Mean temporal weight at frame offsets -3..8 from the window start (window = offsets 0-5)."""
    import numpy as np

    means = []
    for offset in range(-3, WINDOW + 3):
        values = [w[s + offset] for w, s in zip(weights, starts) if 0 <= s + offset < FRAMES]
        means.append(np.mean(values))
    return means


def _figure(model, test):
    import numpy as np

    from tfxai.video.explaining import clip_attention
    from tfxai.video.render import write_clip_explanation

    picks = [int(i) for i in np.random.default_rng(0).choice(len(test[1]), 3, replace=False)]
    spatial, temporal, _ = clip_attention(model, test[0][picks].astype("float32"))
    for n, i in enumerate(picks):
        write_clip_explanation(OUT, f"example{n + 1}_window{int(test[2][i])}", test[0][i], spatial[n], temporal[n], video_format="gif", scale=2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--train-clips", type=int, default=1200)
    parser.add_argument("--test-clips", type=int, default=600)
    parser.add_argument("--results", default="results.json", help="File name in experiments/st_abn/.")
    parser.add_argument("--runs", default="runs", help="Folder in experiments/st_abn/ for one file per finished (seed, model).")
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow intra/inter-op threads (0: TensorFlow's default).")
    parser.add_argument("--figures", action="store_true", help="Write the example explanations of the first seed's ST-ABN.")
    args = parser.parse_args()
    import tfxai  # noqa: F401  (before tensorflow)
    import numpy as np
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    from tfxai.io import write_json

    video = read_video()
    split = int(0.7 * len(video))
    rng = np.random.default_rng(0)
    train = subsample(make_clips(video, 0, split, rng), args.train_clips, rng)
    test = subsample(make_clips(video, split, len(video), rng), args.test_clips, rng)
    print(f"train {len(train[1])} clips, test {len(test[1])} clips; right share {train[1].mean():.2f}/{test[1].mean():.2f}", flush=True)
    runs = os.path.join(OUT, args.runs)
    os.makedirs(runs, exist_ok=True)
    results = []
    for seed in args.seeds:
        for kind in ("r3d", "st_abn"):
            path = os.path.join(runs, f"{kind}_seed{seed}.json")
            if os.path.exists(path):
                with open(path, encoding="utf-8") as handle:
                    results.append(json.load(handle))
                print(f"{kind} seed {seed}: done before ({path})", flush=True)
                continue
            results.append(run(kind, seed, train, test, args.epochs, args.batch, figure=args.figures and seed == args.seeds[0]))
            write_json(path, results[-1])
    write_json(os.path.join(OUT, args.results), {
        "data": {"video": VIDEO, "frames": int(len(video)), "train_clips": int(len(train[1])), "test_clips": int(len(test[1])),
                 "clip": [FRAMES, CROP, CROP, 3], "window": WINDOW},
        "settings": vars(args),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "tensorflow": tf.__version__,
                    "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset")},
        "runs": results,
        "summary": summarise(results),
    })


def summarise(results):
    """Mean, standard deviation, min and max over seeds of each model's test top-1 and of each inversion row."""
    import numpy as np

    def spread(values):
        values = np.asarray(values, float)
        return {"mean": round(float(values.mean()), 4), "std": round(float(values.std(ddof=1)), 4) if len(values) > 1 else None,
                "min": round(float(values.min()), 4), "max": round(float(values.max()), 4), "seeds": len(values)}

    summary = {kind: spread([r["test_top1"] for r in results if r["model"] == kind]) for kind in ("r3d", "st_abn")}
    inverted = [r["inversion"] for r in results if r["model"] == "st_abn"]
    if inverted:
        summary["inversion"] = [{"spatial_inverted": row["spatial_inverted"], "temporal_inverted": row["temporal_inverted"],
                                 "top1": spread([rows[i]["top1"] for rows in inverted])} for i, row in enumerate(inverted[0])]
    return summary


if __name__ == "__main__":
    main()
