"""An export that fails half-way (after writing part of the new SavedModel) leaves the previous export intact."""

import os

import keras
import pytest

from tfxai.classify.backbones import build_classifier
from tfxai.io.export import export_saved_model


def folder_contents(folder):
    return {os.path.relpath(os.path.join(root, name), folder): open(os.path.join(root, name), "rb").read()
            for root, _, names in os.walk(folder) for name in names}


def test_a_failure_during_export_with_overwrite_keeps_the_old_export(tmp_path, monkeypatch):
    export_saved_model(build_classifier("small_cnn", 2, (16, 16, 1), weights="none"), tmp_path / "sm")
    before = folder_contents(tmp_path / "sm")
    archive_class = type(keras.export.ExportArchive())  # the backend's archive class
    write_out = archive_class.write_out

    def write_then_fail(self, path, **options):
        write_out(self, path, **options)  # the new SavedModel is on disk, then the process fails
        raise OSError("planted failure: disk full")

    monkeypatch.setattr(archive_class, "write_out", write_then_fail)
    with pytest.raises(OSError, match="planted failure"):
        export_saved_model(build_classifier("small_cnn", 3, (16, 16, 1), weights="none"), tmp_path / "sm", overwrite=True)
    assert folder_contents(tmp_path / "sm") == before
    assert os.listdir(tmp_path) == ["sm"]  # the partial export is gone too
