"""RunRecord JSON (atomic, versioned) and the SQLite results store (WAL, concurrent writers)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from segbench.errors import BadInputError
from segbench.io.atomic import atomic_open, atomic_write_json
from segbench.results import SCHEMA_VERSION, ResultsStore, RunRecord, load_record


def make_record(model="m", miou=0.5, **kw) -> RunRecord:
    return RunRecord(dataset="isbi-membrane@2012", split="train", task="binary", model={"name": model},
                     predictions={"path": "/p", "fingerprint": "sha256:0", "count": 3},
                     metrics={"miou@1": {"values": {"mIoU": miou, "mAcc": None},
                                         "per_class": {"cell": {"IoU": miou}, "membrane": {"IoU": None}},
                                         "per_sample": None, "artifacts": {"confusion_matrix": [[1, 2], [3, 4]]}}},
                     **kw)


def test_schema_round_trip_json(tmp_path):
    rec = make_record(config={"a": [1, 2]}, timings={"total_s": 0.1})
    rec.to_json(tmp_path / "r.json")
    d = json.loads((tmp_path / "r.json").read_text())
    assert list(d)[0] == "schema_version" and d["schema_version"] == SCHEMA_VERSION
    back = load_record(tmp_path / "r.json")
    assert back.to_dict() == rec.to_dict()
    assert back.result("miou").per_class["membrane"]["IoU"] != back.result("miou").per_class["membrane"]["IoU"]  # NaN


def test_schema_round_trip_store(tmp_path):
    store = ResultsStore(tmp_path / "r.db")
    recs = [make_record("a", 0.4), make_record("b", 0.6)]
    for r in recs:
        store.add(r)
    got = store.records()
    assert [g.to_dict() for g in got] == [r.to_dict() for r in recs]
    assert [g.model_name for g in store.records(dataset="isbi-membrane")] == ["a", "b"]
    assert store.records(dataset="cityscapes") == [] and store.records(task="semantic") == []
    con = sqlite3.connect(tmp_path / "r.db")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    store.add(recs[0])  # same run_id: replaced, not duplicated
    assert len(store.records()) == 2


def test_load_record_errors(tmp_path):
    with pytest.raises(BadInputError, match="found nothing"):
        load_record(tmp_path / "none.json")
    (tmp_path / "half.json").write_text('{"schema_version": 1, "dataset": ')
    with pytest.raises(BadInputError, match="unparsable"):
        load_record(tmp_path / "half.json")
    d = make_record().to_dict()
    d["schema_version"] = 99
    (tmp_path / "v.json").write_text(json.dumps(d))
    with pytest.raises(BadInputError, match="schema_version"):
        load_record(tmp_path / "v.json")


def test_exception_inside_atomic_open_keeps_old_file(tmp_path):
    p = tmp_path / "r.json"
    atomic_write_json(p, {"old": True})
    with pytest.raises(RuntimeError):
        with atomic_open(p, "wb") as f:
            f.write(b'{"new": ')
            raise RuntimeError("boom")
    assert json.loads(p.read_text()) == {"old": True}
    assert sorted(x.name for x in tmp_path.iterdir()) == ["r.json"]  # no temp file left
    with pytest.raises(RuntimeError):
        with atomic_open(tmp_path / "fresh.json", "wb") as f:
            f.write(b"{")
            raise RuntimeError("boom")
    assert not (tmp_path / "fresh.json").exists()


def test_atomic_files_get_normal_permissions(tmp_path):
    p = tmp_path / "x.json"
    atomic_write_json(p, {})
    mode = os.stat(p).st_mode & 0o777
    um = os.umask(0o022)
    os.umask(um)
    assert mode == 0o666 & ~um


_CHILD_PRELUDE = """
import os, signal, sys, json, sqlite3
sys.path.insert(0, {root!r})
from segbench.results import RunRecord, ResultsStore
def make(model):
    return RunRecord(dataset="toy@1", split="val", task="semantic", model={{"name": model}}, predictions={{}},
                     metrics={{"miou@1": {{"values": {{"mIoU": 0.5}}, "per_class": {{}}, "artifacts": {{
                         "confusion_matrix": [[i] * 200 for i in range(200)]}}}}}})
