"""int8 LiteRT export of the demo CNN: which variant removes the top-1 flips (and so the heatmaps with r < 0.95)?

For each variant: flips /600, min r and count below 0.95 (and r of the flipped images against Keras' map of the
class int8 predicts), logit RMSE vs Keras, size % of float32, batch-1 latency (median of 30, interleaved with the
current default). The demo CNN is benchmarks/export.py's (small_cnn, 2 epochs, seed 0), cached as a .keras file.

    python -P experiments/int8_variants.py [--only NAME ...] [--rounds 30]
"""

import argparse
import os
import sys
import tempfile
import time

import tfxai  # noqa: F401  (before tensorflow: oneDNN setting)
import keras
import numpy as np
import tensorflow as tf
from tensorflow.lite.python import convert as tfl_convert

from tfxai.data import load_demo
from tfxai.explain import GradCAM
from tfxai.io.export import portable_function
from tfxai.io.export_litert import FLOAT_SCOPE, litert_interpreter, run_litert
from tfxai.io.model_card import heatmap_correlations

SCRATCH = os.path.join(tempfile.gettempdir(), "tfxai_int8_variants")  # the cached demo CNN and the exports
MODEL = os.path.join(SCRATCH, "demo_cnn.keras")


def demo_model():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
    from export import demo_model as train

    if os.path.exists(MODEL):
        return keras.models.load_model(MODEL)
    model, *_ , accuracy = train(2)
    print(f"trained demo CNN, test accuracy {accuracy:.3f}")
    model.save(MODEL)
    return model


def saved_model(model, folder, head_in_float=False):
    """The analytic portable function as a SavedModel; ``head_in_float``: GAP + Dense logits also under FLOAT_SCOPE."""
    if os.path.exists(folder):
        return folder
    spec = tf.TensorSpec([None, 28, 28, 1], tf.float32, name="images")
    serve = portable_function(model, None, None, None)
    if head_in_float:
        serve = float_head_function(model)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve, input_signature=[spec])
    archive.write_out(folder, verbose=False)
    return folder


def float_head_function(model):
    """Like the analytic Grad-CAM serving function, but GAP + Dense + softmax computed under FLOAT_SCOPE too."""
    from tfxai.explain import get_method
    from tfxai.explain.cam import combine, normalize, upsample
    from tfxai.explain.layers import score_layer
    from tfxai.explain.targets import predicted_classes

    cam = get_method("gradcam")(model, None)
    dense = score_layer(model)
    features_model = keras.Model(cam.view.inputs, cam.view.outputs[0])

    def serve(images):
        images = tf.reshape(images, [-1, 28, 28, 1])
        features = features_model(tf.cast(images, tf.float32), training=False)
        with tf.name_scope(FLOAT_SCOPE):
            pooled = tf.reduce_mean(features, axis=[1, 2])
            scores = tf.matmul(pooled, dense.kernel) + dense.bias
            class_ids = predicted_classes(scores)
            column = tf.gather(tf.transpose(tf.convert_to_tensor(dense.kernel)), class_ids)
            gradients = tf.ones_like(features) * tf.reshape(column / 49.0, [-1, 1, 1, 128])
            heatmaps = combine(features, cam.channel_weights(features, gradients, class_ids), relu=cam.relu)
            heatmaps = normalize(upsample(heatmaps, images.shape[1:-1]))
            probabilities = tf.nn.softmax(scores)
        return {"probabilities": probabilities, "class_id": class_ids, "heatmap": tf.cast(heatmaps, tf.float32)}

    return serve


def calibrated(folder, images, **flags):
    def representative():
        for image in images:
            yield [image[None].astype("float32")]

    converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=["serving_default"])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter._experimental_calibrate_only = True
    for key, value in flags.items():
        setattr(converter, key, value)
    return converter.convert()


def tensor_names(flat, pattern):
    return [t["name"] for t in tf.lite.Interpreter(model_content=flat).get_tensor_details() if pattern(t["name"])]


def quantize(calibrated_model, denylist=(), denylisted_ops=(), per_channel=True, per_channel_dense=True):
    names = tensor_names(calibrated_model, lambda n: f"{FLOAT_SCOPE}/" in n or any(d in n for d in denylist))
    return tfl_convert.mlir_quantize(calibrated_model, disable_per_channel=not per_channel, fully_quantize=False,
                                     denylisted_nodes=names, denylisted_ops=list(denylisted_ops),
                                     disable_per_channel_for_dense_layers=not per_channel_dense)


