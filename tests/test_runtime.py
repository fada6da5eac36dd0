"""The oneDNN decision: off on CPUs where its 2-D strided 1x1 backward crashes, back on for video processes, never over the user."""

import json
import os
import subprocess
import sys

import pytest

from tfxai import _runtime

hazard = pytest.mark.skipif(not _runtime.onednn_hazard(), reason="oneDNN is left alone on this CPU vendor")


def _fresh(code, **env):
    environment = {k: v for k, v in os.environ.items() if k != _runtime.ONEDNN_VARIABLE} | env
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=600,
                          cwd=os.path.dirname(sys.executable))
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


STATE = "import json, tfxai; from tfxai import _runtime; {before}; print(json.dumps([tfxai.ONEDNN_SETTING, _runtime.onednn_state()]))"


@hazard
def test_tfxai_turns_onednn_off_and_a_video_process_turns_it_back_on():
    setting, state = _fresh(STATE.format(before="pass"))
    assert setting == "0" and state["TF_ENABLE_ONEDNN_OPTS"] == "0" and "strided 1x1 Conv2D" in state["reason"]
    setting, state = _fresh(STATE.format(before="_runtime.onednn_for_workload('video')"))
    assert setting == "1" and state["TF_ENABLE_ONEDNN_OPTS"] == "1" and "video workload" in state["reason"]
    setting, state = _fresh(STATE.format(before="_runtime.onednn_for_workload('image')"))
    assert setting == "0"


@hazard
def test_the_users_setting_and_an_imported_tensorflow_are_never_overridden():
    setting, state = _fresh(STATE.format(before="_runtime.onednn_for_workload('video')"), TF_ENABLE_ONEDNN_OPTS="0")
    assert setting == "0" and state["reason"] == "set by the user"
    setting, state = _fresh(STATE.format(before="import tensorflow; _runtime.onednn_for_workload('video')"))
    assert setting == "0" and state["TF_ENABLE_ONEDNN_OPTS"] == "0"  # too late to change: TensorFlow read it at import


@hazard
def test_the_video_apps_load_with_onednn_on_and_the_image_apps_with_it_off():
    code = ("import json, os; from tfxai.apps.cli import COMMANDS, _load; _load(COMMANDS[{path!r}]); "
            "print(json.dumps([os.environ.get('TF_ENABLE_ONEDNN_OPTS'), None]))")
    assert _fresh(code.format(path=("train", "video")))[0] == "1"
    assert _fresh(code.format(path=("explain", "video")))[0] == "1"
    assert _fresh(code.format(path=("train", "classifier")))[0] == "0"
