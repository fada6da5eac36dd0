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
    # tree, with this session's interpreter, as a user's shell would run the console command.
    code = """
        import tfxai.apps.cli as cli
        print(cli.__file__)
        for args in (["--help"], ["train", "--help"]):
            print("=== tfxai", *args, flush=True)
            cli.main(args, prog_name="tfxai", standalone_mode=False)
    """
    done = run_python(code, cwd=tmp_path)
    where, top, train = done.stdout.split("=== ")
    assert "Usage: tfxai [OPTIONS]" in top and "train" in top
    assert "Usage: tfxai train" in train and "classifier" in train and "signal" in train
    # The fresh interpreter runs the same tfxai as this test session (not another installed copy).
    assert os.path.realpath(where.strip()) == os.path.realpath(tfxai.apps.cli.__file__), done.stderr


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