def after_feature_map(calibrated_model):
    """Output names of every op downstream of the feature map (the activation entering the float scope from outside)."""
    interpreter = tf.lite.Interpreter(model_content=calibrated_model)
    names = {t["index"]: t["name"] for t in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()
    producer = {int(o): op for op in ops for o in op["outputs"]}
    in_scope = lambda op: any(f"{FLOAT_SCOPE}/" in names.get(int(o), "") for o in op["outputs"])  # noqa: E731
    entering = {int(i) for op in ops if in_scope(op) for i in op["inputs"]
                if int(i) in producer and not in_scope(producer[int(i)])}
    # the feature map: entering activations whose producer is not itself downstream of another entering tensor
    frontier, downstream = set(entering), set()
    while frontier:
        tensor = frontier.pop()
        for op in ops:
            if tensor in {int(i) for i in op["inputs"]}:
                for o in op["outputs"]:
                    if int(o) not in downstream:
                        downstream.add(int(o))
                        frontier.add(int(o))
    return sorted({names[t] for t in downstream})


def quantize_after(calibrated_model):
    names = after_feature_map(calibrated_model)
    return tfl_convert.mlir_quantize(calibrated_model, fully_quantize=False, denylisted_nodes=names)


def with_ranges(calibrated_model, images, percentile):
    """The calibrated model with each activation's recorded max replaced by a percentile of the per-image maxima
    (min likewise, from the other side): TF's MinMax keeps the extreme over all images."""
    from tensorflow.lite.tools import flatbuffer_utils

    interpreter = tf.lite.Interpreter(model_content=calibrated_model, experimental_preserve_all_tensors=True)
    details = interpreter.get_tensor_details()
    model = flatbuffer_utils.convert_bytearray_to_object(calibrated_model)
    tensors = model.subgraphs[0].tensors
    recorded = [i for i, t in enumerate(tensors) if t.quantization is not None and t.quantization.min is not None
                and len(t.quantization.min) == 1]
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    lows, highs = {i: [] for i in recorded}, {i: [] for i in recorded}
    for image in images:
        interpreter.set_tensor(input_index, image[None].astype("float32"))
        interpreter.invoke()
        for i in recorded:
            try:
                value = interpreter.get_tensor(i)
            except ValueError:
                continue
            lows[i].append(float(value.min()))
            highs[i].append(float(value.max()))
    for i in recorded:
        if highs[i]:
            q = tensors[i].quantization
            q.min = [min(0.0, float(np.percentile(lows[i], 100 - percentile)))] if q.min[0] < 0 else q.min
            q.max = [float(np.percentile(highs[i], percentile))]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def via_export(model, images):
    from tfxai.io.export import export

    folder = tempfile.mkdtemp(dir=SCRATCH)
    card = export(model, os.path.join(folder, "x"), format="tflite", quantize="int8", calibration=images)
    with open(os.path.join(folder, "x", card["file"]), "rb") as handle:
        return handle.read()


def float32_flat(folder):
    converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=["serving_default"])
    return converter.convert()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    os.makedirs(SCRATCH, exist_ok=True)
    model = demo_model()
    (x_train, _), (x_test, _), _ = load_demo()
    test = x_test.astype("float32")
    heatmaps, probabilities = GradCAM(model).explain(test)
    heatmaps, probabilities = heatmaps.numpy(), probabilities.numpy()
    keras_class = probabilities.argmax(1)
    keras_logit_values = keras_logits_of(model, test)
    keras_logits = keras_logit_values
    top2 = np.sort(keras_logits, 1)
    margin = top2[:, -1] - top2[:, -2]
    sm = saved_model(model, os.path.join(SCRATCH, "sm"))
    f32 = float32_flat(sm)
    default_cal = x_train[np.linspace(0, len(x_train) - 1, 300).astype(int)]
    per_class = []  # stratified: 30 per class, spread over each class' images
    y_train = load_demo()[0][1]
    for c in range(10):
        idx = np.flatnonzero(y_train == c)
        per_class.append(idx[np.linspace(0, len(idx) - 1, 30).astype(int)])
    stratified = x_train[np.sort(np.concatenate(per_class))]

    cal = {}
    def cal_of(key, images, folder=sm, **flags):
        if key not in cal:
            started = time.perf_counter()
            cal[key] = calibrated(folder, images, **flags)
            print(f"  calibrated {key} in {time.perf_counter() - started:.0f} s", flush=True)
        return cal[key]

    variants = {
        "default (300 evenly spaced, per-channel)": lambda: quantize(cal_of("300", default_cal)),
        "tfxai export() int8 (new default)": lambda: via_export(model, default_cal),
        "calib all 3000 train": lambda: quantize(cal_of("3000", x_train)),
        "calib stratified 30/class": lambda: quantize(cal_of("strat", stratified)),
        "calib 100": lambda: quantize(cal_of("100", x_train[np.linspace(0, len(x_train) - 1, 100).astype(int)])),
        "per-tensor weights": lambda: quantize(cal_of("300", default_cal), per_channel=False),
        "per-tensor dense only": lambda: quantize(cal_of("300", default_cal), per_channel_dense=False),
        "old quantizer (experimental_new_quantizer=False)": lambda: old_quantizer(sm, default_cal),
        "float head (GAP+Dense under float scope)": lambda: quantize(cal_of("head", default_cal, saved_model(model, os.path.join(SCRATCH, "sm_head"), True))),
        "float head + calib 3000": lambda: quantize(cal_of("head3000", x_train, saved_model(model, os.path.join(SCRATCH, "sm_head"), True))),
        "float block1 (denylist block1)": lambda: quantize(cal_of("300", default_cal), denylist=("block1_",)),
        "probe: float block3 (all of it)": lambda: quantize(cal_of("300", default_cal), denylist=("block3_",)),
        "probe: float block2+3": lambda: quantize(cal_of("300", default_cal), denylist=("block2_", "block3_")),
        "probe: float after block1_conv1": lambda: quantize(cal_of("300", default_cal), denylist=("block1_bn1", "block1_relu1", "block1_conv2", "block1_bn2", "block1_relu2", "block1_pool", "block2_", "block3_")),
        "dynamic range (int8 weights, float activations)": lambda: dynamic(sm),
        "float after the feature map (head, argmax, softmax)": lambda: quantize_after(cal_of("300", default_cal)),
        "float after the feature map + calib 3000": lambda: quantize_after(cal_of("3000", x_train)),
        "float after the feature map + stratified": lambda: quantize_after(cal_of("strat", stratified)),
        "float after the feature map, ranges p50 of per-image max": lambda: quantize_after(with_ranges(cal_of("300", default_cal), default_cal, 50)),
        "float after the feature map, ranges p90 of per-image max": lambda: quantize_after(with_ranges(cal_of("300", default_cal), default_cal, 90)),
        "float after the feature map, ranges p99 of per-image max": lambda: quantize_after(with_ranges(cal_of("300", default_cal), default_cal, 99)),
        "float after the feature map, 3000 images, ranges p90": lambda: quantize_after(with_ranges(cal_of("3000", x_train), x_train, 90)),
        "float after the feature map + calib 100": lambda: quantize_after(cal_of("100", x_train[np.linspace(0, len(x_train) - 1, 100).astype(int)])),
        "float16 weights": lambda: dynamic(sm, float16=True),
        "float32 (sanity)": lambda: f32,
        "float block3_conv2 (size probe)": lambda: quantize(cal_of("300", default_cal), denylist=("block3_conv2", "block3_bn2", "block3_relu2")),
    }
    if args.only:
        variants = {k: v for k, v in variants.items() if any(o in k for o in args.only) or k.startswith("default")}
    flats, rows = {}, {}
    for name, make in variants.items():
        started = time.perf_counter()
        try:
            flats[name] = make()
        except Exception as error:  # noqa: BLE001
            print(f"{name}: FAILED {str(error).splitlines()[0][:200]}", flush=True)
            continue
        print(f"  built {name} in {time.perf_counter() - started:.0f} s", flush=True)
        served = run_litert(litert_interpreter(flats[name]), test, batch_size=50)
        r = heatmap_correlations(heatmaps, served["heatmap"])
        same = served["class_id"] == keras_class
        flips = np.flatnonzero(~same)
        r_flip = np.ones(0)
        if len(flips):
            theirs = GradCAM(model).explain(test[flips], targets=served["class_id"][flips].astype(int))[0].numpy()
            r_flip = heatmap_correlations(theirs, served["heatmap"][flips])
        error = softmax_logits(flats[name], test) - keras_logits
        rmse = float(np.sqrt(np.mean(error ** 2)))
        # margin error: the change of (Keras' class - runner-up) logit difference, the quantity a flip needs to exceed the margin
        runner_up = np.argsort(keras_logit_values, 1)[:, -2]
        rows_ = np.arange(len(test))
        margin_error = np.abs(error[rows_, keras_class] - error[rows_, runner_up])
        rows[name] = dict(flips=len(flips), min_r=float(r.min()), below=int((r < 0.95).sum()), rmse=rmse, margin_err_median=float(np.median(margin_error)), margin_err_p99=float(np.percentile(margin_error, 99)),
                          size=len(flats[name]) / len(f32), flip_margins=np.round(margin[flips], 3).tolist(),
                          flip_ids=flips.tolist(), r_flip=float(r_flip.min()) if len(r_flip) else float("nan"))
        print(f"{name}: {rows[name]}", flush=True)
    # latency: batch 1, interleaved rounds, the default first in each round
    runners = {name: litert_interpreter(flat).get_signature_runner("serving_default") for name, flat in flats.items()}
    times = {name: [] for name in runners}
    image = test[:1]
    for run in runners.values():
        run(images=image)
    for round_ in range(args.rounds):
        for name, run in runners.items():
            started = time.perf_counter()
            run(images=test[round_ % 600][None])
            times[name].append(time.perf_counter() - started)
    print(f"\nfloat32 file {len(f32) / 1e6:.3f} MB; Keras logit margins: min {margin.min():.4f}, median {np.median(margin):.2f}; "
          f"images with margin < 0.01 / 0.02 / 0.05: {(margin < 0.01).sum()} / {(margin < 0.02).sum()} / {(margin < 0.05).sum()}")
    print("| variant | flips /600 | min r | r < 0.95 | flipped: r vs Keras map of int8's class | logit RMSE | margin error median / p99 | size % f32 | ms batch 1 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['flips']} | {row['min_r']:.3f} | {row['below']} | {row['r_flip']:.4f} | {row['rmse']:.4f} | {row['margin_err_median']:.4f} / {row['margin_err_p99']:.4f} | "
              f"{100 * row['size']:.1f} | {1000 * np.median(times[name]):.3f} |")
    for name, row in rows.items():
        print(name, "flipped images", row["flip_ids"], "Keras margins", row["flip_margins"])


