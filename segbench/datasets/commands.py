"""The ``segbench datasets`` / ``download`` / ``prepare`` sub-commands (thin calls into
:mod:`segbench.datasets.download`); :mod:`segbench.cli` lists the ``_add_*`` functions in ``COMMANDS``.
"""

from __future__ import annotations

import json
import sys

__all__ = ["_add_datasets", "_add_download", "_add_prepare"]


def _console(stderr: bool = False):
    from rich.console import Console
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def cmd_datasets(args) -> int:
    from .download import list_datasets
    rows = list_datasets(args.root, verify=getattr(args, "verify", False))
    if args.json:
        keys = ("name", "task", "license", "obtain", "on_disk", "verified", "size", "version", "homepage", "root",
                "available")
        out = []
        for r in rows:
            d = {k: r.get(k) for k in keys}
            if not r.get("available"):
                d["error"] = r.get("error")
            out.append(d)
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return 0
    from rich.table import Table
    t = Table(title="segbench datasets", show_lines=False)
    for col in ("name", "task", "size", "license", "on disk", "verified", "obtain"):
        t.add_column(col, no_wrap=True, overflow="ellipsis",
                     max_width={"license": 34, "size": 16}.get(col))
    for r in rows:
        if not r.get("available"):
            t.add_row(r["name"], "[red]unavailable[/red]", "", "", "", "", "")
            continue
        t.add_row(r["name"], r["task"] or "", r["size"] or "", r["license"] or "",
                  "yes" if r["on_disk"] else "no", "yes" if r["verified"] else "no", r["obtain"] or "")
    con = _console()
    if not con.is_terminal:
        con.width = 140
    con.print(t)
    for r in rows:
        if not r.get("available"):
            con.print(f"{r['name']}: adapter unavailable ({r.get('error')})", markup=False)
    con.print("obtain: url = direct download, kaggle = Kaggle API (kaggle.json), login = account "
              "(env credentials), manual = fetch the files yourself, then `segbench prepare NAME --from PATH`",
              markup=False)
    return 0


def _add_datasets(sub) -> None:
    p = sub.add_parser("datasets", help="list the registered datasets (task, size, licence, on disk, how obtained)")
    p.add_argument("--json", action="store_true", help="print a JSON list (name, task, license, obtain, on_disk...)")
    p.add_argument("--root", help="base folder holding one folder per dataset (default $SEGBENCH_DATA or "
                                  "~/.segbench/data)")
    p.add_argument("--verify", action="store_true", help="re-hash the downloaded files (slow) instead of trusting "
                                                         "the download record")
    p.set_defaults(func=cmd_datasets)


def cmd_download(args) -> int:
    from .download import download_dataset
    con = _console(stderr=True)
    res = download_dataset(args.name, args.root, console=con, force=args.force)
    if res["status"] == "manual":
        return 0
    _console().print(f"{args.name}: ready at {res['root']}", markup=False)
    return 0


def _add_download(sub) -> None:
    p = sub.add_parser("download", help="fetch, verify and extract a dataset (or print how to get it)")
    p.add_argument("name", help="dataset name (see `segbench datasets`)")
    p.add_argument("--root", help="dataset folder (default $SEGBENCH_DATA/NAME or ~/.segbench/data/NAME)")
    p.add_argument("--force", action="store_true", help="download again even if the files verify")
    p.set_defaults(func=cmd_download)


def cmd_prepare(args) -> int:
    from .download import prepare_dataset
    con = _console(stderr=True)
    res = prepare_dataset(args.name, getattr(args, "from"), args.root, console=con)
    _console().print(f"{args.name}: prepared at {res['root']}", markup=False)
    return 0


def _add_prepare(sub) -> None:
    p = sub.add_parser("prepare", help="take downloaded archives/folders into the dataset root and convert formats")
    p.add_argument("name", help="dataset name (see `segbench datasets`)")
    p.add_argument("--from", required=True, metavar="PATH", help="the archive or folder you downloaded")
    p.add_argument("--root", help="dataset folder (default $SEGBENCH_DATA/NAME or ~/.segbench/data/NAME)")
    p.set_defaults(func=cmd_prepare)
