"""What the studio may touch: the folders it was started on, and the items found in them.

Every path a request names is resolved here, once: relative to one of the
roots, no absolute paths, no ``..``, and the real path (symbolic links
followed) must stay inside the root. Nothing else in the studio opens a path
taken from a request.

An *item* is a folder the studio knows how to show, named ``"<root>/<path>"``
(``"0/hand"``, ``"0/."`` for the root itself):

``labels``      a label folder (``meta.json`` of :class:`tfxai.annotate.LabelStore`)
``maps``        attention maps from ``tfxai attention export-maps`` (``manifest.json``)
``report``      an explanation report from ``tfxai explain`` (``index.html`` + ``predictions.csv``)
``video``       a video explanation from ``tfxai explain video`` (``summary.json`` + ``clip*.png``)
"""

import json
import os

from tfxai.errors import TfxaiError

__all__ = ["KINDS", "RequestError", "Workspace", "folder_kind"]

KINDS = ("labels", "maps", "report", "video")
SCAN_DEPTH = 2  # item folders are looked for in the roots and two levels below


class RequestError(Exception):
    """A request the studio refuses: ``status`` (4xx) and a one-line ``message``."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = int(status)
        self.message = message


def folder_kind(folder):
    """The kind of item ``folder`` holds (one of :data:`KINDS`), or None."""
    if _json_field(os.path.join(folder, "meta.json"), "format") == "tfxai-annotate-labels":
        return "labels"
    if os.path.isfile(os.path.join(folder, "manifest.json")) and os.path.isdir(os.path.join(folder, "maps")):
        return "maps"
    if os.path.isfile(os.path.join(folder, "index.html")) and os.path.isfile(os.path.join(folder, "predictions.csv")):
        return "report"
    if os.path.isfile(os.path.join(folder, "summary.json")) and any(n.startswith("clip") for n in os.listdir(folder)):
        return "video"
    return None


def _json_field(path, key):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle).get(key)
    except (OSError, ValueError, AttributeError):
        return None


class Workspace:
    """The roots the studio serves.

    Parameters
    ----------
    roots : list of str
        Folders; each must exist. A root may itself be an item or hold items.
    videos : dict, optional
        ``{label folder: video path}`` for label folders whose ``meta.json``
        names no video or a moved one (``tfxai annotate label VIDEO``).
    """

    def __init__(self, roots, videos=None):
        if not roots:
            raise TfxaiError("no folder to serve: pass a label, attention-map or report folder")
        self.roots = []
        for root in roots:
            root = os.fspath(root)
            if not os.path.isdir(root):
                raise TfxaiError(f"{root} is not a folder: pass an existing label, attention-map or report folder")
            self.roots.append(os.path.realpath(root))
        self.videos = {os.path.realpath(k): os.path.abspath(v) for k, v in (videos or {}).items()}

    # --- paths ---

    def resolve(self, item, path="."):
        """The real path of ``path`` inside ``item`` (``"<root>/<relative folder>"``); :class:`RequestError` 4xx otherwise."""
        if not isinstance(item, str) or not item:
            raise RequestError(400, "missing item: pass item=<root>/<folder> as listed by /api/items")
        head, _, rest = item.partition("/")
        if not head.isdigit() or int(head) >= len(self.roots):
            raise RequestError(404, f"no root {head!r}: pass an item listed by /api/items")
        root = self.roots[int(head)]
        relative = _checked_relative(rest or ".")
        folder = os.path.realpath(os.path.join(root, relative))
        if not _inside(folder, root):
            raise RequestError(403, "that folder is outside the folders the studio was started on")
        target = os.path.realpath(os.path.join(folder, _checked_relative(path)))
        if not _inside(target, root):
            raise RequestError(403, "that file is outside the folders the studio was started on")
        return target

    def item_folder(self, item, kind=None):
        """The folder of ``item``, checked to be an existing item (of ``kind`` when given)."""
        folder = self.resolve(item)
        if not os.path.isdir(folder):
            raise RequestError(404, f"item {item!r} does not exist")
        found = folder_kind(folder)
        if found is None or (kind is not None and found != kind):
            raise RequestError(404, f"item {item!r} is not a {kind or 'studio'} folder")
        return folder

    def video_of(self, folder, meta):
        """The video of a label folder: the one given at start-up, else the one ``meta.json`` names."""
        path = self.videos.get(os.path.realpath(folder)) or meta.get("video")
        if not path or not os.path.isfile(path):
            raise RequestError(404, f"the video of {os.path.basename(folder)} ({path or 'none recorded'}) is missing: "
                                    "start the studio with --video")
        return path

    # --- listing ---

    def items(self):
        """``[{"item", "kind", "name"}]`` for every item folder in the roots (sorted, roots first)."""
        found = []
        for index, root in enumerate(self.roots):
            for folder in _walk(root, SCAN_DEPTH):
                kind = folder_kind(folder)
                if kind is not None:
                    relative = os.path.relpath(folder, root).replace(os.sep, "/")
                    name = os.path.basename(root) if relative == "." else relative
                    found.append({"item": f"{index}/{relative}", "kind": kind, "name": name})
        return found


def _checked_relative(path):
    if not isinstance(path, str) or "\x00" in path or "\\" in path:
        raise RequestError(400, "malformed path")
    if path.startswith("/") or os.path.isabs(path) or (len(path) > 1 and path[1] == ":"):
        raise RequestError(403, "absolute paths are refused: pass a path relative to the item")
    if any(part == ".." for part in path.split("/")):
        raise RequestError(403, "'..' is refused: pass a path inside the item")
    return path


def _inside(path, root):
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _walk(root, depth, top=None):
    """Folders under ``root`` up to ``depth`` levels, not descending into item folders or hidden ones."""
    top = top or root
    yield root
    if depth <= 0 or folder_kind(root) is not None:
        return
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return
    for name in names:
        child = os.path.join(root, name)
        if name.startswith(".") or not os.path.isdir(child) or not _inside(os.path.realpath(child), top):
            continue
        yield from _walk(child, depth - 1, top)
