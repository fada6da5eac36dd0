"""Every training app fits through the one fit: a NaN loss is one line naming the term, exit 2 and nothing written;
an exact iteration count trains exactly that many steps, also after a resume."""

import json
import os
import re

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from tfxai.apps.cli import main
from tfxai.gan.stargan import training as stargan_training
from tfxai.testing import Interrupted, InterruptAt, one_line_error, write_moving_square_video, write_sliding_box_video
from tfxai.training.fit import fit
from tfxai.training.resume import backup_folder

NAN_LINE = re.compile(r"^error: training stopped at epoch \d+, batch \d+: the (?P<terms>[a-z_0-9, ]+) became NaN or infinite; \S")


# === Tiny data for every app ===


def write_images(folder, count, seed, size=16, channels=3, bright=None):
    os.makedirs(folder)
    rng = np.random.default_rng(seed)
    for i in range(count):
        low, high = (0, 256) if bright is None else ((128, 256) if bright else (0, 128))
        cv2.imwrite(str(folder / f"{i}.png"), rng.integers(low, high, (size, size, channels)).astype("uint8"))


def image_classes(root, count=6):
    for index, name in enumerate(("a", "b")):
        if not os.path.isdir(root / name):
            write_images(root / name, count, index, bright=bool(index))
    return root


