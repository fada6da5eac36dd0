"""The studio's HTTP/JSON layer on a real server: each endpoint, bad input, traversal, token, origin, concurrency."""

import concurrent.futures
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from tfxai.annotate import Label, LabelStore


def call(base, token, path, method="GET", body=None, headers=None, content_type="application/json"):
    """``(status, parsed JSON or bytes)`` of one request (errors included)."""
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    request = urllib.request.Request(base + path, data=data, method=method)
    if token:
        request.add_header("X-Studio-Token", token)
    if data is not None:
        request.add_header("Content-Type", content_type)
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            status, payload, kind = response.status, response.read(), response.headers.get("content-type", "")
    except urllib.error.HTTPError as error:
        status, payload, kind = error.code, error.read(), error.headers.get("content-type", "")
    return status, json.loads(payload) if kind.startswith("application/json") else payload


def test_items_labels_frames_and_images(studio):
    _, base, token = studio
    status, items = call(base, token, "/api/items")
    assert status == 200
    kinds = {item["name"]: item["kind"] for item in items["items"]}
    assert kinds == {"hand": "labels", "tracked": "labels", "maps": "maps", "report": "report"}
    status, meta = call(base, token, "/api/labels?item=0/tracked")
    assert status == 200 and meta["classes"] == ["blob", "other"] and meta["video"]["width"] == 160
    assert len(meta["frames"]) == 100 and meta["frames"][2]["sources"] == ["held"]
    status, record = call(base, token, "/api/labels/frame?item=0/tracked&frame=5")
    assert status == 200 and record["boxes"][0]["box"] == [15.0, 40.0, 20.0, 20.0] and record["version"]
    status, jpeg = call(base, token, "/api/frame.jpg?item=0/tracked&frame=99")
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert status == 200 and image.shape == (120, 160, 3)
    status, page = call(base, token, "/label?item=0/hand")
    assert status == 200 and b"boxes.js" in page


def test_label_and_review_pages_are_served_with_their_shared_frame_stage(studio):
    _, base, token = studio
    for path in ("/label", "/review"):
        status, page = call(base, token, path)
        text = page.decode("utf-8")
        assert status == 200 and "<!--#include" not in text, path
        for element in ('id="canvas"', 'id="goto"', 'id="zoom-fit"', 'id="status"', 'class="legend"'):
            assert text.count(element) == 1, (path, element)
        assert text.index('id="frames"') < text.index('id="canvas"') < text.index('<aside class="right">'), path


def test_label_writes_are_compare_and_swap_and_validated(studio, workspace):
    _, base, token = studio
    url = "/api/labels/frame?item=0/hand&frame=7"
    status, record = call(base, token, url)
    assert status == 200 and record == {"frame": 7, "boxes": [], "reviewed": False, "version": ""}
    box = {"box": [10, 20, 30, 40], "class": 1, "track": 0, "source": "hand", "score": None}
    status, saved = call(base, token, url, "PUT", {"boxes": [box], "reviewed": False, "version": ""})
    assert status == 200 and saved["version"]
    assert LabelStore.open(workspace / "hand").boxes(7) == [Label((10, 20, 30, 40), 1, 0, "hand")]
    # a stale version is refused and changes nothing
    status, error = call(base, token, url, "PUT", {"boxes": [], "reviewed": False, "version": ""})
    assert status == 409 and "changed by someone else" in error["error"]
    before = (workspace / "hand" / "frames" / "000007.json").read_bytes()
    bad = [
        ({"boxes": [dict(box, box=[1, 2, 3])], "version": saved["version"]}, 400),  # 3 numbers
        ({"boxes": [dict(box, **{"class": 5})], "version": saved["version"]}, 400),  # no class 5
        ({"boxes": [dict(box, source="robot")], "version": saved["version"]}, 400),
        ({"boxes": [dict(box, box=[150, 100, 30, 40])], "version": saved["version"]}, 400),  # outside 160x120
        ({"boxes": "nope", "version": saved["version"]}, 400),
        ({"boxes": []}, 400),  # no version
    ]
    for body, expected in bad:
        status, error = call(base, token, url, "PUT", body)
        assert status == expected and error["error"], body
    status, _ = call(base, token, url, "PUT", b"{not json", content_type="application/json")
    assert status == 400
    status, _ = call(base, token, url, "PUT", b"x", content_type="text/plain")
    assert status == 415
    assert (workspace / "hand" / "frames" / "000007.json").read_bytes() == before
    for path, expected in [("/api/labels/frame?item=0/hand&frame=100", 404), ("/api/labels/frame?item=0/hand&frame=-1", 400),
                           ("/api/labels/frame?item=0/hand&frame=x", 400), ("/api/labels/frame?item=0/maps&frame=1", 404),
                           ("/api/labels?item=9/hand", 404), ("/api/labels", 400), ("/api/nothing", 404)]:
        status, error = call(base, token, path)
        assert status == expected and "error" in error, path