def keras_logits_of(model, images):
    from tfxai.explain import get_method

    view = get_method("gradcam")(model, None).view  # (features, scores before the output squash)
    return np.concatenate([view(images[i:i + 100], training=False)[1].numpy() for i in range(0, len(images), 100)])


def softmax_logits(flat, images):
    """The (dequantized) input of the LiteRT file's SOFTMAX op: the logits it computed."""
    interpreter = tf.lite.Interpreter(model_content=flat, experimental_preserve_all_tensors=True)
    ops = interpreter._get_ops_details()
    softmax = [op for op in ops if op["op_name"] == "SOFTMAX"][0]
    index = int(softmax["inputs"][0])
    # walk back through DEQUANTIZE/QUANTIZE to the producing tensor (keep the softmax input as is: it is what was compared)
    detail = [t for t in interpreter.get_tensor_details() if t["index"] == index][0]
    scale, zero = detail["quantization"]
    out = []
    input_index = interpreter.get_input_details()[0]["index"]
    interpreter.allocate_tensors()
    for image in images:
        interpreter.set_tensor(input_index, image[None])
        interpreter.invoke()
        value = interpreter.get_tensor(index).astype("float64")
        out.append((value - zero) * scale if scale else value)
    return np.concatenate(out)


def dynamic(folder, float16=False):
    converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=["serving_default"])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if float16:
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def old_quantizer(folder, images):
    def representative():
        for image in images:
            yield [image[None].astype("float32")]

    converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=["serving_default"])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.experimental_new_quantizer = False
    return converter.convert()


if __name__ == "__main__":
    main()
