"""Getting datasets onto disk: fetch (resume, verify, atomic move), safe extraction, credentials.

``segbench download NAME`` fetches the files of a dataset's manifest (:attr:`DatasetSpec.files`)::

    root/<file>.part   -- streamed here, resumed with an HTTP ``Range`` request after an interruption
                          (a server that ignores ``Range`` answers 200: the part file is restarted)
    verify             -- size, then sha256 / md5 from the manifest, else the sha256 recorded in
                          ``root/.segbench-manifest.json`` by an earlier download (recorded on first use)
    os.replace         -- ``<file>.part`` → ``<file>`` only after verification; a failed check deletes
                          the part file, so no unverified file is ever left under the final name
    safe_extract       -- zip / tar members are checked *before* anything is written: no absolute paths,
                          no ``..`` escaping the root, no symlink or hardlink pointing out, no device
                          files or FIFOs, nothing written through a link inside the archive

Credentials come from the usual places and are never printed or logged: Kaggle from
``KAGGLE_USERNAME`` / ``KAGGLE_KEY`` or ``~/.kaggle/kaggle.json`` (``$KAGGLE_CONFIG_DIR``), sent as HTTP
basic auth to the Kaggle API and dropped on the redirect to the storage host; Cityscapes from
``CITYSCAPES_USERNAME`` / ``CITYSCAPES_PASSWORD`` through the site's login form (the flow of
``csDownload``). Datasets without an API print exactly which files to fetch from where; the user
then runs ``segbench prepare NAME --from PATH``.

Only :mod:`urllib` is used (no ``requests`` dependency).

Examples
--------
>>> from segbench.datasets.download import default_root
>>> default_root("voc2012").name
'voc2012'
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import http.cookiejar
import json
import os
import posixpath
import shutil
import stat
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable

from ..errors import BadInputError, NotFoundError, SegbenchError, UsageError
from ..io.atomic import atomic_write_json
from .base import ManifestFile

__all__ = [
    "default_root", "data_home", "fetch_file", "safe_extract", "download_dataset", "prepare_dataset",
    "dataset_status", "list_datasets", "kaggle_credentials", "kaggle_token", "kaggle_session",
    "cityscapes_credentials", "kaggle_url", "LocalManifest", "Session", "DownloadError", "UnsafeArchiveError",
    "file_digest", "instructions_for", "root_lock", "check_free_space", "archive_kind", "KAGGLE_API",
]

LOCAL_MANIFEST = ".segbench-manifest.json"
KAGGLE_API = "https://www.kaggle.com/api/v1"
CHUNK = 1 << 20
USER_AGENT = "segbench-downloader/1 (+urllib)"


class DownloadError(SegbenchError):
    """A download failed (network, HTTP status, verification)."""


class UnsafeArchiveError(BadInputError):
    """An archive member would escape the extraction root or is a link/device we refuse."""


# ----------------------------------------------------------------------------- paths
def data_home() -> Path:
    """Base folder of downloaded datasets: ``$SEGBENCH_DATA`` or ``~/.segbench/data``."""
    env = os.environ.get("SEGBENCH_DATA")
    return Path(env).expanduser() if env else Path.home() / ".segbench" / "data"


def default_root(name: str) -> Path:
    """Default root of dataset ``name``: ``data_home() / name``."""
    return data_home() / name


def file_digest(path, algo: str = "sha256", progress: Callable[[int], None] | None = None) -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
            if progress:
                progress(len(block))
    return h.hexdigest()


class LocalManifest:
    """``root/.segbench-manifest.json``: what was downloaded, verified and extracted.

    ``{"dataset": name, "files": {file: {"sha256", "size", "url", "verified", "extracted"}},
    "prepared": {step: true}}``. Written atomically after each change.
    """

    def __init__(self, root):
        self.path = Path(root) / LOCAL_MANIFEST
        self.data = {"files": {}, "prepared": {}}
        if self.path.is_file():
            try:
                self.data = json.loads(self.path.read_text())
            except (OSError, ValueError):
                raise BadInputError("expected a JSON download record, found an unreadable file; delete it to "
                                    "start over", path=self.path) from None
            self.data.setdefault("files", {})
            self.data.setdefault("prepared", {})

    def get(self, name: str) -> dict:
        return dict(self.data["files"].get(name, {}))

    def set(self, name: str, **values) -> None:
        self.data["files"].setdefault(name, {}).update(values)
        self.save()

    def mark_prepared(self, step: str, value=True) -> None:
        self.data["prepared"][step] = value
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path, self.data)


# ----------------------------------------------------------------------------- credentials
def kaggle_credentials() -> tuple[str, str] | None:
    """``(username, key)`` from ``KAGGLE_USERNAME``/``KAGGLE_KEY`` or ``kaggle.json``; None if absent.

    ``kaggle.json`` is looked up in ``$KAGGLE_CONFIG_DIR`` then ``~/.kaggle`` (the Kaggle CLI's order).
    """
    user, key = os.environ.get("KAGGLE_USERNAME"), os.environ.get("KAGGLE_KEY")
    if user and key:
        return user, key
    dirs = [os.environ.get("KAGGLE_CONFIG_DIR"), str(Path.home() / ".kaggle")]
    for d in dirs:
        if not d:
            continue
        p = Path(d).expanduser() / "kaggle.json"
        if p.is_file():
            try:
                obj = json.loads(p.read_text())
            except (OSError, ValueError):
                raise BadInputError("expected a JSON object with \"username\" and \"key\" (download it from "
                                    "kaggle.com → Settings → Create New Token)", path=p) from None
            if obj.get("username") and obj.get("key"):
                return str(obj["username"]), str(obj["key"])
            raise BadInputError("expected \"username\" and \"key\" fields (download a new token from kaggle.com → "
                                "Settings → Create New Token)", path=p)
    return None


def kaggle_token() -> str | None:
    """A Kaggle API token (newer Kaggle accounts, sent as ``Authorization: Bearer``): ``KAGGLE_API_TOKEN``
    or ``~/.kaggle/access_token`` (``$KAGGLE_CONFIG_DIR/access_token``); None if absent."""
    tok = os.environ.get("KAGGLE_API_TOKEN")
    if tok and tok.strip():
        return tok.strip()
    for d in (os.environ.get("KAGGLE_CONFIG_DIR"), str(Path.home() / ".kaggle")):
        if d and (Path(d).expanduser() / "access_token").is_file():
            text = (Path(d).expanduser() / "access_token").read_text().strip()
            if text:
                return text
    return None


def kaggle_session() -> "Session | None":
    """A session authenticated for the Kaggle API, from the usual places, or None.

    Order: ``KAGGLE_USERNAME``/``KAGGLE_KEY`` (basic auth), ``KAGGLE_API_TOKEN`` (bearer), then the files
    ``kaggle.json`` (basic) and ``access_token`` (bearer) in ``$KAGGLE_CONFIG_DIR`` or ``~/.kaggle``.
    """
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return Session.basic_auth(os.environ["KAGGLE_USERNAME"], os.environ["KAGGLE_KEY"])
    if os.environ.get("KAGGLE_API_TOKEN", "").strip():
        return Session(headers={"Authorization": f"Bearer {os.environ['KAGGLE_API_TOKEN'].strip()}"})
    creds = kaggle_credentials()
    if creds is not None:
        return Session.basic_auth(*creds)
    tok = kaggle_token()
    return Session(headers={"Authorization": f"Bearer {tok}"}) if tok else None


def cityscapes_credentials() -> tuple[str, str] | None:
    """``(username, password)`` from ``CITYSCAPES_USERNAME`` / ``CITYSCAPES_PASSWORD``; None if absent."""
    u, p = os.environ.get("CITYSCAPES_USERNAME"), os.environ.get("CITYSCAPES_PASSWORD")
    return (u, p) if u and p else None


def kaggle_url(url: str, api: str | None = None) -> str:
    """Translate ``kaggle://competitions/COMP[/FILE]`` / ``kaggle://datasets/OWNER/SLUG[/FILE]`` to the
    Kaggle API URL (``$SEGBENCH_KAGGLE_API`` overrides the API base, for mirrors and tests)."""
    api = (api or os.environ.get("SEGBENCH_KAGGLE_API") or KAGGLE_API).rstrip("/")
    if not url.startswith("kaggle://"):
        return url
    parts = url[len("kaggle://"):].strip("/").split("/")
    q = urllib.parse.quote
    if parts[0] == "competitions" and len(parts) == 2:
        return f"{api}/competitions/data/download-all/{q(parts[1])}"
    if parts[0] == "competitions" and len(parts) >= 3:
        return f"{api}/competitions/data/download/{q(parts[1])}/{q('/'.join(parts[2:]))}"
    if parts[0] == "datasets" and len(parts) == 3:
        return f"{api}/datasets/download/{q(parts[1])}/{q(parts[2])}"
    if parts[0] == "datasets" and len(parts) >= 4:
        return f"{api}/datasets/download/{q(parts[1])}/{q(parts[2])}/{q('/'.join(parts[3:]))}"
    raise UsageError(f"expected kaggle://competitions/NAME[/FILE] or kaggle://datasets/OWNER/SLUG[/FILE], "
                     f"found {url!r}")


def _kaggle_page(url: str) -> str:
    parts = url[len("kaggle://"):].strip("/").split("/")
    if parts[0] == "competitions":
        return f"https://www.kaggle.com/competitions/{parts[1]}/data"
    return f"https://www.kaggle.com/datasets/{parts[1]}/{parts[2]}"


# ----------------------------------------------------------------------------- http
class _StripAuthRedirect(urllib.request.HTTPRedirectHandler):
    """Follow redirects but never send ``Authorization`` to another host (Kaggle → storage)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            old_host = urllib.parse.urlsplit(req.full_url).netloc
            new_host = urllib.parse.urlsplit(newurl).netloc
            if old_host != new_host:
                for k in list(new.headers):
                    if k.lower() == "authorization":
                        del new.headers[k]
                new.unredirected_hdrs.pop("Authorization", None)
        return new


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


@dataclass
class Session:
    """A urllib opener with cookies, auth headers and redirect policy (the secrets stay in here)."""

    headers: dict = field(default_factory=dict)
    cookies: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)
    timeout: float = 60.0

    def __repr__(self) -> str:  # never show headers (they may carry credentials)
        return f"Session(headers={sorted(self.headers)}, cookies={len(self.cookies)})"

    def _opener(self, follow: bool = True):
        return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies),
                                           _StripAuthRedirect() if follow else _NoRedirect())

    def open(self, url: str, headers: dict | None = None, data: bytes | None = None, follow: bool = True):
        req = urllib.request.Request(url, data=data, headers={"User-Agent": USER_AGENT})
        for k, v in {**self.headers, **(headers or {})}.items():
            req.add_header(k, v)  # Authorization is dropped on cross-host redirects (_StripAuthRedirect)
        return self._opener(follow).open(req, timeout=self.timeout)

    @classmethod
    def basic_auth(cls, user: str, secret: str, **kw) -> "Session":
        token = base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
        return cls(headers={"Authorization": f"Basic {token}"}, **kw)


