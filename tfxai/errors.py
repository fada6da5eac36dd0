"""User-facing errors: one line that says what is wrong and what to do."""


class TfxaiError(ValueError):
    """A problem with the user's input (files, shapes, names, options).

    The message is one line: what is wrong, then what to do about it. The apps
    print it as ``error: <message>`` and exit with status 2.
    """

    def __init__(self, message):
        super().__init__(" ".join(str(message).split()))


def plural(count, noun, plural_form=None):
    """``"1 image"``, ``"2 images"``: a count with its noun in the right number."""
    return f"{count} {noun if count == 1 else plural_form or noun + 's'}"
