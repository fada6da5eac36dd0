"""User-facing errors: one line that says what is wrong and what to do."""

import re


class TfxaiError(ValueError):
    """A problem with the user's input (files, shapes, names, options).

    The message is one line: what is wrong, then what to do about it. The apps
    print it as ``error: <message>`` and exit with status 2.
    """

    def __init__(self, message):
        super().__init__(" ".join(str(message).split()))


_RAISED_INSIDE = re.compile(r"(?:^|[\s.])TfxaiError: ([^\n]+)")


def raised_inside(error):
    """The :class:`TfxaiError` a ``tf.data`` map raised, given the error TensorFlow wrapped it in; else None.

    A file that becomes unreadable after the up-front check (deleted or
    overwritten mid-epoch) raises :class:`TfxaiError` inside
    ``tf.numpy_function``; TensorFlow re-raises it as an ``OpError`` whose
    message is the whole Python traceback. This recovers the one-line message.
    """
    if isinstance(error, TfxaiError):
        return error
    match = _RAISED_INSIDE.search(str(error))
    return TfxaiError(match.group(1)) if match else None


def plural(count, noun, plural_form=None):
    """``"1 image"``, ``"2 images"``: a count with its noun in the right number."""
    return f"{count} {noun if count == 1 else plural_form or noun + 's'}"
