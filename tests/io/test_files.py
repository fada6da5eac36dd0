"""tfxai.io: results are never half-written and an old result survives a failed replacement."""

import os
import sys

import pytest

import tfxai.io.files as io
from tfxai.errors import TfxaiError


def _tree(folder):
    return sorted(os.listdir(folder))


def test_atomic_path_leaves_the_old_file_and_no_temporary_when_writing_fails(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            with open(tmp, "w") as handle:
                handle.write("half")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "old"
    assert _tree(tmp_path) == ["result.json"]


def test_atomic_path_keeps_the_suffix_and_replaces_on_success(tmp_path):
    target = tmp_path / "model.keras"
    with io.atomic_path(target) as tmp:
        assert tmp.endswith(".keras") and os.path.dirname(tmp) == str(tmp_path)
        with open(tmp, "w") as handle:
            handle.write("new")
    assert target.read_text() == "new"
    assert _tree(tmp_path) == ["model.keras"]


def test_staged_directory_replaces_an_existing_folder_only_with_overwrite(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(TfxaiError, match="already exists.*--overwrite"):
        with io.staged_directory(target):
            pass
    with io.staged_directory(target, overwrite=True) as staging:
        (tmp_path / "run" / "old.txt").read_text()  # the old folder is still there while the new one is built
        open(os.path.join(staging, "new.txt"), "w").close()
    assert _tree(target) == ["new.txt"]
    assert _tree(tmp_path) == ["run"]  # no staging or backup folder left


def test_a_failed_overwrite_keeps_the_old_folder_whole(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with io.staged_directory(target, overwrite=True) as staging:
            open(os.path.join(staging, "new.txt"), "w").close()
            raise RuntimeError("training crashed")
    assert _tree(target) == ["old.txt"] and (target / "old.txt").read_text() == "old"
    assert _tree(tmp_path) == ["run"]


def test_replace_directory_rolls_back_when_the_swap_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(io, "exchange_directories", lambda first, second: False)  # the rename-aside path (not Linux)
    target, staging = tmp_path / "run", tmp_path / "staging"
    target.mkdir()
    (target / "old.txt").write_text("old")
    staging.mkdir()
    (staging / "new.txt").write_text("new")
    real_replace = os.replace

    def failing_replace(source, destination):
        if os.fspath(source) == os.fspath(staging):
            raise OSError("disk full")
        real_replace(source, destination)

    monkeypatch.setattr(io.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        io.replace_directory(str(staging), str(target))
    assert (target / "old.txt").read_text() == "old"
    assert sorted(_tree(tmp_path)) == ["run", "staging"]  # the backup was moved back, none left over


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2(RENAME_EXCHANGE) is Linux's")
def test_on_linux_the_old_folder_is_swapped_out_in_one_step(tmp_path, monkeypatch):
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, name in ((first, "1.txt"), (second, "2.txt")):
        folder.mkdir()
        (folder / name).write_text(name)
    assert io.exchange_directories(str(first), str(second))
    assert _tree(first) == ["2.txt"] and _tree(second) == ["1.txt"]

    def no_rename(*args):  # a rename-aside would leave the target missing for a moment: it must not happen
        raise AssertionError("the target was renamed aside")

    monkeypatch.setattr(io.os, "replace", no_rename)
    io.replace_directory(str(first), str(second))
    assert _tree(second) == ["2.txt"] and sorted(_tree(tmp_path)) == ["b"]  # new content in place, the old one removed


def test_a_failed_run_removes_the_parent_folders_it_created(tmp_path):
    target = tmp_path / "a" / "b" / "run"
    with pytest.raises(RuntimeError):
        with io.staged_directory(target):
            raise RuntimeError("crash")
    assert _tree(tmp_path) == []
