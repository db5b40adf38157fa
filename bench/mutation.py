"""Mutation testing of the money path (issue 21): run mutmut file by file, print the table.

    python bench/mutation.py                  # every file of the money path, then the table
    python bench/mutation.py router/parsing.py --max-children 1
    python bench/mutation.py --report         # the table of the last run, running nothing
    python bench/mutation.py --survivors      # ... and the surviving mutants' names

The configuration is ``[tool.mutmut]`` in pyproject.toml (which files are mutated, which
unit tests run). Of ``router/catalog.py`` and ``providers/inference_api.py`` only the
functions that read or charge a price are in scope (:data:`SCOPE`); the rest of those
files (the live catalog's cache, the Majestix wire) has its own tests and is not scored.
Each run retests every scored mutant of the files it is given; the mutated copies and
the results live in ``mutants/`` (git-ignored: delete it after changing a mutated file's
source or the test selection). CPU-heavy (about a mutant a second on two cores): not in CI.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCOPE: dict[str, tuple[str, ...]] = {
    "router/planning/cost.py": ("router.planning.cost.*",),
    "router/parsing.py": ("router.parsing.*",),
    "router/catalog.py": ("router.catalog.xǁPricingǁrates_for__mutmut_*",),
    "providers/inference_api.py": tuple(
        f"providers.inference_api.{name}__mutmut_*"
        for name in (
            "xǁInferenceAPIǁparse_model",
            "xǁInferenceAPIǁcatalog_entries",
            "x_credits_to_usd",
            "x__count",
            "x__reported_counts",
            "xǁMajestixStreamǁ_finish",
        )
    ),
    "providers/routstr.py": ("providers.routstr.*",),
    "providers/openrouter.py": ("providers.openrouter.*",),
    "providers/pinstripes.py": ("providers.pinstripes.*",),
    "policies/cheapest.py": ("policies.cheapest.*",),
    "policies/max_price.py": ("policies.max_price.*",),
    "policies/context_fit.py": ("policies.context_fit.*",),
}
"""Each money-path file and the mutant names (globs) of it that are scored."""

KILLED = {1, 3, 37}  # a test failed (3: pytest's internal error), or the type check did
TIMEOUT = {24, -24, 36, 152, 255}  # an endless loop: caught, counted as killed


def results(path: str) -> dict[str, int | None]:
    """Exit code by mutant name, for the scored mutants of ``path`` (None: not run)."""
    meta = ROOT / "mutants" / (path + ".meta")
    if not meta.exists():
        return {}
    codes: dict[str, int | None] = json.loads(meta.read_text("utf-8"))["exit_code_by_key"]
    return {
        name: code
        for name, code in codes.items()
        if any(fnmatch.fnmatchcase(name, glob) for glob in SCOPE[path])
    }


def table(paths: list[str], *, survivors: bool) -> str:
    rows = ["| file | mutants | killed | survived | no tests | not run | killed % |"]
    rows.append("|---|---:|---:|---:|---:|---:|---:|")
    total: Counter[str] = Counter()
    left: list[str] = []
    for path in paths:
        count: Counter[str] = Counter()
        for name, code in sorted(results(path).items()):
            if code in KILLED or code in TIMEOUT:
                count["killed"] += 1
            elif code is None:
                count["not run"] += 1
            else:
                count["no tests" if code in (5, 33) else "survived"] += 1
                left.append(name)
            count["mutants"] += 1
        total.update(count)
        rows.append(_row(path, count))
    rows.append(_row("**all**", total))
    text = "\n".join(rows)
    if survivors and left:
        text += "\n\nSurviving (`mutmut show NAME` shows the change):\n" + "\n".join(left)
    return text


def _row(label: str, count: Counter[str]) -> str:
    share = f"{100 * count['killed'] / count['mutants']:.1f}" if count["mutants"] else "-"
    cells = (count[k] for k in ("mutants", "killed", "survived", "no tests", "not run"))
    return f"| {label} | " + " | ".join(map(str, cells)) + f" | {share} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="money-path files to run (default: all)")
    parser.add_argument("--report", action="store_true", help="print the table, run nothing")
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    parser.add_argument("--max-children", type=int, default=2, help="parallel test processes")
    args = parser.parse_args()
    unknown = [f for f in args.files if f not in SCOPE]
    if unknown:
        parser.error(f"not on the money path: {', '.join(unknown)} (one of: {', '.join(SCOPE)})")
    paths = args.files or list(SCOPE)
    if not args.report:
        log = ROOT / "mutants" / "run.log"
        log.parent.mkdir(exist_ok=True)
        for path in paths:
            print(f"mutmut: {path} ...", flush=True)
            with log.open("a", encoding="utf-8") as out:
                command = ["mutmut", "run", "--max-children", str(args.max_children)]
                done = subprocess.run([*command, *SCOPE[path]], cwd=ROOT, stdout=out, stderr=out)
            if done.returncode != 0:
                print(f"mutmut failed on {path} (exit {done.returncode}); see {log}")
                return done.returncode
    print(table(paths, survivors=args.survivors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
