"""Writing results without ever leaving them half-written.

Every file is written to a temporary sibling and renamed into place; output
folders are built in a staging folder and swapped in only when complete.
"""

import contextlib
import json
import os
import shutil
import tempfile

from tfxai.errors import TfxaiError


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary name keeps the suffix of ``path`` so that libraries that choose
    a format by extension (``.keras``, ``.png``) behave the same.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    base, suffix = os.path.splitext(os.path.basename(path))
    handle, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=f".tmp{suffix}", dir=directory)
    os.close(handle)
    os.remove(tmp)
    try:
        yield tmp
        if os.path.isdir(tmp):
            replace_directory(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)


def write_json(path, obj):
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_image(path, image):
    """Write an 8-bit image (BGR or grey, OpenCV's order) to ``path`` atomically; the suffix picks the format."""
    import cv2

    with atomic_path(path) as tmp:
        if not cv2.imwrite(tmp, image):
            raise TfxaiError(f"could not write {path}: check the output folder")


def exchange_directories(first, second):
    """Swap two existing paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where that is not available.

    There is no moment at which either path is missing, so a process killed at any
    point leaves one of the two complete folders at each name.
    """
    import ctypes
    import errno

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # not Linux, or a C library without renameat2 (glibc < 2.28)
        return False
    at_cwd, exchange = -100, 2  # AT_FDCWD, RENAME_EXCHANGE
    if renameat2(at_cwd, os.fsencode(first), at_cwd, os.fsencode(second), exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # a file system (or kernel) without the exchange
        return False
    raise OSError(code, os.strerror(code), second)


def replace_directory(staging, target):
    """Move the finished folder ``staging`` onto ``target``, replacing any old one.

    On Linux the two folders are swapped atomically (:func:`exchange_directories`), so a
    kill at any moment leaves ``target`` either the old or the new folder, never missing.
    Elsewhere the old folder is first renamed aside (``.<name>.old.*``), a window in
    which ``target`` is absent; a failure in it puts the old folder back.
    """
    if os.path.exists(target) and exchange_directories(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # it now holds the old folder
        return
    backup = None
    if os.path.exists(target):
        backup = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.old.", dir=os.path.dirname(os.path.abspath(target)))
        os.rmdir(backup)
        os.replace(target, backup)
    try:
        os.replace(staging, target)
    except OSError:
        if backup is not None:
            os.replace(backup, target)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def check_output_folder(target, overwrite=False):
    """Return ``target`` as an absolute path; raise :class:`TfxaiError` if it exists and ``overwrite`` is False.

    Apps call it before computing, so a long run never ends in this refusal.
    """
    target = os.path.abspath(os.fspath(target))
    if os.path.exists(target) and not overwrite:
        raise TfxaiError(f"output folder {target} already exists: pass --overwrite or choose another output folder")
    return target


@contextlib.contextmanager
def staged_directory(target, overwrite=False):
    """Yield a staging folder that becomes ``target`` only if the block succeeds.

    Raises :class:`TfxaiError` if ``target`` exists and ``overwrite`` is False, so
    earlier results are never lost by accident.
    """
    target = check_output_folder(target, overwrite)
    parent = os.path.dirname(target)
    created = _missing_parents(parent)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.staging.", dir=parent)
    done = False
    try:
        yield staging
        replace_directory(staging, target)
        done = True
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)
        if not done:  # a failed run leaves no trace, not even the empty folders it made
            for folder in created:
                with contextlib.suppress(OSError):
                    os.rmdir(folder)


def _missing_parents(folder):
    """Folders from ``folder`` upwards that do not exist yet, deepest first."""
    missing = []
    while folder and not os.path.exists(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    return missing
