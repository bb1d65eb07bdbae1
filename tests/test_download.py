"""segbench.datasets.download against a local HTTP server on 127.0.0.1 (never the internet):
normal fetch, a connection dropped half way (resume with Range), a wrong hash (refused, nothing left),
a server ignoring Range (clean restart), safe extraction, credentials never shown."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import socket
import tarfile
import threading
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rich.console import Console

from segbench.datasets.base import DatasetAdapter, DatasetSpec, ManifestFile
from segbench.datasets.download import (LOCAL_MANIFEST, DownloadError, LocalManifest, Session, UnsafeArchiveError,
                                        dataset_status, download_dataset, fetch_file, kaggle_credentials,
                                        kaggle_url, prepare_dataset, safe_extract)

PAYLOAD = os.urandom(300_000)
SHA = hashlib.sha256(PAYLOAD).hexdigest()
MD5 = hashlib.md5(PAYLOAD).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):  # keep test output clean
        pass

    def _send_body(self, data: bytes, start: int, total: int, partial: bool, drop: bool):
        body = data[start:]
        self.send_response(206 if partial else 200)
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if drop:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body)

    def do_GET(self):
        srv = self.server
        srv.log.append((self.command, self.path, dict(self.headers)))
        u = urllib.parse.urlsplit(self.path)
        mode = srv.mode
        if u.path.startswith("/api/v1/"):
            if self.headers.get("Authorization") != srv.expect_auth:
                self.send_response(401); self.send_header("Content-Length", "0"); self.end_headers(); return
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{srv.server_address[1]}/storage/file.bin?sig=SECRET")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if u.path == "/login/":
            self.send_response(200); self.send_header("Set-Cookie", "csrftoken=abc; Path=/")
            self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok"); return
        if u.path == "/md5-sum/":
            body = f"{MD5}  gtFine.zip\n".encode()
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body); return
        if u.path == "/file-handling/" and "sessionid=s1" not in (self.headers.get("Cookie") or ""):
            self.send_response(302); self.send_header("Location", "/login/"); self.send_header("Content-Length", "0")
            self.end_headers(); return
        data = srv.data
        total = len(data)
        rng = self.headers.get("Range")
        start = 0
        if rng and mode != "ignore-range":
            start = int(rng.split("=")[1].split("-")[0])
            if start >= total:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{total}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        srv.count += 1
        if rng and mode == "bad-range":  # answers 206 but with the wrong range (from byte 0)
            self._send_body(data, 0, total, partial=True, drop=False)
            return
        drop = mode in ("drop", "ignore-range") and srv.count == 1
        self._send_body(data, start, total, partial=bool(rng) and mode != "ignore-range", drop=drop)

    def do_POST(self):
        srv = self.server
        n = int(self.headers.get("Content-Length", 0))
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        srv.log.append(("POST", self.path, dict(self.headers), form))
        ok = form.get("username") == ["alice"] and form.get("password") == ["pw-XYZZY-secret"]
        if ok and "csrftoken=abc" in (self.headers.get("Cookie") or ""):
            self.send_response(302); self.send_header("Set-Cookie", "sessionid=s1; Path=/")
            self.send_header("Location", "/"); self.send_header("Content-Length", "0"); self.end_headers()
        else:
            self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.data, srv.mode, srv.count, srv.log, srv.expect_auth = PAYLOAD, "normal", 0, [], None
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()
    t.join(timeout=5)


def _sess():
    return Session(timeout=10)


def _console():
    buf = io.StringIO()
    return Console(file=buf, force_terminal=False, width=200), buf


# ------------------------------------------------------------------ fetch
def test_normal_download_verifies_and_records(server, tmp_path):
    entry = ManifestFile("a.bin", server.url + "/a.bin", sha256=SHA, size=len(PAYLOAD))
    p = fetch_file(entry.url, tmp_path / "a.bin", entry, session=_sess(), backoff=0)
    assert p.read_bytes() == PAYLOAD
    assert not (tmp_path / "a.bin.part").exists()
    rec = json.loads((tmp_path / LOCAL_MANIFEST).read_text())["files"]["a.bin"]
    assert rec["sha256"] == SHA and rec["verified"] and rec["size"] == len(PAYLOAD)
    # second call: nothing fetched
    n = server.count
    fetch_file(entry.url, tmp_path / "a.bin", entry, session=_sess(), backoff=0)
    assert server.count == n


def test_dropped_connection_resumes_with_range(server, tmp_path):
    server.mode = "drop"
    entry = ManifestFile("b.bin", server.url + "/b.bin", md5=MD5)
    p = fetch_file(entry.url, tmp_path / "b.bin", entry, session=_sess(), backoff=0)
    assert p.read_bytes() == PAYLOAD
    gets = [h for m, path, h, *_ in server.log if m == "GET"]
    assert len(gets) == 2 and "Range" not in gets[0]
    assert gets[1]["Range"] == f"bytes={len(PAYLOAD) // 2}-"


def test_resume_from_existing_part_file(server, tmp_path):
    (tmp_path / "c.bin.part").write_bytes(PAYLOAD[:1000])
    entry = ManifestFile("c.bin", server.url + "/c.bin", sha256=SHA)
    fetch_file(entry.url, tmp_path / "c.bin", entry, session=_sess(), backoff=0)
    assert (tmp_path / "c.bin").read_bytes() == PAYLOAD
    assert server.log[0][2]["Range"] == "bytes=1000-"


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    server.mode = "ignore-range"
    entry = ManifestFile("d.bin", server.url + "/d.bin", sha256=SHA, size=len(PAYLOAD))
    fetch_file(entry.url, tmp_path / "d.bin", entry, session=_sess(), backoff=0)
    assert (tmp_path / "d.bin").read_bytes() == PAYLOAD  # not half + full appended


def test_wrong_hash_refused_and_nothing_left(server, tmp_path):
    entry = ManifestFile("e.bin", server.url + "/e.bin", sha256="0" * 64)
    with pytest.raises(DownloadError, match="expected sha256 0000"):
        fetch_file(entry.url, tmp_path / "e.bin", entry, session=_sess(), backoff=0)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != LOCAL_MANIFEST) == []
    with pytest.raises(DownloadError, match="expected 5 bytes"):
        fetch_file(entry.url, tmp_path / "e.bin", ManifestFile("e.bin", entry.url, size=5), session=_sess(), backoff=0)
    assert not (tmp_path / "e.bin").exists() and not (tmp_path / "e.bin.part").exists()


def test_recorded_hash_checks_later_downloads(server, tmp_path):
    entry = ManifestFile("f.bin", server.url + "/f.bin")  # no hash in the manifest
    fetch_file(entry.url, tmp_path / "f.bin", entry, session=_sess(), backoff=0)
    assert LocalManifest(tmp_path).get("f.bin")["sha256"] == SHA
    (tmp_path / "f.bin").unlink()
    server.data = PAYLOAD[::-1]  # upstream changed / tampered
    with pytest.raises(DownloadError, match="recorded at its first download"):
        fetch_file(entry.url, tmp_path / "f.bin", entry, session=_sess(), backoff=0)
    assert not (tmp_path / "f.bin").exists() and not (tmp_path / "f.bin.part").exists()


def test_http_error_message(server, tmp_path):
    server.expect_auth = "Basic nope"
    with pytest.raises(DownloadError, match="HTTP 401"):
        fetch_file(server.url + "/api/v1/x", tmp_path / "x", session=_sess(), backoff=0, retries=0)


# ------------------------------------------------------------------ credentials
class _FakeDS(DatasetAdapter):
    spec = DatasetSpec("fake-kaggle", "1", "binary", obtain="kaggle",
                       files=(ManifestFile("train.bin", "kaggle://competitions/some-comp/train.bin", sha256=SHA),))


def test_kaggle_basic_auth_never_shown_and_dropped_on_redirect(server, tmp_path, monkeypatch, capsys, caplog):
    key = "k3y-SUPERSECRET-0123"
    monkeypatch.setenv("KAGGLE_USERNAME", "bob")
    monkeypatch.setenv("KAGGLE_KEY", key)
    monkeypatch.setenv("SEGBENCH_KAGGLE_API", server.url + "/api/v1")
    server.expect_auth = "Basic " + base64.b64encode(f"bob:{key}".encode()).decode()
    con, buf = _console()
    out = download_dataset(_FakeDS, tmp_path / "r", console=con, backoff=0)
    assert out["status"] == "done" and (tmp_path / "r" / "train.bin").read_bytes() == PAYLOAD
    api = [h for m, p, h, *_ in server.log if p.startswith("/api/v1/competitions/data/download/some-comp/train.bin")]
    store = [h for m, p, h, *_ in server.log if p.startswith("/storage/")]
    assert api and api[0]["Authorization"] == server.expect_auth
    assert store and "Authorization" not in store[0]  # not forwarded to the storage host
    text = buf.getvalue() + capsys.readouterr().out + capsys.readouterr().err + caplog.text
    text += (tmp_path / "r" / LOCAL_MANIFEST).read_text()
    assert key not in text and base64.b64encode(f"bob:{key}".encode()).decode() not in text
    assert "SECRET" not in (tmp_path / "r" / LOCAL_MANIFEST).read_text()  # signed query not recorded
    # refused credentials: error without the key
    server.expect_auth = "Basic other"
    (tmp_path / "r" / "train.bin").unlink()
    with pytest.raises(DownloadError) as ei:
        download_dataset(_FakeDS, tmp_path / "r", console=con, backoff=0, retries=0)
    assert "HTTP 401" in str(ei.value) and key not in str(ei.value)


def test_kaggle_json_and_missing_credentials(tmp_path, monkeypatch):
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kcfg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert kaggle_credentials() is None
    con, buf = _console()
    out = download_dataset(_FakeDS, tmp_path / "r", console=con)
    assert out["status"] == "manual" and "KAGGLE_USERNAME" in buf.getvalue()
    assert "https://www.kaggle.com/competitions/some-comp/data" in buf.getvalue()
    (tmp_path / "kcfg").mkdir()
    (tmp_path / "kcfg" / "kaggle.json").write_text(json.dumps({"username": "u", "key": "kk"}))
    assert kaggle_credentials() == ("u", "kk")
    assert "kk" not in repr(Session.basic_auth("u", "kk"))


def test_kaggle_url_patterns():
    assert kaggle_url("kaggle://competitions/tgs-salt-identification-challenge/train.csv", "https://x/api/v1") == \
        "https://x/api/v1/competitions/data/download/tgs-salt-identification-challenge/train.csv"
    assert kaggle_url("kaggle://datasets/balraj98/deepglobe-road-extraction-dataset", "https://x/api/v1") == \
        "https://x/api/v1/datasets/download/balraj98/deepglobe-road-extraction-dataset"
    assert kaggle_url("kaggle://competitions/c", "https://x/api/v1") == "https://x/api/v1/competitions/data/download-all/c"


def test_cityscapes_login_flow(server, tmp_path, monkeypatch, capsys):
    class _CS(DatasetAdapter):
        spec = DatasetSpec("cityscapes-test", "1", "semantic", obtain="login",
                           files=(ManifestFile("gtFine.zip", server.url + "/file-handling/?packageID=1"),))
    monkeypatch.setenv("CITYSCAPES_USERNAME", "alice")
    monkeypatch.setenv("CITYSCAPES_PASSWORD", "pw-XYZZY-secret")
    con, buf = _console()
    download_dataset(_CS, tmp_path / "cs", console=con, backoff=0)
    assert (tmp_path / "cs" / "gtFine.zip").read_bytes() == PAYLOAD
    posts = [e for e in server.log if e[0] == "POST"]
    assert posts and posts[0][3]["submit"] == ["Login"]
    text = buf.getvalue() + capsys.readouterr().out + (tmp_path / "cs" / LOCAL_MANIFEST).read_text()
    assert "pw-XYZZY-secret" not in text
    assert LocalManifest(tmp_path / "cs").get("gtFine.zip")["verified"]
    monkeypatch.setenv("CITYSCAPES_PASSWORD", "wrong-pass-777")
    (tmp_path / "cs" / "gtFine.zip").unlink()
    with pytest.raises(DownloadError, match="bad CITYSCAPES_USERNAME") as ei:
        download_dataset(_CS, tmp_path / "cs", console=con, backoff=0)
    assert "wrong-pass-777" not in str(ei.value)


# ------------------------------------------------------------------ safe extraction
def _tar(path, add):
    with tarfile.open(path, "w:gz") as tf:
        add(tf)
    return path


def _file(tf, name, data=b"x"):
    ti = tarfile.TarInfo(name); ti.size = len(data); tf.addfile(ti, io.BytesIO(data))


def _special(tf, name, type_, linkname=""):
    ti = tarfile.TarInfo(name); ti.type = type_; ti.linkname = linkname; tf.addfile(ti)


EVIL_TARS = {
    "escape": (lambda tf: (_file(tf, "ok.txt"), _file(tf, "../evil.txt")), "escaping it"),
    "deep-escape": (lambda tf: _file(tf, "a/b/../../../evil.txt"), "escaping it"),
    "absolute": (lambda tf: _file(tf, "/tmp/segbench-evil.txt"), "absolute path"),
    "symlink-out": (lambda tf: _special(tf, "link", tarfile.SYMTYPE, "../../etc"), "pointing out"),
    "symlink-abs": (lambda tf: _special(tf, "link", tarfile.SYMTYPE, "/etc/passwd"), "absolute"),
    "symlink-chain": (lambda tf: (_special(tf, "s", tarfile.SYMTYPE, "."), _special(tf, "t", tarfile.SYMTYPE, "s/..")),
                      "through link"),
    "write-through-link": (lambda tf: (_special(tf, "d", tarfile.SYMTYPE, "sub"), _file(tf, "d/x.txt")),
                           "through a link"),
    "hardlink-out": (lambda tf: _special(tf, "h", tarfile.LNKTYPE, "../outside.txt"), "pointing out"),
    "hardlink-abs": (lambda tf: _special(tf, "h", tarfile.LNKTYPE, "/etc/passwd"), "absolute"),
    "chardev": (lambda tf: _special(tf, "dev/null", tarfile.CHRTYPE), "character device"),
    "blockdev": (lambda tf: _special(tf, "sda", tarfile.BLKTYPE), "block device"),
    "fifo": (lambda tf: _special(tf, "pipe", tarfile.FIFOTYPE), "FIFO"),
}


@pytest.mark.parametrize("case", sorted(EVIL_TARS))
def test_evil_tar_refused_nothing_extracted(tmp_path, case):
    add, msg = EVIL_TARS[case]
    arc = _tar(tmp_path / f"{case}.tar.gz", add)
    dest = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match=msg) as ei:
        safe_extract(arc, dest)
    assert "refused" in str(ei.value)
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "outside.txt").exists()


def _zip_with_symlink(path, name, target, extra=()):
    with zipfile.ZipFile(path, "w") as zf:
        zi = zipfile.ZipInfo(name)
        zi.create_system = 3
        zi.external_attr = (0o120777 << 16)
        zf.writestr(zi, target)
        for n, d in extra:
            zf.writestr(n, d)
    return path


def test_evil_zip_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "esc.zip", "w") as zf:
        zf.writestr("fine.txt", "a")
        zf.writestr("../../evil.txt", "b")
    with pytest.raises(UnsafeArchiveError, match="escaping"):
        safe_extract(tmp_path / "esc.zip", tmp_path / "o1")
    with zipfile.ZipFile(tmp_path / "abs.zip", "w") as zf:
        zf.writestr("/abs.txt", "b")
    with pytest.raises(UnsafeArchiveError, match="absolute"):
        safe_extract(tmp_path / "abs.zip", tmp_path / "o2")
    _zip_with_symlink(tmp_path / "ln.zip", "ln", "../../../etc")
    with pytest.raises(UnsafeArchiveError, match="pointing out"):
        safe_extract(tmp_path / "ln.zip", tmp_path / "o3")
    with zipfile.ZipFile(tmp_path / "fifo.zip", "w") as zf:
        zi = zipfile.ZipInfo("p"); zi.create_system = 3; zi.external_attr = (0o010644 << 16)
        zf.writestr(zi, "")
    with pytest.raises(UnsafeArchiveError, match="FIFO"):
        safe_extract(tmp_path / "fifo.zip", tmp_path / "o4")
    for d in ("o1", "o2", "o3", "o4"):
        assert list((tmp_path / d).iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()


def test_good_archives_extract_with_internal_links(tmp_path):
    def add(tf):
        _file(tf, "top/a.txt", b"hello")
        _special(tf, "top/link", tarfile.SYMTYPE, "a.txt")
        _special(tf, "top/hard", tarfile.LNKTYPE, "top/a.txt")
        _special(tf, "top/sub", tarfile.DIRTYPE)
    arc = _tar(tmp_path / "good.tgz", add)
    tops = safe_extract(arc, tmp_path / "o")
    assert tops == ["top"]
    assert (tmp_path / "o/top/link").read_bytes() == b"hello" and (tmp_path / "o/top/hard").read_bytes() == b"hello"
    _zip_with_symlink(tmp_path / "g.zip", "z/l", "f.txt", extra=[("z/f.txt", "zz")])
    safe_extract(tmp_path / "g.zip", tmp_path / "o")
    assert (tmp_path / "o/z/l").read_text() == "zz"
    assert not any(p.name.startswith(".extract-") for p in (tmp_path / "o").iterdir())


# ------------------------------------------------------------------ dataset level
def test_download_dataset_extracts_and_status(server, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("data/x.txt", "x")
    server.data = buf.getvalue()

    class _DS(DatasetAdapter):
        spec = DatasetSpec("zip-ds", "1", "semantic", obtain="url",
                           files=(ManifestFile("d.zip", server.url + "/d.zip", extract=True),))
    root = tmp_path / "zip-ds"
    assert dataset_status(_DS, root) == {"root": str(root), "on_disk": False, "verified": False}
    download_dataset(_DS, root, backoff=0)
    assert (root / "data/x.txt").read_text() == "x"
    assert dataset_status(_DS, root)["verified"]
    n = server.count
    download_dataset(_DS, root, backoff=0)  # idempotent: no new request, no re-extraction
    assert server.count == n


def test_prepare_from_user_folder(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("inner/y.txt", "y")
    dl = tmp_path / "downloads"; dl.mkdir()
    (dl / "pack.zip").write_bytes(buf.getvalue())

    class _DS(DatasetAdapter):
        spec = DatasetSpec("man-ds", "1", "semantic", obtain="manual",
                           files=(ManifestFile("pack.zip", None, sha256=hashlib.sha256(buf.getvalue()).hexdigest(),
                                               extract=True),))
    con, out = _console()
    res = download_dataset(_DS, tmp_path / "root", console=con)
    assert res["status"] == "manual" and "pack.zip" in out.getvalue() and "segbench prepare man-ds" in out.getvalue()
    prepare_dataset(_DS, dl, tmp_path / "root")
    assert (tmp_path / "root/inner/y.txt").read_text() == "y"
    prepare_dataset(_DS, dl, tmp_path / "root")  # idempotent
    (dl / "pack.zip").write_bytes(b"corrupt")
    with pytest.raises(DownloadError, match="sha256"):
        prepare_dataset(_DS, dl, tmp_path / "root2")


def test_complete_part_file_and_416(server, tmp_path):
    # an interrupted run that had received every byte but not verified yet: the server answers 416
    (tmp_path / "g.bin.part").write_bytes(PAYLOAD)
    entry = ManifestFile("g.bin", server.url + "/g.bin", sha256=SHA)
    fetch_file(entry.url, tmp_path / "g.bin", entry, session=_sess(), backoff=0)
    assert (tmp_path / "g.bin").read_bytes() == PAYLOAD
    # a part file longer than the remote file is not trusted: restarted from byte 0
    (tmp_path / "h.bin.part").write_bytes(PAYLOAD + b"junk")
    fetch_file(server.url + "/h.bin", tmp_path / "h.bin", ManifestFile("h.bin", None, sha256=SHA), session=_sess(),
               backoff=0)
    assert (tmp_path / "h.bin").read_bytes() == PAYLOAD


def test_progress_bar_on_terminal(server, tmp_path):
    buf = io.StringIO()
    con = Console(file=buf, force_terminal=True, width=120)
    fetch_file(server.url + "/p.bin", tmp_path / "p.bin", ManifestFile("p.bin", None, sha256=SHA), session=_sess(),
               console=con, backoff=0)
    assert "p.bin" in buf.getvalue() and (tmp_path / "p.bin").read_bytes() == PAYLOAD


def test_download_refuses_evil_archive_from_server(server, tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        _file(tf, "ok.txt")
        _special(tf, "escape", tarfile.SYMTYPE, "../../../../etc")
    server.data = buf.getvalue()

    class _DS(DatasetAdapter):
        spec = DatasetSpec("evil-ds", "1", "semantic", obtain="url",
                           files=(ManifestFile("evil.tgz", server.url + "/evil.tgz", extract=True),))
    with pytest.raises(UnsafeArchiveError, match="pointing out"):
        download_dataset(_DS, tmp_path / "evil", backoff=0)
    assert sorted(p.name for p in (tmp_path / "evil").iterdir()) == [LOCAL_MANIFEST, "evil.tgz"]
    assert not LocalManifest(tmp_path / "evil").get("evil.tgz").get("extracted")


def test_cli_download_voc_from_local_server_then_eval(server, tmp_path, monkeypatch, capsys):
    """`segbench download voc2012` end to end (the manifest URL pointed at 127.0.0.1): fetch, md5 check,
    safe extraction, `segbench datasets` shows it verified, and the dataset evaluates."""
    import dataclasses
    from PIL import Image
    from segbench.cli import main
    from segbench.datasets.voc import VOC2012
    src = tmp_path / "src"
    VOC2012.make_fake(src, 3, 0)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.add(src / "VOCdevkit", arcname="VOCdevkit")
    server.data = buf.getvalue()
    entry = ManifestFile("VOCtrainval_11-May-2012.tar", server.url + "/VOCtrainval_11-May-2012.tar",
                         md5=hashlib.md5(server.data).hexdigest(), size=len(server.data), extract=True)
    monkeypatch.setattr(VOC2012, "spec", dataclasses.replace(VOC2012.spec, files=(entry,)))
    base = tmp_path / "data"
    monkeypatch.setenv("SEGBENCH_DATA", str(base))
    assert main(["download", "voc2012"]) == 0
    assert (base / "voc2012" / "VOCdevkit" / "VOC2012" / "SegmentationClass").is_dir()
    capsys.readouterr()
    assert main(["datasets", "--json"]) == 0
    row = next(r for r in json.loads(capsys.readouterr().out) if r["name"] == "voc2012")
    assert row["on_disk"] and row["verified"]
    ds = VOC2012(None)  # default root: $SEGBENCH_DATA/voc2012
    preds = tmp_path / "preds"; preds.mkdir()
    for sid in ds.sample_ids():
        m = ds.load(sid).target.mask
        Image.fromarray(m).save(preds / f"{sid}.png")
    out = tmp_path / "r.json"
    assert main(["eval", str(preds), "--dataset", "voc2012", "--gt", str(base / "voc2012"), "--json", str(out)]) == 0
    vals = next(v["values"] for k, v in json.loads(out.read_text())["metrics"].items() if k.startswith("miou@"))
    assert vals["mIoU"] == 1.0


def test_inconsistent_range_answer_restarts(server, tmp_path):
    server.mode = "bad-range"
    (tmp_path / "i.bin.part").write_bytes(PAYLOAD[:5000])
    entry = ManifestFile("i.bin", server.url + "/i.bin", sha256=SHA)
    fetch_file(entry.url, tmp_path / "i.bin", entry, session=_sess(), backoff=0)
    assert (tmp_path / "i.bin").read_bytes() == PAYLOAD
    gets = [h for m, p, h, *_ in server.log if m == "GET"]
    assert gets[0]["Range"] == "bytes=5000-" and "Range" not in gets[1]


def test_root_lock_and_free_space(server, tmp_path, monkeypatch):
    import shutil as _sh
    from segbench.datasets.download import LOCK_NAME
    from segbench.errors import UsageError

    class _DS(DatasetAdapter):
        spec = DatasetSpec("lock-ds", "1", "semantic", obtain="url",
                           files=(ManifestFile("a.bin", server.url + "/a.bin", sha256=SHA, size=len(PAYLOAD)),))
    root = tmp_path / "r"; root.mkdir()
    (root / LOCK_NAME).write_text(str(os.getppid()))  # a live process holds the root
    with pytest.raises(UsageError, match="pid"):
        download_dataset(_DS, root, backoff=0)
    (root / LOCK_NAME).write_text("999999999")  # stale lock: taken over, removed afterwards
    download_dataset(_DS, root, backoff=0)
    assert (root / "a.bin").read_bytes() == PAYLOAD and not (root / LOCK_NAME).exists()
    usage = _sh.disk_usage(tmp_path)
    monkeypatch.setattr("segbench.datasets.download.shutil.disk_usage",
                        lambda p: type(usage)(usage.total, usage.total - 10, 10))
    with pytest.raises(DownloadError, match="free"):
        download_dataset(_DS, tmp_path / "r2", backoff=0)
    download_dataset(_DS, root, backoff=0)  # already verified: nothing to fetch, no space needed


def test_kaggle_bearer_token(server, tmp_path, monkeypatch, capsys):
    token = "KGAT_secret_token_42"
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "cfg"))
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "access_token").write_text(token + "\n")
    monkeypatch.setenv("SEGBENCH_KAGGLE_API", server.url + "/api/v1")
    server.expect_auth = f"Bearer {token}"
    con, buf = _console()
    download_dataset(_FakeDS, tmp_path / "r", console=con, backoff=0)
    assert (tmp_path / "r" / "train.bin").read_bytes() == PAYLOAD
    assert token not in buf.getvalue() + capsys.readouterr().out + (tmp_path / "r" / LOCAL_MANIFEST).read_text()


def test_datasets_verify_rehashes(server, tmp_path):
    from segbench.datasets.download import dataset_status

    class _DS(DatasetAdapter):
        spec = DatasetSpec("v-ds", "1", "semantic", obtain="url",
                           files=(ManifestFile("a.bin", server.url + "/a.bin"),))
    root = tmp_path / "v-ds"
    download_dataset(_DS, root, backoff=0)
    assert dataset_status(_DS, root)["verified"] and dataset_status(_DS, root, verify=True)["verified"]
    data = bytearray((root / "a.bin").read_bytes()); data[100] ^= 1  # bit rot after the download
    st = (root / "a.bin").stat()
    (root / "a.bin").write_bytes(bytes(data))
    os.utime(root / "a.bin", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert dataset_status(_DS, root)["verified"]  # the cheap check trusts the record
    assert not dataset_status(_DS, root, verify=True)["verified"]
