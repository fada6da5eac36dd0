"""docs/apps.md is the current table of every app's options (issue 17)."""

import os

from tfxai.apps.cli import COMMANDS
from tfxai.apps.reference import options_table

PAGE = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "apps.md")


def test_docs_apps_md_is_the_generated_table():
    with open(PAGE, encoding="utf-8") as handle:
        page = handle.read()
    assert page == options_table(), "docs/apps.md is out of date: run python -m tfxai.apps.reference > docs/apps.md"


def test_the_table_has_every_app_and_marks_shared_options():
    table = options_table()
    for path in COMMANDS:
        assert f"| {' '.join(path)} | `--" in table, path
    assert "| train signal | `--out` | saved_models/signal | shared |" in table
    assert "| explain | `--alpha` | 0.4 | shared |" in table  # explain video takes it too
    assert "| train video | `--frames` |  |  |" in table
