"""CLI commands of the report area: ``segbench report`` and ``segbench compare`` (thin calls into
:mod:`segbench.report`)."""

from __future__ import annotations

from pathlib import Path

from ..errors import BadInputError, GateFailed, NotFoundError

__all__ = ["_add_report", "_add_compare", "cmd_report", "cmd_compare"]


def cmd_report(args) -> int:
    from ..cli import _console
    from ..results import ResultsStore
    from .render import render_report
    from .tables import print_leaderboard

    db = Path(args.db)
    if not db.is_file():
        raise NotFoundError("expected a results store, found nothing; record runs with "
                            "`segbench eval ... --record --db FILE`", path=db)
    records = ResultsStore(db, create=False).records(dataset=args.dataset, task=args.task)
    if not records:
        raise BadInputError("expected recorded runs in the results store, found none"
                            + (" matching --dataset/--task" if args.dataset or args.task else "")
                            + "; record runs with `segbench eval ... --record`", path=db)
    reported = False if args.no_reported else args.reported
    out = render_report(records, args.out, reported=reported, db=str(db), figures=not args.no_figures)
    con = _console()
    for df in out["boards"].values():
        print_leaderboard(df, con)
    con.print(f"wrote {len(out['files'])} files to {args.out} (open {Path(args.out) / 'index.html'})", markup=False)
    return 0


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="render leaderboards (Markdown + HTML) from the results store")
    p.add_argument("--db", default="results.db", help="results store (default ./results.db)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--dataset", help="only this dataset")
    p.add_argument("--task", help="only this task")
    p.add_argument("--reported", help="paper-reported results CSV (default: leaderboards/reported.csv)")
    p.add_argument("--no-reported", action="store_true", help="leave out the paper-reported rows")
    p.add_argument("--no-figures", action="store_true", help="no matplotlib figures in the HTML")
    p.set_defaults(func=cmd_report)


def cmd_compare(args) -> int:
    import sys

    from ..cli import _console, parse_gates
    from ..results import load_record
    from .compare import compare_markdown, compare_records, print_compare

    gates = parse_gates(args.max_drop, "--max-drop")
    for k, v in gates.items():
        if v < 0:
            from ..errors import UsageError
            raise UsageError(f"--max-drop: expected a non-negative drop for {k}, found {v}")
    base, new = load_record(args.base), load_record(args.new)
    res = compare_records(base, new, gates, base_label=Path(args.base).name, new_label=Path(args.new).name)
    sig = None
    if args.significance:
        from .compare import significance_rows
        if args.resamples < 100:
            from ..errors import UsageError
            raise UsageError(f"--resamples: expected at least 100, found {args.resamples}")
        sig = significance_rows(base, new, n_resamples=args.resamples, seed=args.seed)
    if args.md:
        sys.stdout.write(compare_markdown(res, per_class=args.per_class))
        if sig is not None:
            from .compare import significance_markdown
            sys.stdout.write(significance_markdown(sig))
        sys.stdout.flush()
    else:
        print_compare(res, _console(), per_class=args.per_class)
        if sig is not None:
            from .compare import print_significance
            print_significance(sig, _console())
    if res.failed:
        fails = "; ".join(f"{r.key} {r.delta:+.2f}{(' ' + r.unit) if r.unit else ''} (max drop {r.gate:g})"
                          for r in res.failures())
        raise GateFailed(f"regression gate failed: {fails}")
    return 0


def _add_compare(sub) -> None:
    p = sub.add_parser("compare", help="delta table of two RunRecords; exit 1 when a --max-drop gate is crossed")
    p.add_argument("base", help="baseline RunRecord JSON")
    p.add_argument("new", help="new RunRecord JSON")
    p.add_argument("--max-drop", action="append", metavar="METRIC=PP",
                   help="fail (exit 1) when METRIC drops by more than PP percentage points (own units for counts)")
    p.add_argument("--md", action="store_true", help="print Markdown (for CI step summaries)")
    p.add_argument("--per-class", action="store_true", help="also show per-class deltas (largest drop first)")
    p.add_argument("--significance", action="store_true",
                   help="paired bootstrap interval and permutation p-value of each per-sample field (same samples)")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the resampling (default 0)")
    p.set_defaults(func=cmd_compare)
