"""Export formats side by side: latency per image (batch 1) and file size, probabilities only vs + heatmap.

SavedModel (TensorFlow) vs LiteRT float32 vs LiteRT int8 vs ONNX Runtime, for the
demo CNN (small_cnn on the bundled Fashion-MNIST subset, trained briefly here)
and MobileNetV2 at 224x224 (random weights: speed does not depend on them).
Each format's two exports (probabilities only, + heatmap) are timed in interleaved
rounds, one format after the other, so that load from other processes hits the
pair alike and one runtime's threads do not slow another's; medians are reported. Also measures the int8 demo CNN against Keras
on the 600 demo test images: top-1 agreement and the per-image heatmap Pearson r.

    python -P benchmarks/export.py                 # both models
    python -P benchmarks/export.py --rounds 30 --skip-mobilenet
"""

import argparse
import os
import tempfile
import time


def demo_model(epochs):
    import keras

    from tfxai.classify.backbones import build_classifier
    from tfxai.classify.classifier import compile_classifier
    from tfxai.data import load_demo

    (x_train, y_train), (x_test, y_test), _ = load_demo()
    keras.utils.set_random_seed(0)
    model = build_classifier("small_cnn", 10, x_train.shape[1:], weights="none", name="demo")
    compile_classifier(model, 2e-3)
    model.fit(x_train.astype("float32"), y_train, epochs=epochs, batch_size=64, verbose=0)
    accuracy = float(model.evaluate(x_test.astype("float32"), y_test, verbose=0)[1])
    return model, x_train, x_test, accuracy


def runner(kind, folder):
    """A batch-1 callable ``images -> outputs`` in the format's own runtime."""
    import tensorflow as tf

    from tfxai.io.export_litert import litert_interpreter
    from tfxai.io.export_onnx import onnx_session

    if kind == "savedmodel":
        served = tf.saved_model.load(folder).signatures["serving_default"]
        return lambda x: served(images=tf.constant(x))
    if kind.startswith("tflite"):
        run = litert_interpreter(os.path.join(folder, "model.tflite")).get_signature_runner("serving_default")
        return lambda x: run(images=x)
    session = onnx_session(os.path.join(folder, "model.onnx"))
    return lambda x: session.run(None, {"images": x})


VARIANTS = {"savedmodel": ("savedmodel", "none"), "tflite float32": ("tflite", "none"),
            "tflite int8": ("tflite", "int8"), "onnx": ("onnx", "none")}


def bench(name, model, calibration, rounds, scratch, log):
    import numpy as np

    from tfxai.io.export import export

    runs, sizes, cards = {}, {}, {}
    for variant, (kind, quantize) in VARIANTS.items():
        for heatmap in (False, True):
            folder = os.path.join(scratch, f"{name}-{variant.replace(' ', '-')}-{heatmap}")
            started = time.perf_counter()
            card = export(model, folder, format=kind, explain=None if heatmap else False, quantize=quantize,
                          calibration=calibration)
            log(f"  exported {name} {variant} heatmap={heatmap} in {time.perf_counter() - started:.0f} s")
            key = (variant, heatmap)
            runs[key], sizes[key], cards[key] = runner(kind, folder), card["size_bytes"], card
    image = calibration[:1].astype("float32")
    times = {key: [] for key in runs}
    for variant in VARIANTS:  # each format's pair interleaved on its own: TensorFlow's thread pool, still spinning after
        pair = [(key, run) for key, run in runs.items() if key[0] == variant]  # a SavedModel call, would slow the next runtime
        for _, run in pair:
            run(image)  # warm up
        for _ in range(rounds):
            for key, run in pair:
                started = time.perf_counter()
                run(image)
                times[key].append(time.perf_counter() - started)
    rows = []
    for variant in VARIANTS:
        p, h = (1000 * float(np.median(times[(variant, flag)])) for flag in (False, True))
        rows.append(f"| {name} | {variant} | {sizes[(variant, True)] / 1e6:.2f} MB | {p:.2f} ms | {h:.2f} ms | {h / p:.2f}x |")
    return rows, cards