def _safe_url(url: str) -> str:
    """URL without userinfo and query (signed URLs carry tokens) for messages."""
    u = urllib.parse.urlsplit(url)
    host = u.hostname or ""
    if u.port:
        host += f":{u.port}"
    return urllib.parse.urlunsplit((u.scheme, host, u.path, "", ""))


def _http_error(e: urllib.error.HTTPError, url: str, what: str) -> DownloadError:
    hint = {401: "the credentials were refused; check them",
            403: "access denied; log in / accept the dataset's terms or competition rules on its web page",
            404: "the file is not there; the dataset may have moved (see `segbench datasets`)",
            416: "the server refused the resume range; delete the .part file and retry"}.get(e.code, "retry later")
    return DownloadError(f"expected HTTP 200 for {what}, found HTTP {e.code} from {_safe_url(url)}; {hint}")


# ----------------------------------------------------------------------------- progress
class _Bar:
    """A rich progress bar for bytes (on a terminal) or a quiet no-op."""

    def __init__(self, console=None, enabled: bool | None = None):
        self.console = console
        if enabled is None:
            enabled = bool(console is not None and getattr(console, "is_terminal", False))
        self.enabled = enabled
        self.prog = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                       TransferSpeedColumn)
            self.prog = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                 TransferSpeedColumn(), TimeRemainingColumn(), console=self.console,
                                 transient=False)
            self.prog.start()
        return self

    def task(self, description: str, total: int | None, completed: int = 0):
        if self.prog is None:
            return None
        return self.prog.add_task(description, total=total, completed=completed)

    def update(self, task, **kw):
        if self.prog is not None and task is not None:
            self.prog.update(task, **kw)

    def __exit__(self, *exc):
        if self.prog is not None:
            self.prog.stop()
        return False


