"""The console command: every registered app answers --help, also in a fresh interpreter."""

import os

import pytest
from click.testing import CliRunner

import tfxai.apps.cli
from tfxai.apps.cli import COMMANDS, main
from tfxai.testing import run_python


def test_console_command_lists_groups_in_a_fresh_process(tmp_path):
    # A fresh interpreter imports nothing the test session has already imported
    # (this caught a missing ``import importlib.util``). It runs outside the source
    # tree so that ``import tfxai`` finds the installed package (with ``tfxai.apps``),
    # not the checkout's ``tfxai/`` folder, as a user's shell would.
    code = "import sys; from tfxai.apps.cli import main; sys.argv = ['tfxai'] + sys.argv[1:]; main()"
    for args in (["--help"], ["train", "--help"]):
        done = run_python(code, *args, cwd=tmp_path)
        assert "Usage" in done.stdout
    assert "classifier" in done.stdout and "signal" in done.stdout
    # The fresh interpreter runs the same tfxai as this test session (not another installed copy).
    where = run_python("import tfxai.apps.cli as c; print(c.__file__)", cwd=tmp_path)
    assert os.path.realpath(where.stdout.strip()) == os.path.realpath(tfxai.apps.cli.__file__), where.stderr


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=lambda p: " ".join(p))
def test_every_registered_command_has_help(path):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and "--help" in result.output


def test_unknown_command_is_a_usage_error():
    result = CliRunner().invoke(main, ["train", "nonsense"])
    assert result.exit_code == 2


def test_a_missing_file_inside_an_app_is_one_error_line_and_exit_2():
    import click

    from tfxai.apps.common import reports_errors

    @click.command()
    @reports_errors
    def opens():
        open("/nonexistent/tfxai/model.keras")

    result = CliRunner().invoke(opens, [])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == ["error: file not found: /nonexistent/tfxai/model.keras: check the path"]
