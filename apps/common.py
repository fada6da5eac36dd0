"""Shared pieces of the apps: error reporting and small option types."""

import functools
import sys

import click

from tfxai.errors import TfxaiError


def reports_errors(function):
    """Turn :class:`TfxaiError` (and missing files) into ``error: ...`` on stderr and exit status 2."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except TfxaiError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)
        except FileNotFoundError as error:
            click.echo(f"error: file not found: {error.filename or error}: check the path", err=True)
            sys.exit(2)

    return wrapper


def echo(message):
    """Print a progress line to stderr (stdout stays clean for results)."""
    click.echo(message, err=True)