def _say(console, msg: str) -> None:
    if console is not None:
        console.print(msg, markup=False, highlight=False)


# ----------------------------------------------------------------------------- fetch
def _parse_content_range(value: str | None) -> tuple[int, int | None] | None:
    # "bytes 100-199/200" -> (100, 200)
    if not value or not value.startswith("bytes "):
        return None
    spec = value[6:]
    rng, _, total = spec.partition("/")
    start = rng.split("-")[0]
    try:
        return int(start), (int(total) if total.strip() not in ("*", "") else None)
    except ValueError:
        return None


def _verify(path: Path, entry: ManifestFile, recorded: dict, console=None) -> str:
    """Check size and hashes of a complete file; return its sha256. Raises DownloadError."""
    size = path.stat().st_size
    if entry.size is not None and size != entry.size:
        raise DownloadError(f"expected {entry.size} bytes for {entry.name}, found {size}; the download is "
                            "incomplete or the file changed upstream; run `segbench download` again")
    sha = file_digest(path, "sha256")
    if entry.sha256 and sha.lower() != entry.sha256.lower():
        raise DownloadError(f"expected sha256 {entry.sha256} for {entry.name}, found {sha}; the file was "
                            "deleted; run `segbench download` again (or report a changed upstream file)")
    if entry.md5:
        md5 = file_digest(path, "md5")
        if md5.lower() != entry.md5.lower():
            raise DownloadError(f"expected md5 {entry.md5} for {entry.name}, found {md5}; the file was deleted; "
                                "run `segbench download` again")
    if not entry.sha256 and recorded.get("sha256") and recorded["sha256"] != sha:
        raise DownloadError(f"expected sha256 {recorded['sha256']} for {entry.name} (recorded at its first "
                            f"download in {LOCAL_MANIFEST}), found {sha}; the file was deleted; if the upstream "
                            "file really changed, delete that record and download again")
    return sha


