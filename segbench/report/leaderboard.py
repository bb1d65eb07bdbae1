"""Leaderboards: a pure function of RunRecords (plus the paper-reported rows), with pandas.

One leaderboard per ``(dataset name, task)``, its rows grouped by split and ranked within each split.
For each model and split the *best* run by the task's primary metric is kept (ties: the newest run). Paper-reported rows from ``leaderboards/reported.csv``
(with their sources) are appended beside the measured ones and marked ``source = "reported"``; they
are never mixed into the ranking of measured runs.

Values stay fractions in 0..1 in the frames (reported percentages are divided by 100); renderers
format them.

Columns of a leaderboard frame: ``rank`` (within the split; measured rows only), ``model``, ``source`` (``segbench``
or ``reported``), ``split``, the summary keys of the metrics (``mIoU``, ``mAcc``...), ``metrics``
(``name@version`` list), ``dataset`` (``name@version``), ``runs`` (how many runs of that model),
``run_id``, ``created``, ``variant``, ``reference`` (the paper/source of reported rows) and ``notes``.

Examples
--------
>>> from segbench.results import RunRecord
>>> def rec(model, miou):
...     return RunRecord(dataset="toy@1", split="val", task="semantic", model={"name": model},
...                      predictions={}, metrics={"miou@1": {"values": {"mIoU": miou}}})
>>> boards = build_leaderboards([rec("a", 0.5), rec("a", 0.6), rec("b", 0.55)])
>>> df = boards[("toy", "semantic")]
>>> df[["rank", "model", "mIoU", "runs"]].values.tolist()
[[1, 'a', 0.6, 2], [2, 'b', 0.55, 1]]
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Sequence

__all__ = ["PRIMARY_METRIC", "primary_metric", "records_frame", "build_leaderboards", "leaderboard",
           "load_reported", "default_reported_path", "lower_is_better"]

#: The key a leaderboard of each task is ranked by (first one present in the runs).
PRIMARY_METRIC = {
    "semantic": ("mIoU",), "binary": ("mIoU", "Dice", "mDice"), "multilabel": ("mDice", "Dice", "mAUPR", "mIoU"),
    "panoptic": ("PQ",), "instance": ("AP",), "boundary": ("ODS", "BF"), "video": ("J&F",),
    "video-instance": ("AP",), "interactive": ("NoC@90", "NoC@85"), "referring": ("mIoU", "oIoU"), "fewshot": ("mIoU", "FB_IoU"),
}


def lower_is_better(key: str) -> bool:
    """True for keys where smaller is better (click counts, failure counts, decays, errors, times)."""
    k = str(key).lower()
    return k.startswith(("noc", "nof", "h_", "voi")) or k.endswith("_decay") or "error" in k or k.endswith("_s") or k in ("seconds", "time")


def primary_metric(task: str, columns: Iterable[str]) -> str | None:
    """The ranking key for ``task`` among ``columns`` (else the first value column)."""
    cols = list(columns)
    for k in PRIMARY_METRIC.get(task, ()):
        if k in cols:
            return k
    return cols[0] if cols else None


def _nan(v):
    return float("nan") if v is None else v


def records_frame(records: Sequence) -> "pd.DataFrame":
    """One row per RunRecord: provenance columns + every summary value (flat, fractions)."""
    import pandas as pd
    rows = []
    for r in records:
        vals = {k: _nan(v) for k, v in r.values().items() if v is None or isinstance(v, (int, float))}
        rows.append({"dataset_name": r.dataset_name, "dataset": r.dataset, "task": r.task, "split": r.split,
                     "model": r.model_name, "source": "segbench",
                     "model_source": (r.model or {}).get("source", ""),
                     "metrics": ", ".join(r.metrics), "run_id": r.run_id, "created": r.created,
                     "segbench_version": r.segbench_version, "_keys": list(vals), **vals})
    return pd.DataFrame(rows)


def default_reported_path() -> Path | None:
    """``leaderboards/reported.csv`` of the source tree (editable installs), or None."""
    p = Path(__file__).resolve().parents[2] / "leaderboards" / "reported.csv"
    return p if p.is_file() else None


def load_reported(path=None) -> "pd.DataFrame":
    """Paper-reported results (``leaderboards/reported.csv``); an empty frame when there is none.

    Values in percent (``unit == "%"``) are converted to fractions.
    """
    import pandas as pd
    cols = ["model", "variant", "task", "dataset", "split", "metric", "value", "unit", "notes", "source"]
    p = Path(path) if path else default_reported_path()
    if p is None:
        return pd.DataFrame(columns=cols)
    if not p.is_file():
        from ..errors import NotFoundError
        raise NotFoundError("expected a reported-results CSV, found nothing", path=p)
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as e:  # pandas' ParserError / EmptyDataError are ValueErrors
        from ..errors import BadInputError
        raise BadInputError(f"expected a reported-results CSV, found unparsable text ({str(e).strip()[:120]})",
                            path=p) from None
    missing = [c for c in ("model", "task", "dataset", "split", "metric", "value", "source") if c not in df.columns]
    if missing:
        from ..errors import BadInputError
        raise BadInputError(f"expected the columns {missing} in the reported-results CSV", path=p)
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    unit = df["unit"] if "unit" in df.columns else "%"
    df["value"] = df["value"].where(~(pd.Series(unit, index=df.index) == "%"), df["value"] / 100.0)
    for c in cols:
        if c not in df.columns:
            df[c] = ""
    return df


def _dataset_matches(reported_name: str, dataset_name: str) -> bool:
    """``cityscapes`` rows match the ``cityscapes`` runs and those of its variants such as
    ``cityscapes-panoptic`` (never the generic ``*-style`` datasets)."""
    if dataset_name == reported_name:
        return True
    return dataset_name.startswith(reported_name + "-") and not dataset_name.endswith("-style")


def _reported_for(reported, dataset_name: str, task: str):
    if reported is None or len(reported) == 0:
        return None
    match = reported["dataset"].astype(str).map(lambda d: _dataset_matches(d, dataset_name))
    return reported[match & (reported["task"] == task)]


def leaderboard(records: Sequence, dataset: str, task: str, reported=None, best_per_model: bool = True):
    """The leaderboard frame of one ``(dataset name, task)`` (see the module docstring)."""
    import pandas as pd
    recs = [r for r in records if r.dataset_name == dataset and r.task == task]
    df = records_frame(recs)
    value_cols: list = []
    for keys in (df["_keys"] if len(df) else []):
        for k in keys:
            if k not in value_cols:
                value_cols.append(k)
    key = primary_metric(task, value_cols)
    out_rows = []
    if len(df):
        df = df.drop(columns=["_keys"])
        asc = lower_is_better(key) if key else False
        score = df[key] if key in df else pd.Series(float("nan"), index=df.index)
        df = df.assign(_score=score.fillna(float("inf") if asc else -float("inf")))
        df = df.sort_values(["split", "_score", "created"], ascending=[True, asc, False], kind="mergesort")
        counts = df.groupby(["model", "split"]).size().to_dict()
        if best_per_model:
            df = df.drop_duplicates(subset=["model", "split"], keep="first")
        df = df.assign(runs=[counts[(m, s)] for m, s in zip(df["model"], df["split"])])
        df = df.drop(columns=["_score"]).reset_index(drop=True)
        df.insert(0, "rank", df.groupby("split").cumcount() + 1)  # ranked within each split
        out_rows.append(df)
    rep = _reported_for(reported, dataset, task) if reported is not None else None
    if rep is not None and len(rep):
        rrows = []
        for _, r in rep.iterrows():
            row = {"rank": None, "model": r["model"], "source": "reported", "split": r["split"],
                   "variant": r.get("variant", ""), "reference": r.get("source", ""), "notes": r.get("notes", ""),
                   "dataset": r["dataset"], "task": task, r["metric"]: r["value"]}
            if r["metric"] not in value_cols:
                value_cols.append(r["metric"])
            rrows.append(row)
        rdf = pd.DataFrame(rrows)
        if key in rdf.columns:  # best reported first (per split), rows without the key last
            rdf = rdf.sort_values(["split", key], ascending=[True, lower_is_better(key)], na_position="last",
                                  kind="mergesort")
        out_rows.append(rdf)
    if not out_rows:
        return pd.DataFrame(columns=["rank", "model", "source", "split"])
    out = pd.concat(out_rows, ignore_index=True, sort=False)
    for c in ("rank", "runs"):
        if c in out:
            out[c] = out[c].astype("Int64")
    front = ["rank", "model", "source", "split"] + value_cols
    rest = [c for c in ["metrics", "dataset", "runs", "model_source", "run_id", "created", "segbench_version",
                        "variant", "reference", "notes"] if c in out.columns]
    for c in front:
        if c not in out.columns:
            out[c] = float("nan") if c in value_cols else None
    out = out[front + rest]
    out.attrs["dataset"] = dataset
    out.attrs["task"] = task
    out.attrs["primary"] = key
    out.attrs["value_columns"] = value_cols
    return out


def build_leaderboards(records: Sequence, reported=None, best_per_model: bool = True) -> dict:
    """``{(dataset name, task): leaderboard frame}`` for every pair present in ``records``."""
    pairs = []
    for r in records:
        p = (r.dataset_name, r.task)
        if p not in pairs:
            pairs.append(p)
    return {p: leaderboard(records, p[0], p[1], reported=reported, best_per_model=best_per_model)
            for p in sorted(pairs)}


def best_record(records: Sequence, dataset: str, task: str, model: str, split: str | None = None):
    """The record behind a measured leaderboard row (for figures), or None."""
    cands = [r for r in records if r.dataset_name == dataset and r.task == task and r.model_name == model
             and (split is None or r.split == split)]
    if not cands:
        return None
    vals = list(cands[0].values())
    key = primary_metric(task, vals)
    asc = lower_is_better(key) if key else False

    def score(r):
        v = r.values().get(key, float("nan"))
        v = float("nan") if v is None else float(v)
        if math.isnan(v):
            return (1, "")
        return (0, v if asc else -v)
    # best score first; among ties the newest
    cands = sorted(cands, key=lambda r: r.created, reverse=True)
    return sorted(cands, key=score)[0]