@pytest.mark.parametrize("path", [
    "/files?item=0/report&path=../video.avi",
    "/files?item=0/report&path=/etc/passwd",
    "/files?item=0/..&path=etc/passwd",
    "/files?item=0/report&path=overlays/../../video.avi",
    "/files?item=0/report&path=..%2Fvideo.avi",
    "/api/frame.jpg?item=0/report&frame=0&file=../video.avi",
    "/api/labels?item=0/../tracked",
    "/api/maps?item=0//etc",
])
def test_paths_outside_the_served_folders_are_refused(studio, path):
    _, base, token = studio
    status, error = call(base, token, path)
    assert status in (400, 403, 404) and "error" in error


def test_a_link_out_of_the_folder_is_refused(studio, workspace, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text("secret")
    os.symlink(outside / "secret.txt", workspace / "report" / "link.txt")
    _, base, token = studio
    status, error = call(base, token, "/files?item=0/report&path=link.txt")
    assert status == 403 and "outside" in error["error"]
    status, data = call(base, token, "/files?item=0/report&path=predictions.csv")
    assert status == 200 and data.startswith(b"image,true")


def test_token_host_and_origin(studio):
    server, base, token = studio
    assert call(base, None, "/api/items")[0] == 403
    assert call(base, "wrong", "/api/items")[0] == 403
    assert call(base, None, "/static/studio.css")[0] == 200  # the package's own files only
    assert call(base, token, "/api/items", headers={"Host": "attacker.example:80"})[0] == 421
    status, _ = call(base, token, "/api/labels/frame?item=0/hand&frame=1", "PUT", {"boxes": [], "version": ""},
                     headers={"Origin": "http://attacker.example"})
    assert status == 403
    status, _ = call(base, token, "/api/labels/frame?item=0/hand&frame=1", "PUT", {"boxes": [], "version": ""},
                     headers={"Origin": base})
    assert status == 200
    # the printed URL's token becomes a cookie, and the address bar loses it
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(f"{base}/?token={token}") as response:
        assert response.status == 200 and "token" not in response.url
    with opener.open(f"{base}/api/items") as response:
        assert response.status == 200


def test_attention_maps_are_written_where_train_abn_reads_them(studio, workspace):
    _, base, token = studio
    status, listing = call(base, token, "/api/maps?item=0/maps")
    assert status == 200 and [e["name"] for e in listing["entries"]] == ["0000.png", "0001.png", "0002.png"]
    edited = np.zeros((32, 32), np.uint8)
    edited[4:8, 4:8] = 255
    url = "/api/maps/edited?item=0/maps&name=0001.png&version="
    status, saved = call(base, token, url, "PUT", edited.tobytes(), content_type="application/octet-stream")
    assert status == 200
    assert np.array_equal(cv2.imread(str(workspace / "maps" / "edited" / "0001.png"), cv2.IMREAD_GRAYSCALE), edited)
    assert call(base, token, url, "PUT", edited.tobytes(), content_type="application/octet-stream")[0] == 409  # stale
    wrong_size = "/api/maps/edited?item=0/maps&name=0002.png&version="
    assert call(base, token, wrong_size, "PUT", b"\0" * 10, content_type="application/octet-stream")[0] == 400
    assert call(base, token, "/api/maps/edited?item=0/maps&name=../x.png&version=", "PUT", b"\0" * 1024,
                content_type="application/octet-stream")[0] == 404
    assert not (workspace / "maps" / "edited" / "0002.png").exists()
    status, _ = call(base, token, f"/api/maps/edited?item=0/maps&name=0001.png&version={saved['version']}", "DELETE")
    assert status == 200 and not (workspace / "maps" / "edited" / "0001.png").exists()


def test_report_counts_only_labelled_images(studio):
    _, base, token = studio
    status, report = call(base, token, "/api/report?item=0/report")
    assert status == 200 and (report["images"], report["labelled"], report["accuracy"]) == (3, 2, 0.5)
    assert report["rows"][2]["overlay"] == "overlays/0002_c.png"


def test_two_tabs_adding_boxes_to_one_frame_lose_nothing(studio, workspace):
    """8 writers each add their box to frame 3 at the same time, re-reading on 409 as the pages do."""
    _, base, token = studio
    url = "/api/labels/frame?item=0/hand&frame=3"

    def add(i):
        for _ in range(200):
            record = call(base, token, url)[1]
            box = {"box": [i * 10 + 1, 5, 8, 8], "class": 0, "track": i, "source": "hand", "score": None}
            status, _ = call(base, token, url, "PUT", {"boxes": record["boxes"] + [box], "version": record["version"]})
            if status == 200:
                return True
            assert status == 409
        return False

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert all(pool.map(add, range(8)))
    assert sorted(label.track for label in LabelStore.open(workspace / "hand").boxes(3)) == list(range(8))


def test_studio_and_a_concurrent_label_store_writer(studio, workspace):
    """A tracker-like writer rewrites frames through LabelStore while the studio edits the same frames: every studio
    write that returned 200 was applied to the version it read, and no file is ever half-written."""
    _, base, token = studio
    store = LabelStore.open(workspace / "tracked")
    stop = threading.Event()
    broken = []

    def tracker():
        n = 0
        while not stop.is_set():
            frame = n % 10
            store.put(frame, [Label((n % 50 + 1, 40, 20, 20), 0, 0, "detector", 0.5)])
            n += 1

    def reader():
        while not stop.is_set():
            for frame in range(10):
                try:
                    json.loads((workspace / "tracked" / "frames" / f"{frame:06d}.json").read_text())
                except ValueError as error:
                    broken.append(error)

    threads = [threading.Thread(target=tracker), threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    accepted = refused = 0
    try:
        for i in range(150):
            url = f"/api/labels/frame?item=0/tracked&frame={i % 10}"
            record = call(base, token, url)[1]
            status, saved = call(base, token, url, "PUT", {"boxes": record["boxes"], "reviewed": True, "version": record["version"]})
            assert status in (200, 409)
            accepted += status == 200
            refused += status == 409
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not broken and accepted > 0
    assert all(json.loads(p.read_text()) for p in (workspace / "tracked" / "frames").iterdir())


@pytest.mark.parametrize("args, message", [
    (["MISSING"], "is not a folder"),
    (["EMPTY"], "holds no label folder"),
    (["WORKSPACE", "--port", "PORT"], "cannot listen"),
])
def test_bad_start_is_one_line_and_exit_2(args, message, studio, workspace, tmp_path_factory):
    server, _, _ = studio
    empty = tmp_path_factory.mktemp("empty")
    replace = {"MISSING": str(workspace / "missing"), "EMPTY": str(empty), "WORKSPACE": str(workspace), "PORT": str(server.port)}
    result = subprocess.run([sys.executable, "-m", "tfxai.apps.cli", "studio", *[replace.get(a, a) for a in args]],
                            capture_output=True, text=True, timeout=60,
                            cwd=os.path.dirname(sys.executable))  # outside the checkout: its tfxai/ has no tfxai.apps
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr and result.stderr.count("\n") == 1