def fetch_file(url: str, dest, entry: ManifestFile | None = None, session: Session | None = None,
               manifest: LocalManifest | None = None, console=None, retries: int = 5, backoff: float = 1.0,
               force: bool = False, progress: bool | None = None) -> Path:
    """Download ``url`` to ``dest`` with resume, verification and an atomic move.

    Parameters
    ----------
    url : str
        ``http(s)://`` URL (``kaggle://`` URLs are translated by :func:`download_dataset`).
    dest : path
        Final file path; the data is streamed to ``dest + ".part"`` first.
    entry : ManifestFile, optional
        Expected ``size`` / ``sha256`` / ``md5``.
    session : Session, optional
        Carries auth headers / cookies.
    manifest : LocalManifest, optional
        Where the sha256 of a file without a manifest hash is recorded (and checked next time).
    retries : int
        Reconnections after a dropped connection (each resumes with ``Range``).
    backoff : float
        Seconds to wait before reconnecting (multiplied by the attempt number).
    force : bool
        Re-download even if ``dest`` exists and verifies.

    Returns
    -------
    Path of the verified file.

    Raises
    ------
    DownloadError
        HTTP errors, too many dropped connections, size or hash mismatch (the part file is deleted).
    """
    dest = Path(dest)
    entry = entry or ManifestFile(dest.name, url)
    session = session or Session()
    manifest = manifest or LocalManifest(dest.parent)
    recorded = manifest.get(entry.name)
    dest.parent.mkdir(parents=True, exist_ok=True)

    if dest.exists() and not force:
        rec_ok = (recorded.get("verified") and recorded.get("size") == dest.stat().st_size
                  and recorded.get("mtime") == int(dest.stat().st_mtime))
        if rec_ok:
            _say(console, f"{entry.name}: already downloaded and verified")
            return dest
        try:
            sha = _verify(dest, entry, recorded, console)
        except DownloadError:
            _say(console, f"{entry.name}: existing file failed verification; downloading again")
            dest.unlink()
        else:
            manifest.set(entry.name, sha256=sha, size=dest.stat().st_size, url=_safe_url(url), verified=True,
                         mtime=int(dest.stat().st_mtime))
            return dest

    part = dest.with_name(dest.name + ".part")
    total = entry.size
    attempt = 0
    with _Bar(console, progress) as bar:
        task = None
        while True:
            have = part.stat().st_size if part.exists() else 0
            if total is not None and have > total:
                part.unlink()
                have = 0
            if total is not None and have == total and have > 0:
                break
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                resp = session.open(url, headers=headers)
            except urllib.error.HTTPError as e:
                if e.code == 416 and have:
                    # range not satisfiable: the part may already be complete -> verify; else restart
                    cr = _parse_content_range(e.headers.get("Content-Range", "").replace("*", "0-0", 1))
                    if cr and cr[1] == have:
                        break
                    part.unlink()
                    attempt += 1
                    if attempt > retries:
                        raise _http_error(e, url, entry.name) from None
                    continue
                raise _http_error(e, url, entry.name) from None
            except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
                attempt += 1
                if attempt > retries:
                    reason = getattr(e, "reason", e)
                    raise DownloadError(f"expected to reach {_safe_url(url)} for {entry.name}, found a network "
                                        f"error ({type(e).__name__}: {reason}); the partial file "
                                        f"{part.name} is kept, run `segbench download` again to resume") from None
                time.sleep(backoff * attempt)
                continue
            with resp:
                status = getattr(resp, "status", 200)
                if have and status == 206:
                    cr = _parse_content_range(resp.headers.get("Content-Range"))
                    if cr is None or cr[0] != have:
                        # an inconsistent range answer cannot be appended: drop the part, restart from 0
                        part.unlink()
                        attempt += 1
                        if attempt > retries:
                            raise DownloadError(f"expected a byte range starting at {have} from {_safe_url(url)}, "
                                                f"found {resp.headers.get('Content-Range')!r} {retries} times; "
                                                "retry later")
                        _say(console, f"{entry.name}: inconsistent resume answer; restarting from 0")
                        continue
                    mode, start = "ab", have
                    if cr[1] is not None:
                        total = total or cr[1]
                else:
                    # 200: the server ignored Range (or this is a fresh download): restart from byte 0
                    mode, start = "wb", 0
                    clen = resp.headers.get("Content-Length")
                    if clen and clen.isdigit() and total is None:
                        total = int(clen)
                    if have:
                        _say(console, f"{entry.name}: server ignored the resume request; restarting from 0")
                if task is None:
                    task = bar.task(entry.name, total, start)
                else:
                    bar.update(task, completed=start, total=total)
                got = start
                try:
                    with open(part, mode) as f:
                        while True:
                            block = resp.read(CHUNK)
                            if not block:
                                break
                            f.write(block)
                            got += len(block)
                            bar.update(task, completed=got)
                        f.flush()
                        os.fsync(f.fileno())
                except (OSError, http.client.HTTPException) as e:
                    attempt += 1
                    if attempt > retries:
                        raise DownloadError(f"expected {total or 'all'} bytes of {entry.name} from "
                                            f"{_safe_url(url)}, found the connection dropped at {got} "
                                            f"({type(e).__name__}) {retries} times; run `segbench download` "
                                            "again to resume from the partial file") from None
                    time.sleep(backoff * attempt)
                    continue
            got = part.stat().st_size
            if total is not None and got < total:
                # connection closed early without an exception: resume
                attempt += 1
                if attempt > retries:
                    raise DownloadError(f"expected {total} bytes of {entry.name}, found {got} after {retries} "
                                        "reconnections; run `segbench download` again to resume")
                time.sleep(backoff * attempt)
                continue
            break

    try:
        sha = _verify(part, entry, recorded, console)
    except DownloadError:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
        raise
    os.replace(part, dest)
    manifest.set(entry.name, sha256=sha, size=dest.stat().st_size, url=_safe_url(url), verified=True,
                 mtime=int(dest.stat().st_mtime), recorded_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    _say(console, f"{entry.name}: downloaded and verified (sha256 {sha[:16]}…)")
    return dest


# ----------------------------------------------------------------------------- extraction
def _check_member_path(name: str, archive: str) -> str:
    if not name:
        raise UnsafeArchiveError("expected relative member paths, found an empty member name; archive refused",
                                 path=archive)
    if "\x00" in name:
        raise UnsafeArchiveError(f"expected clean member names, found a NUL byte in {name!r}; archive refused",
                                 path=archive)
    n = name.replace("\\", "/")
    if n.startswith("/") or (len(n) > 1 and n[1] == ":") or n.startswith("//"):
        raise UnsafeArchiveError(f"expected relative member paths, found absolute path {name!r}; archive refused "
                                 "(nothing was extracted)", path=archive)
    norm = posixpath.normpath(n)
    if norm == ".." or norm.startswith("../"):
        raise UnsafeArchiveError(f"expected members inside the extraction root, found {name!r} escaping it with "
                                 "'..'; archive refused (nothing was extracted)", path=archive)
    return "" if norm == "." else norm


def _check_link_target(member: str, target: str, archive: str, kind: str, relative_to_member: bool,
                       links: set) -> None:
    """Refuse a link whose target is absolute, climbs out of the root, or passes through another link
    (``s -> .`` then ``t -> s/..`` would escape although ``s/..`` is lexically inside)."""
    t = target.replace("\\", "/")
    if not t or t.startswith("/") or (len(t) > 1 and t[1] == ":"):
        raise UnsafeArchiveError(f"expected {kind}s pointing inside the extraction root, found {member!r} → "
                                 f"{target!r} (absolute); archive refused (nothing was extracted)", path=archive)
    base = posixpath.dirname(member) if relative_to_member else ""
    stack: list = [c for c in base.split("/") if c and c != "."]
    comps = [c for c in t.split("/") if c and c != "."]
    for i, c in enumerate(comps):
        if c == "..":
            if not stack:
                raise UnsafeArchiveError(f"expected {kind}s pointing inside the extraction root, found "
                                         f"{member!r} → {target!r} pointing out; archive refused (nothing was "
                                         "extracted)", path=archive)
            stack.pop()
            continue
        stack.append(c)
        if "/".join(stack) in links and i < len(comps) - 1:
            raise UnsafeArchiveError(f"expected {kind}s that do not resolve through other links, found "
                                     f"{member!r} → {target!r} through link {'/'.join(stack)!r}; archive refused "
                                     "(nothing was extracted)", path=archive)


def _through_link(norm: str, links: set) -> str | None:
    parts = PurePosixPath(norm).parts
    for i in range(1, len(parts)):
        if "/".join(parts[:i]) in links:
            return "/".join(parts[:i])
    return None


def _refuse_through(name: str, via: str, archive: str):
    raise UnsafeArchiveError(f"expected no member written through a link, found {name!r} under link {via!r}; "
                             "archive refused (nothing was extracted)", path=archive)


def _validate_tar(tf: tarfile.TarFile, archive: str) -> list:
    all_members = tf.getmembers()
    links = {_check_member_path(m.name, archive) for m in all_members if m.issym() or m.islnk()}
    members = []
    for m in all_members:
        norm = _check_member_path(m.name, archive)
        via = _through_link(norm, links)
        if via:
            _refuse_through(m.name, via, archive)
        if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
            kind = "character device" if m.ischr() else "block device" if m.isblk() else "FIFO"
            raise UnsafeArchiveError(f"expected regular files, directories and internal links, found {kind} "
                                     f"{m.name!r}; archive refused (nothing was extracted)", path=archive)
        if m.issym():
            _check_link_target(norm, m.linkname, archive, "symlink", True, links)
        elif m.islnk():
            _check_link_target(norm, m.linkname, archive, "hardlink", False, links)
            if _check_member_path(m.linkname, archive) in links:
                raise UnsafeArchiveError(f"expected hardlinks to regular files, found {m.name!r} → link "
                                         f"{m.linkname!r}; archive refused (nothing was extracted)", path=archive)
        elif not (m.isfile() or m.isdir()):
            raise UnsafeArchiveError(f"expected regular files and directories, found member {m.name!r} of type "
                                     f"{m.type!r}; archive refused (nothing was extracted)", path=archive)
        if norm:
            members.append(m)
    return members


def _zip_mode(zi: zipfile.ZipInfo) -> int:
    return (zi.external_attr >> 16) & 0xFFFF if zi.create_system == 3 else 0


def _validate_zip(zf: zipfile.ZipFile, archive: str):
    infos_all = zf.infolist()
    links = {}
    for zi in infos_all:
        if stat.S_ISLNK(_zip_mode(zi)):
            links[_check_member_path(zi.filename, archive)] = zf.read(zi).decode("utf-8", "surrogateescape")
    infos = []
    for zi in infos_all:
        norm = _check_member_path(zi.filename, archive)
        via = _through_link(norm, set(links))
        if via:
            _refuse_through(zi.filename, via, archive)
        mode = _zip_mode(zi)
        if stat.S_ISLNK(mode):
            _check_link_target(norm, links[norm], archive, "symlink", True, set(links))
        elif mode and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
            raise UnsafeArchiveError(f"expected regular files and directories, found device/FIFO member "
                                     f"{zi.filename!r}; archive refused (nothing was extracted)", path=archive)
        if norm:
            infos.append((zi, norm))
    return infos, links


def archive_kind(path) -> str | None:
    """``"zip"``, ``"tar"`` or None (by content, not by name)."""
    p = str(path)
    if zipfile.is_zipfile(p):
        return "zip"
    try:
        if tarfile.is_tarfile(p):
            return "tar"
    except OSError:
        return None
    return None


def safe_extract(archive, dest, console=None, progress: bool | None = None) -> list[str]:
    """Extract a zip or tar archive (any compression tarfile reads) into ``dest`` safely.

    Every member is validated before anything is written; the archive is refused with an
    :class:`UnsafeArchiveError` naming the member when one has an absolute path, escapes ``dest``
    with ``..``, is a symlink or hardlink pointing outside ``dest`` (or is written through such a
    link), or is a device file or FIFO. Members are extracted into a temporary folder inside ``dest``
    and moved into place, so an interrupted extraction leaves no half-extracted tree under the final
    names.

    Returns
    -------
    list of str
        Top-level names created in ``dest``.
    """
    archive = Path(archive)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    kind = archive_kind(archive)
    if kind is None:
        raise BadInputError("expected a zip or tar archive, found neither; re-download the file", path=archive)
    tmp = dest / f".extract-{archive.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    tops: set = set()
    try:
        with _Bar(console, progress) as bar:
            if kind == "tar":
                with tarfile.open(archive) as tf:
                    members = _validate_tar(tf, str(archive))
                    total = sum(m.size for m in members if m.isfile())
                    task = bar.task(f"extract {archive.name}", total)
                    done = 0
                    for m in members:
                        norm = posixpath.normpath(m.name.replace("\\", "/"))
                        tops.add(norm.split("/")[0])
                        target = tmp / norm
                        if m.isdir():
                            target.mkdir(parents=True, exist_ok=True)
                            continue
                        target.parent.mkdir(parents=True, exist_ok=True)
                        if m.issym():
                            os.symlink(m.linkname, target)
                        elif m.islnk():
                            src = tmp / posixpath.normpath(m.linkname)
                            if not src.exists():
                                raise UnsafeArchiveError(f"expected hardlink {m.name!r} to point at an earlier "
                                                         f"member, found {m.linkname!r} missing", path=archive)
                            os.link(src, target)
                        else:
                            with tf.extractfile(m) as fsrc, open(target, "wb") as fdst:
                                shutil.copyfileobj(fsrc, fdst, CHUNK)
                            os.chmod(target, (m.mode & 0o755) | 0o600)
                            done += m.size
                            bar.update(task, completed=done)
            else:
                with zipfile.ZipFile(archive) as zf:
                    infos, links = _validate_zip(zf, str(archive))
                    total = sum(zi.file_size for zi, _ in infos if not zi.is_dir())
                    task = bar.task(f"extract {archive.name}", total)
                    done = 0
                    for zi, norm in infos:
                        tops.add(norm.split("/")[0])
                        target = tmp / norm
                        if zi.is_dir():
                            target.mkdir(parents=True, exist_ok=True)
                            continue
                        target.parent.mkdir(parents=True, exist_ok=True)
                        if norm in links:
                            os.symlink(links[norm], target)
                            continue
                        with zf.open(zi) as fsrc, open(target, "wb") as fdst:
                            shutil.copyfileobj(fsrc, fdst, CHUNK)
                        done += zi.file_size
                        bar.update(task, completed=done)
        for top in sorted(tops):
            src, dst = tmp / top, dest / top
            if dst.is_dir() and not dst.is_symlink() and src.is_dir() and not src.is_symlink():
                _merge_tree(src, dst)
            else:
                if dst.is_symlink() or dst.is_file():
                    dst.unlink()
                elif dst.is_dir():
                    shutil.rmtree(dst)
                os.replace(src, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return sorted(tops)


def _merge_tree(src: Path, dst: Path) -> None:
    for child in src.iterdir():
        target = dst / child.name
        if child.is_dir() and not child.is_symlink() and target.is_dir() and not target.is_symlink():
            _merge_tree(child, target)
        else:
            if target.is_symlink() or target.is_file():
                target.unlink()
            elif target.is_dir():
                shutil.rmtree(target)
            os.replace(child, target)


# ----------------------------------------------------------------------------- dataset level
def _spec_and_cls(name_or_cls):
    if isinstance(name_or_cls, str):
        from . import get_dataset_class
        cls = get_dataset_class(name_or_cls)
    else:
        cls = name_or_cls
    return cls.spec, cls


def instructions_for(cls, root) -> str:
    """The text telling the user which files to fetch from where (datasets without an API)."""
    spec = cls.spec
    if not spec.files:
        return (f"{spec.name} has nothing to download: it reads data you already have (a layout for your own "
                f"data, or a dataset without a download manifest). See dataset_cards/{spec.name}.md and pass the "
                f"folder to `segbench eval --dataset {spec.name} --gt PATH`.")
    lines = [f"{spec.name} cannot be downloaded automatically ({spec.obtain}: "
             f"{'a login or licence form' if spec.obtain in ('login', 'manual') else 'no credentials found'}).",
             f"Fetch these files from {spec.homepage or 'the dataset homepage'}:"]
    for f in spec.files:
        where = f.url
        if where and where.startswith("kaggle://"):
            where = _kaggle_page(where)
        extra = []
        if f.size:
            extra.append(f"{f.size} bytes")
        if f.sha256:
            extra.append(f"sha256 {f.sha256}")
        elif f.md5:
            extra.append(f"md5 {f.md5}")
        line = f"  - {f.name}" + (f"  from {where}" if where else "")
        lines.append(line + (f"  ({', '.join(extra)})" if extra else ""))
    notes = getattr(cls, "download_notes", "")
    if notes:
        lines.append(notes.strip())
    lines.append(f"Then run: segbench prepare {spec.name} --from DOWNLOAD_FOLDER --root {root}")
    return "\n".join(lines)


def _cityscapes_session(url: str, console=None, timeout: float = 60.0) -> Session:
    creds = cityscapes_credentials()
    if creds is None:
        raise UsageError("expected Cityscapes credentials in CITYSCAPES_USERNAME and CITYSCAPES_PASSWORD "
                         "(register at https://www.cityscapes-dataset.com/register/), found none")
    u = urllib.parse.urlsplit(url)
    login = urllib.parse.urlunsplit((u.scheme, u.netloc, "/login/", "", ""))
    s = Session(timeout=timeout)
    try:
        with s.open(login, follow=False):
            pass
    except urllib.error.HTTPError as e:
        if e.code not in (301, 302, 303):
            raise _http_error(e, login, "the Cityscapes login page") from None
    except (urllib.error.URLError, OSError) as e:
        raise DownloadError(f"expected to reach {_safe_url(login)}, found {type(e).__name__}") from None
    body = urllib.parse.urlencode({"username": creds[0], "password": creds[1], "submit": "Login"}).encode()
    status = None
    try:
        with s.open(login, data=body, follow=False,
                    headers={"Content-Type": "application/x-www-form-urlencoded"}) as r:
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    except (urllib.error.URLError, OSError) as e:
        raise DownloadError(f"expected to reach {_safe_url(login)}, found {type(e).__name__}") from None
    if status != 302:
        raise DownloadError("expected the Cityscapes login to redirect (HTTP 302), found HTTP "
                            f"{status}: bad CITYSCAPES_USERNAME / CITYSCAPES_PASSWORD")
    _say(console, "cityscapes: logged in")
    return s


def _cityscapes_md5(session: Session, url: str) -> str | None:
    u = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qs(u.query)
    if "packageID" not in q:
        return None
    md5_url = urllib.parse.urlunsplit((u.scheme, u.netloc, "/md5-sum/", f"packageID={q['packageID'][0]}", ""))
    try:
        with session.open(md5_url, follow=False) as r:
            text = r.read(4096).decode("ascii", "replace").split()
        return text[0] if text and len(text[0]) == 32 else None
    except (urllib.error.URLError, OSError):
        return None


def download_dataset(name_or_cls, root=None, console=None, force: bool = False, retries: int = 5,
                     backoff: float = 1.0, progress: bool | None = None, prepare: bool = True) -> dict:
    """Fetch, verify and extract the manifest of a dataset into ``root``.

    Returns ``{"root": Path, "status": "done" | "manual", "files": [...], "instructions": str | None}``.
    ``status == "manual"`` when the dataset has no API (or, for Kaggle, no credentials): the
    instructions say which files to fetch from where and how to run ``segbench prepare``.
    """
    spec, cls = _spec_and_cls(name_or_cls)
    root = Path(root) if root else default_root(spec.name)
    files = [f for f in spec.files if f.url]
    if spec.obtain == "manual" or not files:
        text = instructions_for(cls, root)
        _say(console, text)
        return {"root": root, "status": "manual", "files": [], "instructions": text}
    session = Session()
    if spec.obtain == "kaggle":
        ks = kaggle_session()
        if ks is None:
            text = ("Kaggle credentials not found: put kaggle.json (kaggle.com → Settings → Create New Token) in "
                    "~/.kaggle/ or set KAGGLE_USERNAME and KAGGLE_KEY (or KAGGLE_API_TOKEN), accept the terms on "
                    "the Kaggle page, then run `segbench download " + spec.name + "` again. Or:\n"
                    + instructions_for(cls, root))
            _say(console, text)
            return {"root": root, "status": "manual", "files": [], "instructions": text}
        session = ks
    elif spec.obtain == "login":
        if "cityscapes" in spec.name or any("cityscapes-dataset.com" in (f.url or "") for f in files):
            if cityscapes_credentials() is None:
                text = ("Cityscapes credentials not found: set CITYSCAPES_USERNAME and CITYSCAPES_PASSWORD "
                        "(an account from https://www.cityscapes-dataset.com/register/). Or:\n"
                        + instructions_for(cls, root))
                _say(console, text)
                return {"root": root, "status": "manual", "files": [], "instructions": text}
            session = _cityscapes_session(files[0].url, console)
        else:
            text = instructions_for(cls, root)
            _say(console, text)
            return {"root": root, "status": "manual", "files": [], "instructions": text}
    root.mkdir(parents=True, exist_ok=True)
    with root_lock(root):
        manifest = LocalManifest(root)
        manifest.data["dataset"] = spec.name
        manifest.save()
        check_free_space(root, files, manifest)
        return _download_files(spec, cls, root, files, session, manifest, console, force, retries, backoff,
                               progress, prepare)


def _download_files(spec, cls, root, files, session, manifest, console, force, retries, backoff, progress,
                    prepare) -> dict:
    done = []
    for f in files:
        url = kaggle_url(f.url) if f.url.startswith("kaggle://") else f.url
        entry = f
        if spec.obtain == "login" and not (f.md5 or f.sha256) and "packageID=" in url:
            md5 = _cityscapes_md5(session, url)
            if md5:
                entry = ManifestFile(f.name, f.url, f.sha256, md5, f.size, f.extract)
        try:
            path = fetch_file(url, root / f.name, entry, session=session, manifest=manifest, console=console,
                              retries=retries, backoff=backoff, force=force, progress=progress)
        except DownloadError as e:
            if spec.obtain == "kaggle" and "HTTP 403" in str(e):
                raise DownloadError(str(e) + f"; accept the rules / terms at {_kaggle_page(f.url)}") from None
            raise
        done.append(path)
        if f.extract:
            _extract_recorded(path, root, manifest, f.name, console, progress)
    if prepare:
        _run_prepare(cls, root, manifest, console, progress)
    return {"root": root, "status": "done", "files": done, "instructions": None}


LOCK_NAME = ".segbench-lock"


@contextlib.contextmanager
def root_lock(root: Path):
    """Exclusive lock on a dataset root (``.segbench-lock`` holding the PID) so that two downloads or
    prepares never write the same ``.part`` file; a lock left by a dead process is taken over."""
    lock = Path(root) / LOCK_NAME
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and pid != os.getpid() and _pid_alive(pid):
                raise UsageError(f"expected no other segbench download/prepare on {root}, found one running "
                                 f"(pid {pid}); wait for it, or delete {lock} if it is not running")
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()  # stale
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        break
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_free_space(root: Path, files, manifest: LocalManifest) -> None:
    """Refuse to start when the manifest's known sizes do not fit on the disk of ``root``
    (files already verified are not counted; archives need about their size again to extract)."""
    need = 0
    for f in files:
        if not f.size:
            continue
        rec = manifest.get(f.name)
        if rec.get("verified") and (root / f.name).is_file():
            need += f.size if (f.extract and not rec.get("extracted")) else 0
            continue
        part = root / (f.name + ".part")
        have = part.stat().st_size if part.is_file() else 0
        need += (f.size - have) + (f.size if f.extract else 0)
    if need:
        free = shutil.disk_usage(root).free
        if free < need:
            raise DownloadError(f"expected {need / 1e9:.1f} GB free on the disk of {root} (download + extraction), "
                                f"found {free / 1e9:.1f} GB; free space or pass --root on a larger disk")


def _extract_recorded(path: Path, root: Path, manifest: LocalManifest, name: str, console, progress) -> None:
    rec = manifest.get(name)
    if rec.get("extracted") and rec.get("extracted_sha256") == rec.get("sha256"):
        _say(console, f"{name}: already extracted")
        return
    tops = safe_extract(path, root, console=console, progress=progress)
    manifest.set(name, extracted=True, extracted_sha256=rec.get("sha256"), extracted_to=tops)
    _say(console, f"{name}: extracted ({', '.join(tops[:4])}{'…' if len(tops) > 4 else ''})")


def _run_prepare(cls, root: Path, manifest: LocalManifest, console, progress) -> None:
    hook = getattr(cls, "prepare_root", None)
    if hook is None:
        return
    hook(root, console=console, progress=progress)
    manifest.mark_prepared("convert", True)


def _find_source(src: Path, name: str) -> Path | None:
    if src.is_file():
        return src if src.name == name else None
    direct = src / name
    if direct.is_file():
        return direct
    for p in src.rglob(name):
        if p.is_file():
            return p
    return None


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists() and dst.stat().st_size == src.stat().st_size:
        return
    part = dst.with_name(dst.name + ".part")
    with contextlib.suppress(FileNotFoundError):
        part.unlink()
    try:
        os.link(src, part)
    except OSError:
        shutil.copy2(src, part)
    os.replace(part, dst)


def _copy_tree(src: Path, dst: Path) -> int:
    n = 0
    for p in src.rglob("*"):
        rel = p.relative_to(src)
        if any(part.startswith(".extract-") for part in rel.parts) or rel.name in (LOCAL_MANIFEST, ".segbench-lock"):
            continue
        target = dst / rel
        if p.is_symlink():
            continue
        if p.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif p.is_file():
            _link_or_copy(p, target)
            n += 1
    return n


def prepare_dataset(name_or_cls, src, root=None, console=None, progress: bool | None = None) -> dict:
    """Take the archives / folders a user downloaded (``--from``) into ``root`` and convert them.

    For each manifest file found under ``src`` (by name): verify (manifest hash or recorded sha256),
    hard-link or copy it into ``root``, extract it when the manifest says so. When ``src`` holds no
    manifest file but is an archive, it is extracted; when it is a folder (an already extracted
    dataset), its tree is linked/copied into ``root``. Then the adapter's ``prepare_root`` hook converts
    native formats where evaluation needs it (idempotent: finished outputs are skipped).
    """
    spec, cls = _spec_and_cls(name_or_cls)
    src = Path(src).expanduser()
    if not src.exists():
        raise NotFoundError(f"expected the downloaded files of {spec.name} at {src}, found nothing; "
                            f"run `segbench download {spec.name}` to see which files to fetch")
    root = Path(root) if root else default_root(spec.name)
    root.mkdir(parents=True, exist_ok=True)
    with root_lock(root):
        return _prepare_locked(spec, cls, src, root, console, progress)


def _prepare_locked(spec, cls, src: Path, root: Path, console, progress) -> dict:
    manifest = LocalManifest(root)
    manifest.data["dataset"] = spec.name
    manifest.save()
    used = []
    for f in spec.files:
        found = _find_source(src, f.name)
        if found is None:
            continue
        rec = manifest.get(f.name)
        if not (rec.get("verified") and rec.get("size") == found.stat().st_size
                and (root / f.name).exists()):
            sha = _verify(found, f, rec, console)
            _link_or_copy(found, root / f.name)
            manifest.set(f.name, sha256=sha, size=found.stat().st_size, verified=True, source="prepare",
                         mtime=int((root / f.name).stat().st_mtime))
        used.append(f.name)
        if f.extract:
            _extract_recorded(root / f.name, root, manifest, f.name, console, progress)
    if not used:
        if src.is_file():
            if archive_kind(src) is None:
                raise BadInputError(f"expected one of {', '.join(f.name for f in spec.files) or 'the archives'} "
                                    "or a zip/tar archive, found an unknown file", path=src)
            _say(console, f"{src.name}: not in the manifest of {spec.name}; extracting it as given")
            safe_extract(src, root, console=console, progress=progress)
        elif src.resolve() != root.resolve():
            n = _copy_tree(src, root)
            _say(console, f"{spec.name}: linked/copied {n} files from {src}")
    _run_prepare(cls, root, manifest, console, progress)
    return {"root": root, "used": used}


def dataset_status(cls, root=None, verify: bool = False) -> dict:
    """``{"root", "on_disk", "verified"}`` for ``segbench datasets``.

    By default cheap (the download record, no hashing). With ``verify`` the manifest files on disk are
    hashed again and checked against the manifest / the recorded sha256.
    """
    spec = cls.spec
    root = Path(root) if root else default_root(spec.name)
    on_disk = root.is_dir() and any(p.name not in (LOCAL_MANIFEST, LOCK_NAME) for p in root.iterdir())
    verified = False
    if on_disk and (root / LOCAL_MANIFEST).is_file():
        try:
            m = LocalManifest(root)
        except BadInputError:
            m = None
        if m is not None:
            names = [f.name for f in spec.files]
            recs = [m.get(n) for n in names]
            verified = bool(names) and all(r.get("verified") and ((root / n).is_file() or r.get("extracted"))
                                           for n, r in zip(names, recs))
            if verified and verify:
                for f, r in zip(spec.files, recs):
                    if (root / f.name).is_file():
                        try:
                            _verify(root / f.name, f, r)
                        except DownloadError:
                            verified = False
                            break
    return {"root": str(root), "on_disk": bool(on_disk), "verified": bool(verified)}


def list_datasets(base=None, names: Iterable[str] | None = None, verify: bool = False) -> list[dict]:
    """One row per registered dataset for ``segbench datasets``.

    ``base`` replaces :func:`data_home` (each dataset is looked for in ``base / name``). A dataset
    whose adapter cannot be imported is listed with ``available: False`` and the error.
    """
    from . import DATASETS
    rows = []
    for name in (list(names) if names is not None else list(DATASETS)):
        row = {"name": name}
        try:
            from . import get_dataset_class
            cls = get_dataset_class(name)
            spec = cls.spec
        except Exception as e:  # an adapter that does not import must not hide the others
            row.update(task=None, license=None, obtain=None, on_disk=False, verified=False, size=None,
                       version=None, homepage=None, available=False, error=f"{type(e).__name__}: {e}")
            rows.append(row)
            continue
        root = (Path(base) / spec.name) if base else default_root(spec.name)
        st = dataset_status(cls, root, verify=verify)
        row.update(task=spec.task, license=spec.license, obtain=spec.obtain, on_disk=st["on_disk"],
                   verified=st["verified"], size=spec.size, version=spec.version, homepage=spec.homepage,
                   root=st["root"], available=True)
        rows.append(row)
    return rows
