"""The local web studio: label video frames, review tracked labels, edit attention maps, look at explanations.

``tfxai studio FOLDER`` serves the folders it is started on (and only them) on
127.0.0.1 with a per-run token; the pages are plain HTML/CSS/JS in ``static/``
(no build step, nothing fetched from the network). Every edit is saved at once:
labels through :class:`tfxai.annotate.LabelStore` (atomic per frame, with a
compare-and-swap against concurrent writers), attention maps as the
``edited/`` PNGs ``tfxai train abn --human-maps`` reads. See ``docs/studio.md``.

Importing this package does not import TensorFlow.
"""

from tfxai.studio.server import Studio, StudioServer, build_app
from tfxai.studio.workspace import KINDS, RequestError, Workspace, folder_kind

__all__ = ["KINDS", "RequestError", "Studio", "StudioServer", "Workspace", "build_app", "folder_kind"]
