"""``tfxai explain video`` and ``tfxai annotate track``: a progress bar with rate and time left, none under --quiet;
tracked boxes written frame by frame as tracking them directly does."""

import json
import os
import re

import keras
import pytest
from click.testing import CliRunner

from tfxai.annotate import Label, LabelStore, Tracker, TrackerConfig, Video, track_video
from tfxai.apps import common
from tfxai.apps.cli import main
from tfxai.testing import write_moving_square_video, write_sliding_box_video


@pytest.fixture
def video(tmp_path):
    return str(write_sliding_box_video(tmp_path / "clip.avi", frames=12))


@pytest.fixture
def bar_at_once(monkeypatch):
    """Show the bar from the start (it waits 2 s otherwise, longer than these tiny runs)."""
    monkeypatch.setattr(common, "SHORT_RUN_SECONDS", 0.0)


def _rate_and_time_left(text, unit):
    """A tqdm line with the elapsed time, time left and rate, e.g. ``4/12 [00:01<00:02, 3.50frame/s]`` (``?`` before a rate is known)."""
    return re.search(rf"\d+/\d+ \[\d\d:\d\d<(\d\d:\d\d|\?), +([\d.]+|\?)({unit}/s|s/{unit})\]", text) is not None


def _run(*args):
    return CliRunner().invoke(main, list(map(str, args)))


def _labels(folder):
    frames = os.path.join(folder, "frames")
    return {name: json.load(open(os.path.join(frames, name))) for name in sorted(os.listdir(frames))}


def test_track_shows_rate_and_time_left_and_quiet_only_the_final_line(video, tmp_path, bar_at_once):
    result = _run("annotate", "track", video, "--init", "0:10,20,16,16", "--out", tmp_path / "a")
    assert result.exit_code == 0, result.output
    assert "tracking (framediff)" in result.stderr and _rate_and_time_left(result.stderr, "frame"), result.stderr
    result = _run("annotate", "track", video, "--init", "0:10,20,16,16", "--out", tmp_path / "b", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [result.stderr.strip()] and result.stderr.startswith("tracked 11 frames")


def test_tracked_boxes_equal_tracking_frame_by_frame_also_when_resumed(video, tmp_path):
    assert _run("annotate", "track", video, "--init", "0:10,20,16,16", "--out", tmp_path / "app", "--stop", "5", "--quiet").exit_code == 0
    result = _run("annotate", "track", video, "--init", "0:10,20,16,16", "--out", tmp_path / "app", "--quiet")
    assert result.exit_code == 0 and result.stderr.startswith("tracked 7 frames"), result.output  # frames 5 to 11
    with Video(video) as clip:
        store = LabelStore(tmp_path / "direct", classes=["object"], video=clip)
        track_video(clip, store, Tracker(TrackerConfig(mode="framediff")), {0: [Label((10, 20, 16, 16))]})
    app, direct = _labels(tmp_path / "app"), _labels(tmp_path / "direct")
    assert len(app) == 12 and app == direct
    assert {box["source"] for record in app.values() for box in record["boxes"]} >= {"framediff"}


@pytest.fixture
def video_model(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4, 16, 16, 3)), keras.layers.Conv3D(2, 3, activation="relu"),
                              keras.layers.GlobalAveragePooling3D(), keras.layers.Dense(2, activation="softmax")])
    model.save(tmp_path / "video.keras")
    return tmp_path / "video.keras"


def test_explain_video_shows_rate_and_time_left_and_quiet_only_the_final_line(video_model, tmp_path, bar_at_once):
    clip = write_moving_square_video(tmp_path / "square.avi", frames=10)
    result = _run("explain", "video", clip, "--model", video_model, "--out", tmp_path / "a", "--clips", "3")
    assert result.exit_code == 0, result.output
    assert "explaining" in result.stderr and _rate_and_time_left(result.stderr, "clip"), result.stderr
    result = _run("explain", "video", clip, "--model", video_model, "--out", tmp_path / "b", "--clips", "3", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [result.stderr.strip()] and result.stderr.startswith(f"wrote {tmp_path / 'b'}")
    assert len(json.loads((tmp_path / "b" / "summary.json").read_text())["clips"]) == 3
