"""``tfxai studio [FOLDER]...``: the local web studio (label, review, edit attention, look at explanations).

Also opened by ``tfxai annotate label``, ``tfxai annotate review`` and
``tfxai attention edit``. Serves only the folders named, on 127.0.0.1 unless
``--host`` says otherwise, with a per-run token in the printed URL.
"""

import os

import click

from tfxai.apps.common import echo, reports_errors


def serve(folders, host="127.0.0.1", port=8765, videos=None, page="/", item=None, open_browser=False, frame=None):
    """Start the studio on ``folders`` and serve until Ctrl-C; prints the URL (of ``page`` for ``item``)."""
    from urllib.parse import quote

    from tfxai.studio import Studio, StudioServer
    from tfxai.studio.workspace import folder_kind

    studio = Studio(folders, videos=videos)
    if not any(folder_kind(os.path.realpath(f)) for f in folders) and not studio.workspace.items():
        from tfxai.errors import TfxaiError

        raise TfxaiError(f"{', '.join(map(str, folders))} holds no label folder, attention maps or explanation report: "
                         "pass a folder written by 'tfxai annotate', 'tfxai attention export-maps' or 'tfxai explain'")
    server = StudioServer(studio, host=host, port=port)
    url = server.url
    if item is not None:
        url = studio.url(host, server.port, page) + f"&item={quote(item)}" + (f"&frame={int(frame)}" if frame else "")
    echo(f"tfxai studio on {', '.join(map(str, folders))}: open {url}  (Ctrl-C stops; every change is already saved)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        echo(f"listening on {host}: anyone who can reach this machine and has the URL's token can edit these folders")
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.run()
    except KeyboardInterrupt:
        pass


def without_tensorflow(command):
    """Mark a click command so ``tfxai``'s runner does not import TensorFlow before it (the studio starts in a second)."""
    command.callback.without_tensorflow = True
    return command


def host_option(function):
    function = click.option("--open", "open_browser", is_flag=True, help="Open the page in the default browser.")(function)
    function = click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
                            help="Port (0: any free one).")(function)
    return click.option("--host", default="127.0.0.1", show_default=True,
                        help="Address to listen on; give another one only to share the studio on your network.")(function)


@without_tensorflow
@click.command("studio")
@click.argument("folders", nargs=-1, type=click.Path(file_okay=False))
@click.option("--video", "videos", multiple=True, metavar="LABELS=VIDEO",
              help="The video of a label folder whose meta.json names none or a moved one (repeatable).")
@host_option
@reports_errors
def command(folders, videos, host, port, open_browser):
    """Label video frames, review tracked labels, edit attention maps and look at explanations in a browser.

    FOLDER: label folders ('tfxai annotate label/track'), attention-map folders ('tfxai attention export-maps'),
    explanation reports ('tfxai explain', 'tfxai explain video'), or folders holding them (default: the current folder).
    """
    from tfxai.errors import TfxaiError

    folders = list(folders) or ["."]
    for folder in folders:
        if not os.path.isdir(folder):
            raise TfxaiError(f"{folder} is not a folder: pass a label, attention-map or report folder")
    pairs = {}
    for text in videos:
        labels, sep, video = text.partition("=")
        if not sep or not os.path.isfile(video):
            raise TfxaiError(f"--video {text!r} is not LABELS=VIDEO with an existing video file")
        pairs[labels] = video
    serve(folders, host, port, videos=pairs, open_browser=open_browser)
