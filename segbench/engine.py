"""The evaluation loop: samples × predictions × metrics, in-process, in a process pool, or on Dask.

Samples are cut into fixed-size chunks (independent of the number of workers). Each chunk is
evaluated with fresh metrics and returns their states; states are merged in chunk order. Because the
chunking and the merge order do not depend on ``workers`` or the scheduler, 1 worker, N workers and
Dask give identical numbers (bit for bit, also for float sums).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable, Sequence

from .datasets.base import DatasetAdapter, PredictionSource
from .errors import BadInputError, UsageError
from .metrics.base import Metric

__all__ = ["evaluate_samples", "evaluate_run", "check_coverage", "CHUNK_SIZE", "EvalOutput"]

CHUNK_SIZE = 8


@dataclass
class EvalOutput:
    """Results of :func:`evaluate_samples`."""

    results: dict  # metric key -> MetricResult
    metrics: list  # merged Metric objects
    timings: dict = field(default_factory=dict)
    num_samples: int = 0


def _run_chunk(dataset: DatasetAdapter, predictions: PredictionSource, protos: Sequence[Metric],
               ids: Sequence[str]) -> list[dict]:
    metrics = [m.fresh() for m in protos]
    for sid in ids:
        sample = dataset.load(sid)
        pred = predictions.load(sample)
        for m in metrics:
            m.update(pred, sample)
    return [m.state_dict() for m in metrics]


def _chunks(ids: Sequence[str], size: int) -> list[list[str]]:
    return [list(ids[i:i + size]) for i in range(0, len(ids), size)]


def check_coverage(dataset: DatasetAdapter, predictions: PredictionSource, ids: Sequence[str],
                   missing: str = "error", warn: Callable[[str], None] | None = None) -> None:
    """Refuse missing predictions (count + first names) unless ``missing == "void"``; warn on extras."""
    avail = predictions.available()
    if avail is None:
        return
    idset = set(ids)
    miss = [i for i in ids if i not in avail]
    if miss and missing != "void":
        first = ", ".join(miss[:5])
        raise BadInputError(
            f"expected a prediction for each of the {len(ids)} samples, found {len(miss)} missing "
            f"(first: {first}); add them or pass --missing void to score them as all-void",
            path=predictions.path)
    extra = sorted(a for a in avail if a not in idset)
    if extra and warn is not None:
        warn(f"{len(extra)} prediction file(s) have no ground truth and are ignored (first: {', '.join(extra[:5])})")


def evaluate_samples(dataset: DatasetAdapter, predictions: PredictionSource, metrics: Sequence[Metric],
                     ids: Sequence[str] | None = None, workers: int = 1, scheduler: str | None = None,
                     progress: Callable[[int, int], None] | None = None,
                     chunk_size: int = CHUNK_SIZE) -> EvalOutput:
    """Run ``metrics`` over the samples of ``dataset`` against ``predictions``.

    Parameters
    ----------
    dataset : DatasetAdapter
    predictions : PredictionSource
    metrics : sequence of Metric
        Prototypes (their states are not used; fresh copies do the work).
    ids : sequence of str, optional
        Sample ids (default: all of the split).
    workers : int
        Processes; 1 runs in this process.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``); chunks are mapped over it.
    progress : callable(done, total), optional

    Returns
    -------
    EvalOutput
    """
    t0 = time.perf_counter()
    ids = list(dataset.sample_ids() if ids is None else ids)
    chunks = _chunks(ids, chunk_size)
    states: list[list[dict] | None] = [None] * len(chunks)
    done = 0

    def _tick(n):
        nonlocal done
        done += n
        if progress:
            progress(done, len(ids))

    if scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise UsageError("--scheduler needs Dask distributed: pip install 'segbench[dask]'") from None
        try:
            client_cm = Client(scheduler, timeout=10)
        except (OSError, TimeoutError, ValueError) as e:
            raise UsageError(f"--scheduler: expected a reachable Dask scheduler at {scheduler}, found none ({e}); "
                             "start one (`dask scheduler`) or drop --scheduler") from None
        with client_cm as client:
            futs = client.map(_run_chunk, [dataset] * len(chunks), [predictions] * len(chunks),
                              [list(metrics)] * len(chunks), chunks, pure=False)
            for i, f in enumerate(futs):
                states[i] = f.result()
                _tick(len(chunks[i]))
    elif workers <= 1 or len(chunks) <= 1:
        for i, c in enumerate(chunks):
            states[i] = _run_chunk(dataset, predictions, metrics, c)
            _tick(len(c))
    else:
        import multiprocessing as mp
        ctx = mp.get_context("fork" if os.name == "posix" else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_signals) as ex:
            futs = {ex.submit(_run_chunk, dataset, predictions, list(metrics), c): i for i, c in enumerate(chunks)}
            pending = set(futs)
            try:
                while pending:
                    fin, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for f in fin:
                        i = futs[f]
                        states[i] = f.result()
                        _tick(len(chunks[i]))
            except BaseException:
                # pending chunks are cancelled; the pool's exit waits for the running ones, so the workers
                # end with the run (killing them here breaks the pool's bookkeeping: tracebacks, hangs)
                for f in pending:
                    f.cancel()
                raise
    t1 = time.perf_counter()
    merged = [m.fresh() for m in metrics]
    for st in states:
        for k, m in enumerate(merged):
            m.merge(type(m).from_state(st[k], m.label_space, **m.options))
    results = {m.key: m.compute() for m in merged}
    t2 = time.perf_counter()
    return EvalOutput(results=results, metrics=merged, num_samples=len(ids),
                      timings={"update_s": round(t1 - t0, 6), "compute_s": round(t2 - t1, 6),
                               "total_s": round(t2 - t0, 6), "workers": workers,
                               "scheduler": scheduler or ("processes" if workers > 1 else "in-process")})


def _worker_signals() -> None:
    """Pool workers die at once on SIGTERM (the parent sends it when a run is interrupted)."""
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def evaluate_run(dataset: DatasetAdapter, predictions: PredictionSource, metrics: Sequence[Metric],
                 workers: int = 1, scheduler: str | None = None, missing: str = "error",
                 config: dict | None = None, progress=None, warn=None, ids=None):
    """Evaluate and build a :class:`~segbench.results.RunRecord`.

    Returns
    -------
    (RunRecord, EvalOutput)
    """
    from .results import RunRecord, fingerprint_files

    ids = list(dataset.sample_ids() if ids is None else ids)
    if not ids:
        raise BadInputError(f"expected samples in the {dataset.split!r} split, found none; check --gt and --split",
                            path=dataset.root)
    check_coverage(dataset, predictions, ids, missing=missing, warn=warn)
    if missing == "void":
        predictions.missing = "void"
    out = evaluate_samples(dataset, predictions, metrics, ids=ids, workers=workers, scheduler=scheduler,
                           progress=progress)
    files = predictions.files()
    rec = RunRecord(
        dataset=dataset.spec.key, split=dataset.split, task=dataset.spec.task,
        model=predictions.describe(),
        predictions={"path": str(predictions.path) if predictions.path else None,
                     "fingerprint": fingerprint_files(files, predictions.path if predictions.path and os.path.isdir(str(predictions.path)) else None),
                     "count": len(files)},
        metrics={k: r.to_dict() for k, r in out.results.items()},
        config={"metric_options": {m.key: m.options for m in metrics}, **(config or {})},
        timings=out.timings)
    return rec, out
