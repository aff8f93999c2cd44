"""`python -m bench` (`make bench`): plan the generated scenarios S, M, L with the CP-SAT planner and the
greedy baseline, each in its own process, and record a table in docs/benchmarks.md and on stdout.

`python -m bench --only S` runs one scenario. When `bench/feeds.py` exists, its rows are added under "Feeds".
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _child(name: str, which: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.planner_bench", name, which],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        return {"status": f"crashed ({done.returncode})", "error": done.stderr.strip().splitlines()[-1:]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # the largest child so far, as the OS counts it: a cross-check of the child's own figure
    result["children_peak_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return result


def _gap(result: dict) -> str:
    if "bound" not in result or not result["bound"]:
        return "-"
    return f"{100 * (result['bound'] - result['objective']) / abs(result['bound']):.2f}%"


def _pct(result: dict) -> str:
    return f"{100 * result['coverage']:.1f}%" if "coverage" in result else "-"


def table(rows: list[tuple[str, dict, dict]]) -> str:
    lines = [
        "| scenario | size | target | status | coverage (planner) | coverage (baseline) | gain | gap to bound "
        "| wall (planner) | wall (baseline) | peak memory (planner) | valid |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, planner, baseline in rows:
        spec = SCENARIOS[name]
        size = (f"{spec.cohorts} cohorts, {spec.learners} learners, {spec.facilitators} facilitators, "
                f"{spec.zones} zones, {spec.weeks} weeks; limit {spec.time_limit:g} s")
        gain = (f"{100 * (planner['coverage'] - baseline['coverage']):+.1f} pts"
                if "coverage" in planner and "coverage" in baseline else "-")
        valid = ("yes" if planner.get("violations") == 0 and baseline.get("violations") == 0
                 else f"planner {planner.get('violations', '-')}, baseline {baseline.get('violations', '-')} violations")
        lines.append(
            f"| {name} | {size} | {spec.target} | {planner['status']} | {_pct(planner)} | {_pct(baseline)} | {gain} "
            f"| {_gap(planner)} | {planner.get('wall', 0):.1f} s | {baseline.get('wall', 0):.1f} s "
            f"| {planner.get('peak_mib', 0):.0f} MiB | {valid} |"
        )
    return "\n".join(lines)


def _feeds() -> str:
    if importlib.util.find_spec("bench.feeds") is None:
        return ""
    from bench import feeds

    rows = feeds.run()
    return "\n".join(["### Feeds", "", "| measure | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows])


def _record(text: str) -> None:
    DOC.parent.mkdir(exist_ok=True)
    old = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n\n" + BEGIN + "\n" + END + "\n"
    if BEGIN not in old or END not in old:
        old = old.rstrip("\n") + "\n\n" + BEGIN + "\n" + END + "\n"
    head, rest = old.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(head + BEGIN + "\n" + text + "\n" + END + tail, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", choices=sorted(SCENARIOS), action="append", help="run only this scenario")
    parser.add_argument("--no-feeds", action="store_true", help="skip the feed benchmark")
    args = parser.parse_args(argv)
    names = args.only or list(SCENARIOS)
    rows = []
    for name in names:
        planner = _child(name, "planner")
        baseline = _child(name, "baseline")
        rows.append((name, planner, baseline))
        print(f"{name}: planner {json.dumps(planner)}", file=sys.stderr)
        print(f"{name}: baseline {json.dumps(baseline)}", file=sys.stderr)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join([
        f"Measured {stamp} on {platform.machine()} with {os.cpu_count()} CPUs, Python {platform.python_version()} "
        f"(`python -m bench{' --only ' + ' --only '.join(args.only) if args.only else ''}`).",
        "",
        table(rows),
    ])
    if not args.no_feeds:
        feeds = _feeds()
        if feeds:
            text += "\n\n" + feeds
    print(text)
    _record(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
