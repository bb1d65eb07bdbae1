"""RunRecord (versioned JSON schema) and the SQLite results store.

Every number segbench prints carries its provenance: the dataset ``name@version`` and split, the
metric ``name@version``, the segbench version and git hash, the model (or "user predictions") and a
fingerprint of the prediction files. A RunRecord is written atomically as JSON and/or inserted in one
transaction into ``results.db`` (SQLite in WAL mode, safe for two runs at once). Leaderboards are pure
functions of records.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from .errors import BadInputError
from .io.atomic import atomic_write_json
from .metrics.base import MetricResult

SCHEMA_VERSION = 1

__all__ = ["RunRecord", "ResultsStore", "SCHEMA_VERSION", "fingerprint_files", "environment_info",
           "load_record"]


def _segbench_version() -> str:
    from . import __version__
    return __version__


def _git_hash() -> str | None:
    here = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment_info() -> dict:
    """Python, platform and the versions of the numeric libraries in use."""
    import numpy
    info = {"python": platform.python_version(), "platform": platform.platform(),
            "numpy": numpy.__version__, "cpu_count": os.cpu_count()}
    for mod in ("PIL", "scipy", "skimage", "pycocotools"):
        m = sys.modules.get(mod)
        if m is not None:
            info[mod] = getattr(m, "__version__", "?")
    return info


def fingerprint_files(paths: Iterable, root=None) -> str:
    """sha256 over (relative name, size, mtime_ns) of the prediction files: cheap, changes when any
    file is added, removed, renamed or rewritten."""
    h = hashlib.sha256()
    root = Path(root) if root else None
    for p in sorted(str(x) for x in paths):
        try:
            st = os.stat(p)
            meta = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            meta = "missing"
        name = os.path.relpath(p, root) if root else os.path.basename(p)
        h.update(f"{name}\0{meta}\n".encode())
    return "sha256:" + h.hexdigest()


@dataclass
class RunRecord:
    """One evaluation run: provenance + metric results.

    Attributes
    ----------
    dataset : str
        ``name@version`` of the dataset adapter (styles: ``cityscapes-style@1``).
    split : str
    task : str
        ``semantic``, ``instance``, ``panoptic``, ``boundary``, ``video``...
    model : dict
        ``{"name": ..., "weights_sha256": ... or None, "source": "user predictions" | "segbench predict", ...}``.
    predictions : dict
        ``{"path": ..., "fingerprint": ..., "count": n}``.
    metrics : dict
        ``"name@version"`` → :meth:`MetricResult.to_dict`.
    """

    dataset: str
    split: str
    task: str
    model: dict
    predictions: dict
    metrics: dict
    config: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    environment: dict = field(default_factory=environment_info)
    segbench_version: str = field(default_factory=_segbench_version)
    git_hash: str | None = field(default_factory=_git_hash)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    schema_version: int = SCHEMA_VERSION

    # ---- access
    @property
    def dataset_name(self) -> str:
        return self.dataset.split("@")[0]

    @property
    def model_name(self) -> str:
        return str(self.model.get("name", "?"))

    def values(self) -> dict:
        """All summary values of all metrics, flat (later metrics do not overwrite earlier keys)."""
        out: dict = {}
        for res in self.metrics.values():
            for k, v in (res.get("values") or {}).items():
                out.setdefault(k, float("nan") if v is None else v)
        return out

    def result(self, metric: str) -> MetricResult:
        """The :class:`MetricResult` of ``metric`` (``name`` or ``name@version``)."""
        for key, res in self.metrics.items():
            if key == metric or key.split("@")[0] == metric:
                return MetricResult.from_dict(res)
        raise KeyError(metric)

    # ---- serialisation
    def to_dict(self) -> dict:
        d = asdict(self)
        return {"schema_version": d.pop("schema_version"), **d}

    def to_json(self, path) -> None:
        """Write atomically (temp file + rename)."""
        atomic_write_json(path, self.to_dict())

    @classmethod
    def from_dict(cls, d: dict) -> "RunRecord":
        sv = d.get("schema_version")
        if sv != SCHEMA_VERSION:
            raise BadInputError(f"expected a RunRecord with schema_version {SCHEMA_VERSION}, found {sv!r}; "
                                "re-run `segbench eval --json` with this segbench version")
        fields = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        missing = {"dataset", "split", "task", "model", "predictions", "metrics"} - set(fields)
        if missing:
            raise BadInputError(f"RunRecord lacks the fields {sorted(missing)}")
        _check_metrics(fields["metrics"])
        return cls(**fields)


def _is_number(v) -> bool:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        float(v)
    except OverflowError:
        return False
    return True


def _check_metrics(metrics) -> None:
    """The shape segbench writes: ``{name@version: {"values": {key: number|null}, "per_class": {class:
    {key: number|null}}, ...}}``; a hand-edited record that breaks it is refused, never misread."""
    if not isinstance(metrics, dict):
        raise BadInputError(f"expected 'metrics' as an object {{name@version: result}}, found "
                            f"{type(metrics).__name__}")
    for name, res in metrics.items():
        if not isinstance(res, dict):
            raise BadInputError(f"metrics[{name!r}]: expected an object with 'values', found {type(res).__name__}")
        tables = [("values", res.get("values"))]
        pc = res.get("per_class")
        if pc is not None:
            if not isinstance(pc, dict):
                raise BadInputError(f"metrics[{name!r}].per_class: expected an object {{class: {{key: number}}}}, "
                                    f"found {type(pc).__name__}")
            tables += [(f"per_class[{c!r}]", row) for c, row in pc.items()]
        for where, table in tables:
            if table is None:
                continue
            if not isinstance(table, dict):
                raise BadInputError(f"metrics[{name!r}].{where}: expected an object {{key: number}}, found "
                                    f"{type(table).__name__}")
            for k, v in table.items():
                if v is not None and not _is_number(v):
                    raise BadInputError(f"metrics[{name!r}].{where}[{k!r}]: expected a number or null, found "
                                        f"{str(v)[:40]!r}; was the record edited by hand?")


def load_record(path) -> RunRecord:
    """Read a RunRecord JSON, with one clear error line for a missing or malformed file."""
    p = Path(path)
    if not p.is_file():
        raise BadInputError("expected a RunRecord JSON file, found nothing; run `segbench eval ... --json FILE`",
                            path=p)
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise BadInputError(f"expected RunRecord JSON, found unparsable text ({e})", path=p) from None
    if not isinstance(d, dict):
        raise BadInputError(f"expected a JSON object, found {type(d).__name__}", path=p)
    try:
        return RunRecord.from_dict(d)
    except BadInputError as e:
        raise BadInputError(e.message, path=p) from None


class ResultsStore:
    """SQLite results store (``results.db``), WAL mode, one row per RunRecord.

    Inserts are single transactions, so an interrupted run leaves no half row, and two processes may
    write at once (WAL + busy timeout).

    Examples
    --------
    >>> import tempfile, os
    >>> store = ResultsStore(os.path.join(tempfile.mkdtemp(), "r.db"))
    >>> len(store.records())
    0
    """

    _COLUMNS = ["run_id", "created", "dataset", "split", "task", "model", "segbench_version", "schema_version",
                "record"]

    def __init__(self, path="results.db", create: bool = True):
        self.path = Path(path)
        if self.path.is_dir():
            raise BadInputError("expected a results store file (e.g. results.db), found a folder; pass --db FILE",
                                path=self.path)
        if not create:  # readers never create or convert a file (a foreign SQLite file stays untouched)
            if not self.path.is_file():
                raise BadInputError("expected a results store, found nothing; record runs with "
                                    "`segbench eval ... --record --db FILE`", path=self.path)
            self._check_schema()
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BadInputError(f"expected a folder where the results store can be created, found none ({e.strerror})",
                                path=self.path.parent) from None
        self._init()

    def _connect(self) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
            con.execute("PRAGMA busy_timeout = 30000")
        except sqlite3.Error as e:
            raise BadInputError(f"expected a results store SQLite can open here, found it cannot ({e}); check the "
                                f"path and its permissions", path=self.path) from None
        return con

    def _check_schema(self) -> None:
        con = self._connect()
        try:
            cols = [r[1] for r in con.execute("PRAGMA table_info(runs)").fetchall()]
        except sqlite3.DatabaseError as e:
            raise BadInputError(f"expected a segbench SQLite results store, found an unreadable file ({e})",
                                path=self.path) from None
        finally:
            con.close()
        if cols != self._COLUMNS:
            found = f"a 'runs' table with columns {cols}" if cols else "no 'runs' table"
            raise BadInputError(f"expected a segbench results store, found an SQLite file with {found}; pass "
                                f"another --db", path=self.path)

    def _init(self) -> None:
        # Two processes opening a new store at once: switching it to WAL needs a lock that SQLite may
        # refuse at once ("database is locked") instead of waiting; such a refusal is retried.
        deadline = time.monotonic() + 30.0
        while True:
            con = self._connect()
            try:
                if str(con.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                    con.execute("PRAGMA journal_mode = WAL")
                con.execute(
                    "CREATE TABLE IF NOT EXISTS runs ("
                    " run_id TEXT PRIMARY KEY, created TEXT, dataset TEXT, split TEXT, task TEXT,"
                    " model TEXT, segbench_version TEXT, schema_version INTEGER, record TEXT NOT NULL)")
                break
            except sqlite3.DatabaseError as e:
                locked = isinstance(e, sqlite3.OperationalError) and ("locked" in str(e) or "busy" in str(e))
                if not locked:
                    raise BadInputError(f"expected a segbench SQLite results store, found an unreadable file ({e})",
                                        path=self.path) from None
                if time.monotonic() > deadline:
                    raise BadInputError(f"expected to open the results store within 30 s, found it locked by another "
                                        f"process ({e}); retry when that run has finished", path=self.path) from None
            finally:
                con.close()
            time.sleep(0.02 + 0.05 * random.random())
        self._check_schema()

    def add(self, record: RunRecord) -> None:
        """Insert (or replace) a record in one transaction."""
        payload = json.dumps(record.to_dict(), allow_nan=False)
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute("INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?)",
                        (record.run_id, record.created, record.dataset, record.split, record.task,
                         record.model_name, record.segbench_version, record.schema_version, payload))
            con.execute("COMMIT")
        except sqlite3.Error as e:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise BadInputError(f"expected to add the run to the results store, found it cannot be written ({e}); "
                                f"check its permissions or pass another --db", path=self.path) from None
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    def records(self, dataset: str | None = None, task: str | None = None) -> list[RunRecord]:
        """All records (optionally of one dataset name and/or task), oldest first."""
        q, args = "SELECT record FROM runs", []
        conds = []
        if dataset:
            conds.append("(dataset = ? OR dataset LIKE ?)")
            args += [dataset, dataset + "@%"]
        if task:
            conds.append("task = ?")
            args.append(task)
        if conds:
            q += " WHERE " + " AND ".join(conds)
        q += " ORDER BY created, rowid"
        con = self._connect()
        try:
            rows = con.execute(q, args).fetchall()
        except sqlite3.Error as e:
            raise BadInputError(f"expected to read the results store, found an error ({e})", path=self.path) from None
        finally:
            con.close()
        out = []
        for r in rows:
            try:
                out.append(RunRecord.from_dict(json.loads(r[0])))
            except (ValueError, BadInputError) as e:
                raise BadInputError(f"a stored run cannot be read ({getattr(e, 'message', e)})", path=self.path) \
                    from None
        return out
