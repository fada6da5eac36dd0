"""Peak memory of ``tfxai evaluate attention`` and ``tfxai tta`` for 2,000 vs 20,000 images of the same kind (issue 27: ratio <= 1.2).

Usage::

    nice -n 10 python -P benchmarks/stream_memory.py [--counts 2000 20000] [--commands evaluate tta] [--old] [--keep DIR]

The images, the folders of the first N of them and the measurement are those
of :mod:`explain_memory` (imported, not copied): opencv-doc's 20x20 digit tiles
in ten class folders (the first N taken from every class alike). Each count is run by the app in a subprocess and its peak
RSS (VmHWM, polled) and wall time are printed.

- ``evaluate``: ``tfxai evaluate attention --limit N --thresholds 3 --step 100``
  (both modes, Grad-CAM maps) of explain_memory's tiny CNN (20x20x1, one 3x3
  convolution of 8 filters): insertion/deletion makes 6 forward passes of every
  image (threshold mode) and one of 10 masked copies per image (rise mode).
- ``tta``: ``tfxai tta --n 2`` with an untrained tiny StarGAN v2 (16 px, the
  ``tiny`` width, saved by this script: memory and time do not depend on its
  weights) and the tiny CNN at 16x16 as the classifier.

``--old`` also runs the code before streaming in a subprocess: every image in
one array (``load_labelled_images`` / ``load_domain``), then the same computation
on all of them at once, as the apps did.
"""

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # explain_memory beside this file (run with -P)
from explain_memory import count_table, save_model, subset, write_images  # noqa: E402

OLD_EVALUATE = """
import sys, numpy as np
import tfxai
from tfxai.attention.evaluation import attention_source, topk_accuracy
from tfxai.data import load_labelled_images
from tfxai.explain.protocol import explain_in_batches
from tfxai.io import load_model
from tfxai.metrics import insertion_deletion
model_path, folder = sys.argv[1:3]
model, _ = load_model(model_path)
data = load_labelled_images(folder, 20, 1, split="test")
images = data.images.astype(np.float32)
maps, probabilities = explain_in_batches(attention_source(model, "gradcam"), images, 64)
predict = lambda batch: np.asarray(model(batch, training=False))
for mode in ("threshold", "rise"):
    insertion_deletion(predict, images, data.labels, maps, mode=mode, thresholds=np.linspace(0, 1, 3), step=100, batch_size=64)
print(topk_accuracy(probabilities, data.labels, 1))
"""

OLD_TTA = """
import sys, numpy as np
import tfxai
import tensorflow as tf
from tfxai.classify.classifier import load_classifier
from tfxai.gan.stargan.data import load_domain
from tfxai.gan.stargan.training import _input_adapter, load_translator
from tfxai.gan.stargan.tta import StyleTTA
from tfxai.training.determinism import seed_everything
classifier_path, translator_path, folder = sys.argv[1:4]
classifier, _ = load_classifier(classifier_path)
translator = load_translator(translator_path)
domain = load_domain(folder, translator.image_size)
domain.images = np.asarray(domain.images)  # the old path: every image read into one array (load_domain now keeps paths)
adapted = _input_adapter(classifier, (16, 16), 1)
seed_everything(0)
for n in (0, 1, 2):
    tta = StyleTTA(adapted, translator.generator_ema, translator.mapping_ema, n=n)
    batches = np.array_split(domain.images, max(len(domain.images) // 64, 1))
    predictions = np.concatenate([np.argmax(tta(tf.constant(b, tf.float32)), -1) for b in batches])
    print(n, float(np.mean(predictions == domain.labels)))
"""


def interleaved(paths):
    """``paths`` reordered to cycle through the class folders, so the first N images hold every class (N/10 each)."""
    by_class = {}
    for path in paths:
        by_class.setdefault(os.path.dirname(path), []).append(path)
    return [path for group in zip(*by_class.values()) for path in group]


def save_translator(root):
    """An untrained tiny StarGAN v2 (16 px) as a .keras file."""
    import tfxai  # noqa: F401  (before TensorFlow)
    import keras

    from tfxai.gan.stargan import StarGANv2

    keras.utils.set_random_seed(0)
    path = os.path.join(root, "translator.keras")
    StarGANv2(16, 2, preset="tiny").save(path)
    return path


def commands(kind, models, folder, count, out, old):
    """The command line of ``kind`` (evaluate or tta) on the first ``count`` images, streamed or ``old``."""
    app = os.path.join(os.path.dirname(sys.executable), "tfxai")
    if kind == "evaluate":
        if old:
            return [sys.executable, "-c", OLD_EVALUATE, models["evaluate"], folder]
        return [app, "evaluate", "attention", "--model", models["evaluate"], "--data", folder, "--out", out, "--limit", str(count),
                "--method", "gradcam", "--thresholds", "3", "--step", "100", "--quiet"]
    if old:
        return [sys.executable, "-c", OLD_TTA, models["classifier"], models["translator"], folder]
    return [app, "tta", "--classifier", models["classifier"], "--translator", models["translator"], "--data", folder, "--n", "2",
            "--quiet"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--commands", nargs="+", choices=["evaluate", "tta"], default=["evaluate", "tta"])
    parser.add_argument("--old", action="store_true", help="Also measure the in-memory path of before streaming.")
    parser.add_argument("--keep", default=None, help="Work in this folder and keep it (default: a temporary folder).")
    args = parser.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="stream_memory.")
    os.makedirs(root, exist_ok=True)
    try:
        paths, source = write_images(os.path.join(root, "all"), max(*args.counts, 5000))  # every digit at least once
        paths = interleaved(paths)
        folders = {count: subset(root, paths, count) for count in args.counts}
        models = {"evaluate": save_model(root)}
        if "tta" in args.commands:
            os.makedirs(os.path.join(root, "tta"))
            models["classifier"] = save_model(os.path.join(root, "tta"), 16)
            models["translator"] = save_translator(root)
        print(f"{source}; python {sys.version.split()[0]}")
        for kind in args.commands:
            for label, old in [("streamed", False)] + ([("old (all in memory)", True)] if args.old else []):
                count_table(f"{kind}, {label}", args.counts, root, f"{kind}_{label.split()[0]}",
                            lambda count, out: commands(kind, models, folders[count], count, out, old))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