"""


def _child(code: str, tmp_path) -> subprocess.CompletedProcess:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = _CHILD_PRELUDE.format(root=root) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_killed_during_json_write_leaves_no_half_file(tmp_path):
    out = tmp_path / "run.json"
    r = _child(f"""
        import segbench.io.atomic as A
        real_fsync = os.fsync
        def die(fd):   # the data is in the temp file, the rename has not happened: die now
            os.kill(os.getpid(), signal.SIGKILL)
        A.os.fsync = die
        make("m").to_json({str(out)!r})
    """, tmp_path)
    assert r.returncode == -9, r.stderr
    assert not out.exists()
    # and an existing record survives a killed rewrite intact
    out.write_text(json.dumps({"old": 1}))
    r = _child(f"""
        import segbench.io.atomic as A
        A.os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)
        make("m").to_json({str(out)!r})
    """, tmp_path)
    assert r.returncode == -9
    assert json.loads(out.read_text()) == {"old": 1}


def test_killed_during_db_insert_leaves_no_row(tmp_path):
    db = tmp_path / "r.db"
    ResultsStore(db).add(make_record("kept"))
    r = _child(f"""
        real_connect = sqlite3.connect
        class Con:
            def __init__(self, *a, **k):
                self.c = real_connect(*a, **k)
            def execute(self, sql, *args):
                if sql.strip().upper() == "COMMIT":   # the INSERT is done, the commit is not: die
                    os.kill(os.getpid(), signal.SIGKILL)
                return self.c.execute(sql, *args)
            def __getattr__(self, name):
                return getattr(self.c, name)
        import segbench.results as R
        R.sqlite3 = type("M", (), {{"connect": staticmethod(lambda *a, **k: Con(*a, **k)),
                                    "Connection": sqlite3.Connection, "DatabaseError": sqlite3.DatabaseError}})
        ResultsStore({str(db)!r}).add(make("lost"))
    """, tmp_path)
    assert r.returncode == -9, r.stderr
    names = [x.model_name for x in ResultsStore(db).records()]
    assert names == ["kept"]


def test_two_processes_write_at_once(tmp_path):
    db = tmp_path / "r.db"
    ResultsStore(db)
    n = 15
    code = f"""
        store = ResultsStore({str(db)!r})
        for i in range({n}):
            store.add(make(sys.argv[2] + str(i)))
    """
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = _CHILD_PRELUDE.format(root=root) + textwrap.dedent(code)
    procs = [subprocess.Popen([sys.executable, "-c", script, "0", tag], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for tag in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
    recs = ResultsStore(db).records()
    names = sorted(r.model_name for r in recs)
    assert names == sorted([f"a{i}" for i in range(n)] + [f"b{i}" for i in range(n)])
    assert all(len(r.metrics["miou@1"]["artifacts"]["confusion_matrix"]) == 200 for r in recs)


def test_store_retries_when_sqlite_refuses_the_lock_at_once(tmp_path, monkeypatch):
    """Two processes creating one store: SQLite may answer "database is locked" at once (deadlock
    avoidance, no busy wait) to the one switching the file to WAL; opening retries instead of failing."""
    import sqlite3

    real = ResultsStore._connect
    refusals = []

    class Refusing:
        def __init__(self, con):
            self.con = con

        def execute(self, sql, *args):
            if sql.startswith("PRAGMA journal_mode") and len(refusals) < 3:
                refusals.append(sql)
                raise sqlite3.OperationalError("database is locked")
            return self.con.execute(sql, *args)

        def close(self):
            self.con.close()

    monkeypatch.setattr(ResultsStore, "_connect", lambda self: Refusing(real(self)))
    store = ResultsStore(tmp_path / "r.db")
    assert len(refusals) == 3
    monkeypatch.setattr(ResultsStore, "_connect", real)
    assert store.records() == []
    import sqlite3 as sq
    assert sq.connect(str(tmp_path / "r.db")).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_that_is_not_sqlite_is_one_clear_error(tmp_path):
    from segbench.errors import BadInputError
    bad = tmp_path / "r.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(BadInputError, match="expected a segbench SQLite results store"):
        ResultsStore(bad)


def test_results_store_refuses_what_it_cannot_use_and_readers_change_nothing(tmp_path):
    import sqlite3
    from segbench.errors import BadInputError
    from segbench.results import ResultsStore
    (tmp_path / "adir").mkdir()
    with pytest.raises(BadInputError, match="found a folder"):
        ResultsStore(tmp_path / "adir")
    wrong = tmp_path / "wrong.db"
    con = sqlite3.connect(wrong)
    con.execute("create table runs(x)")
    con.commit()
    con.close()
    with pytest.raises(BadInputError, match=r"wrong.db.*'runs' table with columns \['x'\]"):
        ResultsStore(wrong)
    foreign = tmp_path / "foreign.db"
    con = sqlite3.connect(foreign)
    con.execute("create table foo(x)")
    con.commit()
    con.close()
    before = foreign.read_bytes()
    with pytest.raises(BadInputError, match="no 'runs' table"):
        ResultsStore(foreign, create=False)
    assert foreign.read_bytes() == before and not (tmp_path / "foreign.db-wal").exists()
    with pytest.raises(BadInputError, match="found nothing"):
        ResultsStore(tmp_path / "none.db", create=False)
    assert not (tmp_path / "none.db").exists()
