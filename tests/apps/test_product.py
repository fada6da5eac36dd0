"""The apps as one product (issue 17): one line per problem, shell exit codes, checks before work, wording."""

import os

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

import tfxai.io
from tfxai.apps.cli import main
from tfxai.errors import TfxaiError
from tfxai.testing import run_python, tiny_cnn


def run(args):
    return CliRunner().invoke(main, args)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("product")
    path = root / "tiny.keras"
    tiny_cnn((8, 8, 3)).save(path)
    image = root / "one.png"
    cv2.imwrite(str(image), np.full((8, 8, 3), 120, np.uint8))
    return root, path, image


def test_an_app_that_loads_tensorflow_prints_one_line_and_no_tensorflow_logs(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = "import sys; from tfxai.apps.cli import main; sys.argv = ['tfxai'] + sys.argv[1:]; main()"
    done = run_python(code, "explain", "--model", "missing.keras", "--images", ".", "--out", "o", cwd=tmp_path, env=env,
                      returncode=2)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: model missing.keras does not exist"), done.stderr


def test_unexpected_exception_is_one_line_and_exit_2_traceback_with_verbose(tiny_model, tmp_path, monkeypatch):
    _, model, _ = tiny_model

    def broken(*args, **kwargs):
        raise RuntimeError("Keras could not trace the layer\n  File ... 60 more lines")

    monkeypatch.setattr(tfxai.io, "load_model", broken)
    result = run(["export", "--model", str(model), "--out", str(tmp_path / "saved")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: RuntimeError: Keras could not trace the layer (run 'tfxai --verbose ...' for the traceback)"
    ]
    verbose = run(["--verbose", "export", "--model", str(model), "--out", str(tmp_path / "saved")])
    assert isinstance(verbose.exception, RuntimeError) and verbose.exit_code == 1


def test_ctrl_c_says_nothing_was_written_and_exits_130(tiny_model, tmp_path, monkeypatch):
    _, model, _ = tiny_model

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tfxai.io, "load_model", interrupted)
    result = run(["export", "--model", str(model), "--out", str(tmp_path / "saved")])
    assert result.exit_code == 130
    assert result.output.strip() == f"interrupted: nothing was written to {tmp_path / 'saved'}"  # an app without a training backup
    assert not os.path.exists(tmp_path / "saved")


def test_ctrl_c_that_surfaces_as_another_error_still_exits_130(tiny_model, tmp_path, monkeypatch):
    # a KeyboardInterrupt raised inside C code can come back as e.g. CPython's SystemError (seen in the 20-interrupt CI test)
    import tfxai.apps.common as common

    _, model, _ = tiny_model

    ctrl_c = [True]

    def interrupted_inside_c(*args, **kwargs):
        if ctrl_c[0]:
            common._SIGINTS_RECEIVED.append(2)
        raise SystemError("Objects/listobject.c:338: bad argument to internal function")

    monkeypatch.setattr(common, "_SIGINTS_RECEIVED", [])
    monkeypatch.setattr(tfxai.io, "load_model", interrupted_inside_c)
    result = run(["export", "--model", str(model), "--out", str(tmp_path / "saved")])
    assert result.exit_code == 130
    assert result.output.strip() == f"interrupted: nothing was written to {tmp_path / 'saved'}"
    common._SIGINTS_RECEIVED.clear()
    ctrl_c[0] = False
    broken = run(["export", "--model", str(model), "--out", str(tmp_path / "saved")])  # the same error without Ctrl-C: a failure
    assert broken.exit_code == 2 and broken.output.startswith("error: SystemError:")


@pytest.mark.parametrize("app", [
    ["explain", "--images", "x.png"],
    ["evaluate", "attention", "--data", "demo"],
    ["train", "mixed", "--data", "x.npz"],
    ["export"],
])
def test_existing_output_folder_is_refused_before_the_model_is_read(app, tmp_path):
    # the model does not exist either: the app must not get as far as reading it
    model_option = "--teacher" if app[:2] == ["train", "mixed"] else "--model"
    out = tmp_path / "out"
    out.mkdir()
    result = run([*app, model_option, str(tmp_path / "missing.keras"), "--out", str(out)])
    assert result.exit_code == 2
    assert "already exists: pass --overwrite" in result.output, result.output


def test_explain_counts_one_image_in_the_singular(tiny_model, tmp_path):
    _, model, image = tiny_model
    result = run(["explain", "--model", str(model), "--images", str(image), "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    assert "explaining 1 image with gradcam" in result.output


def test_one_class_folder_is_named_in_the_singular(tmp_path):
    from tfxai.data.image_folder import scan_image_folder

    (tmp_path / "only").mkdir()
    cv2.imwrite(str(tmp_path / "only" / "a.png"), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(TfxaiError, match="has 1 class sub-folder: a classifier needs at least 2"):
        scan_image_folder(str(tmp_path))


def test_train_classifier_says_the_folder_is_missing_without_announcing_training(tmp_path):
    result = run(["train", "classifier", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"), "--preset", "small"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[0].startswith("error:"), result.output
    assert "training" not in result.output


def test_signal_recordings_in_pyts_layout_get_a_hint_that_the_axes_may_be_swapped():
    from tfxai.signal.data import Recordings

    pyts_like = Recordings([np.zeros((6, 100), np.float32)] * 2, np.array([0, 1]), ["a", "b"], ["r0", "r1"])
    with pytest.raises(TfxaiError, match=r"transpose \(n, channels, time\) arrays to \(n, time, channels\)"):
        pyts_like.check(32)
    right_way = Recordings([np.zeros((20, 6), np.float32)] * 2, np.array([0, 1]), ["a", "b"], ["r0", "r1"])
    with pytest.raises(TfxaiError) as refused:
        right_way.check(32)
    assert "swapped" not in str(refused.value)


@pytest.fixture(scope="module")
def run_folder(tiny_model):
    import shutil

    root, model, _ = tiny_model
    folder = root / "run"
    folder.mkdir()
    shutil.copy(model, folder / "model.keras")
    (folder / "class_names.json").write_text('["cats", "dogs"]')
    tree = root / "tree"
    for index, name in enumerate(("cats", "dogs")):
        (tree / name).mkdir(parents=True)
        cv2.imwrite(str(tree / name / "a.png"), np.full((8, 8, 3), 60 + 120 * index, np.uint8))
    return folder, tree


@pytest.mark.parametrize("images", ["file", "tree"])
def test_generate_reads_a_run_folder_and_an_image_file_or_a_class_tree(images, tiny_model, run_folder, tmp_path):
    _, _, image = tiny_model
    folder, tree = run_folder
    source = image if images == "file" else tree
    result = run(["generate", "--model", str(folder), "--images", str(source), "--target", "dogs",
                  "--out", str(tmp_path / "gen"), "--steps", "2"])
    assert result.exit_code == 0, result.output
    written = sorted(os.path.relpath(os.path.join(d, f), tmp_path / "gen")
                     for d, _, files in os.walk(tmp_path / "gen") for f in files if f.endswith(".png"))
    assert written == (["one.png"] if images == "file" else ["cats/a.png", "dogs/a.png"])
    assert "target" in open(tmp_path / "gen" / "results.csv").read() and "dogs:1.0000" in open(tmp_path / "gen" / "results.csv").read()


def test_explain_target_takes_a_class_name_or_an_index(tiny_model, run_folder, tmp_path):
    _, _, image = tiny_model
    folder, _ = run_folder
    overlays = []
    for target in ("dogs", "1"):
        result = run(["explain", "--model", str(folder), "--images", str(image), "--out", str(tmp_path / target),
                      "--target", target])
        assert result.exit_code == 0, result.output
        overlays.append(cv2.imread(str(tmp_path / target / "overlays" / os.listdir(tmp_path / target / "overlays")[0])))
    np.testing.assert_array_equal(overlays[0], overlays[1])


def test_explain_target_names_the_classes_when_unknown(tiny_model, run_folder, tmp_path):
    _, _, image = tiny_model
    folder, _ = run_folder
    result = run(["explain", "--model", str(folder), "--images", str(image), "--out", str(tmp_path / "r"), "--target", "birds"])
    assert result.exit_code == 2 and "unknown class 'birds'" in result.output and "cats, dogs" in result.output


def test_train_signal_takes_out_and_its_presets_as_the_preset_choice(tmp_path):  # the choices come from SignalTrainingConfig.presets
    result = run(["train", "signal", "--data", str(tmp_path / "none.npz"), "--out", str(tmp_path / "o"), "--preset", "tiny"])
    assert result.exit_code == 2 and "'tiny' is not one of 'thesis', 'small'" in result.output, result.output


def test_train_mixed_passes_the_generation_learning_rate_to_the_generator(tiny_model, run_folder, tmp_path, monkeypatch):
    import tfxai.synthesis.training

    _, model, _ = tiny_model
    _, tree = run_folder
    seen = {}

    def stop(*args, **kwargs):
        seen.update(kwargs)
        raise TfxaiError("stopped by the test")

    monkeypatch.setattr(tfxai.synthesis.training, "build_mixed_dataset", stop)
    result = run(["train", "mixed", "--data", str(tree), "--teacher", str(model), "--out", str(tmp_path / "o"),
                  "--validation-split", "0", "--generation-learning-rate", "2.5"])
    assert result.exit_code == 2 and "stopped by the test" in result.output, result.output
    assert seen["learning_rate"] == 2.5


def test_training_apps_take_quiet_and_otherwise_print_one_line_per_epoch(run_folder, tmp_path):
    _, tree = run_folder
    args = ["train", "classifier", "--data", str(tree), "--preset", "small", "--image-size", "8", "--epochs", "2",
            "--batch-size", "2", "--validation-split", "0", "--no-export"]
    quiet = run([*args, "--out", str(tmp_path / "q"), "--quiet"])
    assert quiet.exit_code == 0, quiet.output
    assert len(quiet.output.strip().splitlines()) == 1 and quiet.output.startswith("done: 2 classes")
    loud = run([*args, "--out", str(tmp_path / "l")])
    assert loud.exit_code == 0, loud.output
    epochs = [line for line in loud.output.splitlines() if line.startswith("Epoch ")]
    assert epochs == ["Epoch 1/2", "Epoch 2/2"] and "\x1b" not in loud.output and "\r" not in loud.output
    for app in (["train", "abn"], ["train", "gain"], ["train", "signal"], ["train", "mixed"]):
        assert "--quiet" in run([*app, "--help"]).output, app