def signal_npz(path, count=12):
    rng = np.random.default_rng(0)
    signals = [np.stack([np.sin(np.arange(48) / (2 + 2 * (i % 2))), rng.normal(size=48)], axis=1) for i in range(count)]
    np.savez(path, X=np.concatenate(signals).astype("float32"), lengths=[48] * count, y=["fast", "slow"] * (count // 2))
    return path


def tiny_classifier(path, shape, classes=3):
    """Two layers: at a learning rate of 1e20 their product (about 1e40) overflows float32, which one layer's weights do not."""
    model = keras.Sequential([keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(classes, activation="softmax")])
    model.save(str(path))
    return path


def labelled_video(root):
    """A 12-frame video of a moving square and a label folder with its box hand-labelled on 4 frames."""
    from tfxai.annotate import LabelStore
    from tfxai.annotate.labels import Label

    path = write_sliding_box_video(root / "clip.avi")
    store = LabelStore(root / "labels", classes=["box"])
    for t in (0, 3, 6, 9):
        store.put(t, [Label((10 + 3 * t, 20, 16, 16))])
    return path, root / "labels"


def app_arguments(app, root):
    """``(arguments, output path)`` of ``app`` trained on tiny data in ``root`` at learning rate 1e20."""
    out = root / "out"
    images = ["--data", str(image_classes(root / "images")), "--out", str(out), "--preset", "small", "--image-size", "16",
              "--epochs", "1", "--batch-size", "4", "--validation-split", "0", "--learning-rate", "1e20", "--no-export", "--quiet"]
    gan = ["--data", str(image_classes(root / "images")), "--image-size", "8", "--channels", "1", "--latent-dim", "4", "--filters", "2",
           "--batch-size", "4", "--epochs", "1", "--score-images", "10", "--generators", "2", "--learning-rate", "1e20", "--quiet",
           "--out", str(out)]
    if app == "classifier":
        return ["train", "classifier", *images], out
    if app == "abn":
        return ["train", "abn", *images, "--no-cot"], out
    if app == "gain":
        return ["train", "gain", *images, "--hidden", "8"], out
    if app == "video":
        for label, direction in (("left", -1), ("right", 1)):
            os.makedirs(root / "videos" / label)
            for i in range(3):
                write_moving_square_video(root / "videos" / label / f"{i}.avi", frames=10, direction=direction, seed=i)
        return ["train", "video", "--data", str(root / "videos"), "--out", str(out), "--preset", "small", "--frames", "4", "--stride", "2",
                "--image-size", "16", "--base-width", "2", "--epochs", "1", "--batch-size", "2", "--validation-split", "0",
                "--learning-rate", "1e20", "--no-export", "--quiet"], out
    if app == "signal":
        return ["train", "signal", "--data", str(signal_npz(root / "signals.npz")), "--out", str(out), "--preset", "small",
                "--window", "16", "--step", "8", "--train-step", "8", "--epochs", "1", "--batch-size", "8", "--filters", "4",
                "--learning-rate", "1e20", "--no-export", "--quiet"], out
    if app == "mixed":
        x = np.random.default_rng(0).integers(0, 256, (24, 8, 8)).astype("uint8")
        np.savez(root / "train.npz", x=x, y=(x.mean(axis=(1, 2)) > 127).astype("int64"), class_names=np.array(["dark", "light"]))
        teacher = tiny_classifier(root / "teacher.keras", (8, 8, 1), classes=2)
        return ["train", "mixed", "--data", str(root / "train.npz"), "--teacher", str(teacher), "--out", str(out), "--fraction", "0.25",
                "--epochs", "1", "--batch-size", "4", "--generation-steps", "2", "--learning-rate", "1e20", "--no-export"], out
    if app == "stargan":
        for label, bright in (("dark", False), ("light", True)):
            write_images(root / "source" / label, 4, bright, bright=bright)
        write_images(root / "target", 4, 5, bright=True)
        return ["train", "stargan", "--source", str(root / "source"), "--target", str(root / "target"), "--out", str(out),
                "--class-aware", "--iterations", "3", "--no-export", "--quiet"], out
    if app == "collab-gan":
        return ["train", "collab-gan", *gan], out
    if app == "search-gates":
        classifier = tiny_classifier(root / "classifier.keras", (8, 8, 1))
        return ["search", "gates", *gan, "--classifier", str(classifier), "--trials", "1", "--trial-epochs", "1"], out
    video, labels = labelled_video(root)
    detector = ["--out", str(root / "detector.keras"), "--input-size", "64", "--width", "4", "--search-size", "64", "--samples", "16",
                "--epochs", "1", "--batch-size", "4", "--learning-rate", "1e20"]
    if app == "annotate-pretrain":
        return ["annotate", "pretrain", "--video", video, "--labels", str(labels), "--min-boxes", "1", *detector], root / "detector.keras"
    return ["annotate", "train", "--data", str(labels), "--format", "labels", "--video", video, *detector], root / "detector.keras"


APPS = ["classifier", "abn", "gain", "video", "signal", "mixed", "stargan", "collab-gan", "search-gates", "annotate-pretrain",
        "annotate-train"]


@pytest.mark.parametrize("app", APPS)
def test_a_nan_loss_stops_every_app_with_one_line_naming_the_term_and_writes_nothing(app, tmp_path, monkeypatch):
    if app == "stargan":  # the app has no --learning-rate: its model is compiled at 1e20 instead of the official 1e-4
        build = stargan_training.build_stargan

        def build_at_a_huge_rate(config, num_classes):
            model = build(config, num_classes)
            model.compile(learning_rate=1e20)
            return model

        monkeypatch.setattr(stargan_training, "build_stargan", build_at_a_huge_rate)
        tiny = {"image_size": 16, "width": "tiny", "batch_size": 4, "iterations": 3}
        monkeypatch.setitem(stargan_training.STARGAN_PRESETS, "small", tiny)
    arguments, out = app_arguments(app, tmp_path)
    error = one_line_error(CliRunner().invoke(main, arguments))
    match = NAN_LINE.match(error)
    assert match, error
    terms = match["terms"].split(", ")
    if app == "stargan":  # its terms are named without "loss", and it has no --learning-rate to advise
        assert set(terms) <= {"d_real", "d_fake", "d_r1", "g_adv", "g_style", "g_diversity", "g_cycle", "task", "semantic"}, error
        assert "--learning-rate" not in error
    elif app in ("collab-gan", "search-gates"):
        assert set(terms) <= {"d_loss", "g_loss"}, error
    else:
        assert all("loss" in term for term in terms), error
    assert not os.path.exists(out), f"{app} wrote {out}"
    assert not os.path.exists(backup_folder(out)), f"{app} left its backup {backup_folder(out)} behind"


# === An exact number of iterations ===


def counting_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(1e-3), "mse")
    return model


def endless(done, steps):
    """An endless stream of 2-sample batches, advanced by the ``done`` epochs of ``steps`` batches."""
    data = tf.data.Dataset.from_tensors((np.ones((2, 2), "float32"), np.zeros((2, 1), "float32"))).repeat()
    return data.skip(done * steps)


def test_iterations_that_are_no_multiple_of_the_epoch_train_exactly_that_many_steps(tmp_path):
    model = counting_model()
    history = fit(model, lambda done: endless(done, 100), None, steps_per_epoch=100, iterations=150, verbose=0)
    assert int(model.optimizer.iterations) == 150
    assert len(history.epoch) == 2  # 100 + a last epoch of 50


def test_iterations_stay_exact_across_an_interruption_and_a_resume(tmp_path):
    backup = backup_folder(tmp_path / "run")
    model = counting_model()
    with pytest.raises(Interrupted):  # dies when the second epoch begins, after the first epoch's backup
        fit(model, lambda done: endless(done, 100), None, callbacks=[InterruptAt(1)], steps_per_epoch=100, iterations=150, verbose=0,
            backup=backup, options={"run": 1})
    assert json.loads(open(os.path.join(backup, "state.json")).read())["epoch"] == 1
    model = counting_model()
    history = fit(model, lambda done: endless(done, 100), None, steps_per_epoch=100, iterations=150, verbose=0, backup=backup,
                  options={"run": 1})
    assert int(model.optimizer.iterations) == 150
    assert len(history.history["loss"]) == 2  # the restored epoch's log and the partial last one


def test_the_stargan_app_says_and_records_the_iterations_it_ran(tmp_path, monkeypatch):
    monkeypatch.setitem(stargan_training.STARGAN_PRESETS, "small", {"image_size": 16, "width": "tiny", "batch_size": 2, "iterations": 2})
    for label in ("a", "b"):
        write_images(tmp_path / "source" / label, 2, len(label), bright=label == "b")
    write_images(tmp_path / "target", 4, 5, bright=True)
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "stargan", "--source", str(tmp_path / "source"), "--target", str(tmp_path / "target"),
                                       "--out", str(out), "--iterations", "3", "--epoch-iterations", "2", "--no-export", "--quiet"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^done: 3 iterations, ", result.output, re.M), result.output  # the old app trained 2 (3 // 2 * 2) and said 3
    recorded = json.loads((out / "config.json").read_text())
    assert (recorded["iterations"], recorded["iterations_run"], recorded["epochs_run"], recorded["epoch_iterations"]) == (3, 3, 2, 2)
    assert len((out / "history.csv").read_text().splitlines()) == 3  # a header and 2 epochs
    assert not os.path.exists(backup_folder(out))
