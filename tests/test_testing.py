"""The fresh-process helper of tfxai.testing: a configurable timeout and failures that show the output's tail."""

import time

import pytest

from tfxai.testing import DEFAULT_TIMEOUT, TIMEOUT_VARIABLE, process_timeout, run_python

PRINT_THEN_SLEEP = "import sys, time; print('started', flush=True); print('warming up', file=sys.stderr, flush=True); time.sleep(60)"


def test_the_timeout_comes_from_the_environment_and_a_timeout_shows_the_output(monkeypatch):
    monkeypatch.delenv(TIMEOUT_VARIABLE, raising=False)
    assert process_timeout() == DEFAULT_TIMEOUT >= 600  # a TensorFlow import and a tiny fit on a loaded 2-core machine
    monkeypatch.setenv(TIMEOUT_VARIABLE, "1.5")
    start = time.monotonic()
    with pytest.raises(AssertionError) as failure:
        run_python(PRINT_THEN_SLEEP)
    assert time.monotonic() - start < 30
    message = str(failure.value)
    assert message.startswith(f"timed out after 1.5 s (set {TIMEOUT_VARIABLE} for a slower machine)")
    assert "started" in message and "warming up" in message
    monkeypatch.setenv(TIMEOUT_VARIABLE, "soon")
    with pytest.raises(ValueError, match="TFXAI_TEST_TIMEOUT='soon' is not a number of seconds"):
        process_timeout()


def test_an_unexpected_exit_code_shows_the_code_and_the_tail_of_both_streams():
    code = "import sys; print('x' * 5000 + 'last out'); sys.exit('died: ' + sys.argv[1])"
    with pytest.raises(AssertionError) as failure:
        run_python(code, "because")
    message = str(failure.value)
    assert message.startswith("exit code 1, expected 0:")
    assert "last out" in message and "died: because" in message
    assert len(message) < 3500  # the tail, not the whole output
    done = run_python(code, "anyway", returncode=1)
    assert done.stderr.strip() == "died: anyway" and done.stdout.endswith("last out\n")
    assert run_python("print(1 + 1)").stdout == "2\n"
