"""``tfxai demo``: train, explain and export on the bundled Fashion-MNIST subset, offline."""

import dataclasses
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tfxai.classify.backbones import build_classifier
from tfxai.classify.classifier import compile_classifier, save_classifier
from tfxai.training.config import RunOptions, option
from tfxai.training.fit import fit, history_csv
from tfxai.data import load_demo
from tfxai.explain import GradCAM
from tfxai.explain.report import explain_batch, write_report
from tfxai.io.export import export_saved_model
from tfxai.io import staged_directory, write_json, write_text

__all__ = ["DemoConfig", "run_demo"]


@dataclasses.dataclass
class DemoConfig(RunOptions):
    """Options of ``tfxai demo``."""

    out: str = option("demo_output", "Output folder (report, model, SavedModel).")
    epochs: int = option(5, "Training epochs.", minimum=1, maximum=1000)
    batch_size: int = 64
    learning_rate: float = 2e-3
    overwrite: bool = option(False, "Replace an existing output folder (only once the new one is complete).")
    explain_images: int = option(64, "Test images to explain.", minimum=1, maximum=600)
    train_images: int = option(3000, hidden=True)


def run_demo(config, log=print, verbose="auto"):
    """Train a small CNN on the demo data, explain test images, export and verify the SavedModel.

    Returns a dict of the measured results (also written to ``results.json``).
    """
    started = time.perf_counter()
    (x_train, y_train), (x_test, y_test), class_names = load_demo()
    x_train, y_train = x_train[: config.train_images], y_train[: config.train_images]
    log(f"demo data: {len(x_train)} training and {len(x_test)} test Fashion-MNIST images, {len(class_names)} classes")
    keras.utils.set_random_seed(config.seed)
    model = build_classifier("small_cnn", len(class_names), x_train.shape[1:], weights="none", dropout=0.2, name="demo_classifier")
    compile_classifier(model, config.learning_rate)
    train = tf.data.Dataset.from_tensor_slices((x_train.astype("float32"), y_train)).shuffle(len(x_train), seed=config.seed)
    train = train.batch(config.batch_size).prefetch(tf.data.AUTOTUNE)
    test = tf.data.Dataset.from_tensor_slices((x_test.astype("float32"), y_test)).batch(256)
    with staged_directory(config.out, overwrite=config.overwrite) as staging:
        log(f"training small_cnn ({model.count_params():,} parameters) for {config.epochs} epochs")
        history = fit(model, train, test, config.epochs, verbose=verbose)
        test_loss, test_accuracy = model.evaluate(test, verbose=0)
        log(f"test accuracy {test_accuracy:.3f}")
        model_dir = os.path.join(staging, "model")
        save_classifier(model, model_dir, class_names)
        write_text(os.path.join(model_dir, "history.csv"), history_csv(history.history))

        log(f"explaining {config.explain_images} test images with Grad-CAM")
        count = min(config.explain_images, len(x_test))
        cam = GradCAM(model)
        names = [f"test_{i:04d}.png" for i in range(count)]
        explanations = explain_batch(cam, x_test[:count], names, y_test[:count])

        log("exporting the SavedModel and checking it against the Keras model")
        saved_model = os.path.join(staging, "saved_model")
        export_saved_model(model, saved_model, explain="gradcam", class_names=class_names)
        served = tf.saved_model.load(saved_model).signatures["serving_default"](images=tf.constant(x_test[:count], tf.float32))
        heatmaps = np.stack([e.heatmap for e in explanations])
        probabilities = np.stack([e.probabilities for e in explanations])
        results = {
            "train_images": int(len(x_train)),
            "test_images": int(len(x_test)),
            "parameters": int(model.count_params()),
            "epochs": config.epochs,
            "test_accuracy": float(test_accuracy),
            "test_loss": float(test_loss),
            "saved_model_max_abs_diff_probabilities": float(np.abs(served["probabilities"].numpy() - probabilities).max()),
            "saved_model_max_abs_diff_heatmap": float(np.abs(served["heatmap"].numpy() - heatmaps).max()),
        }
        results["seconds"] = round(time.perf_counter() - started, 1)
        extra = (
            f"<p>small_cnn ({results['parameters']:,} parameters), {config.epochs} epochs on {len(x_train)} images; "
            f"test accuracy on all {len(x_test)} test images: {test_accuracy:.3f}. SavedModel vs Keras: max |diff| "
            f"probabilities {results['saved_model_max_abs_diff_probabilities']:.2e}, heatmaps "
            f"{results['saved_model_max_abs_diff_heatmap']:.2e}. Total time {results['seconds']} s.</p>"
        )
        write_report(explanations, class_names, os.path.join(staging, "report"), "tfxai demo: Grad-CAM on Fashion-MNIST", extra_html=extra)
        write_json(os.path.join(staging, "results.json"), results)
    log(f"wrote {os.path.abspath(config.out)} (open report/index.html) in {results['seconds']} s")
    return results