def int8_agreement(model, x_test, folder):
    import numpy as np

    from tfxai.explain import GradCAM
    from tfxai.io.export_litert import litert_interpreter, run_litert
    from tfxai.io.model_card import heatmap_correlations

    test = x_test.astype("float32")
    served = run_litert(litert_interpreter(os.path.join(folder, "model.tflite")), test, batch_size=50)
    heatmaps, probabilities = GradCAM(model).explain(test)
    same = served["class_id"] == np.argmax(probabilities.numpy(), 1)
    r = heatmap_correlations(heatmaps.numpy(), served["heatmap"])
    flips = np.flatnonzero(~same)  # where int8 predicts another class its heatmap explains that class: compare with Keras' map of it
    theirs = GradCAM(model).explain(test[flips], targets=served["class_id"][flips].astype(int))[0].numpy() if len(flips) else None
    r_flips = heatmap_correlations(theirs, served["heatmap"][flips]) if len(flips) else np.ones(0)
    return float(np.mean(same)), r, same, r_flips


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--skip-mobilenet", action="store_true")
    args = parser.parse_args()
    import tfxai  # noqa: F401  (before tensorflow: oneDNN setting)
    import keras
    import numpy as np

    log = print
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        model, x_train, x_test, accuracy = demo_model(args.epochs)
        log(f"demo CNN: {model.count_params():,} parameters, test accuracy {accuracy:.3f} after {args.epochs} epochs")
        calibration = x_train[np.linspace(0, len(x_train) - 1, 300).astype(int)]
        demo_rows, cards = bench("demo CNN 28x28", model, calibration, args.rounds, scratch, log)
        rows += demo_rows
        top1, r, same, r_flips = int8_agreement(model, x_test, os.path.join(scratch, "demo CNN 28x28-tflite-int8-True"))
        f32 = cards[("tflite float32", True)]["size_bytes"]
        i8 = cards[("tflite int8", True)]["size_bytes"]
        float_check = {variant: cards[(variant, True)]["agreement_with_keras"] for variant in VARIANTS}
        if not args.skip_mobilenet:
            keras.utils.set_random_seed(0)
            mobilenet = keras.applications.MobileNetV2(input_shape=(224, 224, 3), weights=None, classes=5)
            images = (np.random.default_rng(0).random((16, 224, 224, 3)) * 255).astype("uint8")
            rows += bench("MobileNetV2 224", mobilenet, images, max(5, args.rounds // 2), scratch, log)[0]
    print("\n| model | format | size | probabilities only | + heatmap | heatmap cost |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nint8 demo CNN vs Keras on the {len(x_test)} demo test images: top-1 agreement {top1:.2%}; "
          f"heatmap Pearson r per image: min {r.min():.3f}, 5th pct {np.percentile(r, 5):.3f}, median {np.median(r):.3f}, "
          f"share >= 0.95: {np.mean(r >= 0.95):.1%}; size {i8 / 1e6:.2f} MB = {i8 / f32:.0%} of float32 ({f32 / 1e6:.2f} MB)")
    low = r < 0.95
    print(f"images with r < 0.95: {low.sum()}, of which the int8 model predicts another class: {np.sum(low & ~same)}; "
          f"images with the same class: min r {r[same].min():.4f}; the {len(r_flips)} flipped images vs Keras' map of "
          f"the class int8 predicts: min r {r_flips.min() if len(r_flips) else float('nan'):.4f}")
    for variant, check in float_check.items():
        print(f"{variant} vs Keras (32 calibration images): max |diff| probabilities {check['max_abs_diff_probabilities']:.1e}, "
              f"heatmap {check['max_abs_diff_heatmap']:.1e}, top-1 {check['top1_agreement']:.0%}")


if __name__ == "__main__":
    main()
