"""One training step of every tfxai train_step under float32, mixed_bfloat16 and mixed_float16, side by side.

Usage::

    nice -n 10 python -P benchmarks/mixed_precision.py [--rounds 5] [--json results.json]

The models are the tiny ones of the tests (tests/distribute/tiny_methods.py:
16-px images, a few filters, batch 8, plain SGD), built from the same seed under
each policy, so the first step's loss is comparable across policies. After one
warm-up step per model (tracing excluded) the policies' models are stepped in
interleaved rounds (float32, bfloat16, float16, float32, ...) so other load hits
them alike; the table gives medians in milliseconds. ST-ABN has no float16 row
(TensorFlow has no float16 MaxPool3D kernel on CPU).
"""

import argparse
import importlib.util
import json
import os
import statistics
import time

import tfxai  # noqa: F401  (before tensorflow: oneDNN setting)

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfxai.training.precision import mixed_precision  # noqa: E402

PRECISIONS = ("off", "bfloat16", "float16")


def tiny_methods():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "distribute", "tiny_methods.py")
    spec = importlib.util.spec_from_file_location("tiny_methods", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def first_loss(logs):
    for key in ("loss", "g_loss", "g_cycle"):
        if key in logs:
            return key, float(logs[key])
    raise KeyError(sorted(logs))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    tiny = tiny_methods()
    rows = {}
    for name, make in tiny.METHODS.items():
        build, data = make()
        batch = keras.tree.map_structure(lambda array: array[:tiny.GLOBAL_BATCH], data if len(data) > 1 else data[0])
        steps, results = {}, {}
        for precision in PRECISIONS:
            if precision == "float16" and name == "st_abn":
                continue
            with mixed_precision(precision):
                keras.utils.set_random_seed(0)
                model = build()
                logs = model.fit(tf.data.Dataset.from_tensors(batch), verbose=0).history
                key, loss = first_loss({k: v[-1] for k, v in logs.items()})
            function = model.make_train_function()
            iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
            steps[precision] = (model, function, iterator)
            results[precision] = {"first_step_" + key: loss, "times": []}
        for _ in range(args.rounds):
            for precision, (model, function, iterator) in steps.items():
                start = time.perf_counter()
                function(iterator)
                results[precision]["times"].append(time.perf_counter() - start)
        rows[name] = {precision: {"median_ms": 1000 * statistics.median(r.pop("times")), **r} for precision, r in results.items()}
    print("| method | first-step loss float32 / bfloat16 / float16 | step ms float32 | bfloat16 | float16 |")
    print("|---|---|---:|---:|---:|")
    for name, row in rows.items():
        losses = " / ".join(f"{next(v for k, v in row[p].items() if k.startswith('first_step_')):.4f}" if p in row else "—" for p in PRECISIONS)
        times = " | ".join(f"{row[p]['median_ms']:.0f}" if p in row else "—" for p in PRECISIONS)
        print(f"| {name} | {losses} | {times} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=1)


if __name__ == "__main__":
    main()
