"""`python -m bench` (`make bench`): plan a family of generated problems with the planner and the greedy
baseline, each problem in its own process, and record a table and a summary in docs/benchmarks.md.

    python -m bench                      # 32 generated problems (seeds 0-31) and the 5 rollout problems
    python -m bench --seeds 0-7          # some of the family
    python -m bench --only rollout-10    # one problem (repeatable)
    python -m bench --no-feeds           # skip the feed timings
    python -m bench --no-serving         # skip the serving benchmark (pages, feeds, workers: bench/serving.py)
    python -m bench --no-planner         # only the feed and serving figures
    python -m bench --serving-database postgresql://...   # the serving benchmark on an EMPTY PostgreSQL database
    python -m bench --reference          # also a 10x longer run where the gap misses its target
    python -m bench --only cli           # only the CLI row: `cadence plan` on the examples, as a subprocess
    python -m bench --cli-limit 2        # the CLI row's --time-limit (default 10; --no-cli skips it)

Problems with a time limit of at most 10 s are solved twice to check that the plan is byte-identical.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.family import ROLLOUT

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
SERVING_BEGIN, SERVING_END = "<!-- serving:begin -->", "<!-- serving:end -->"
# `--serving-database` (PostgreSQL) keeps its own section, so one run does not overwrite the other's figures
SERVING_PG_BEGIN, SERVING_PG_END = "<!-- serving-postgres:begin -->", "<!-- serving-postgres:end -->"
SEEDS = range(32)


def _child(name: str, *extra: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.planner_bench", name, *extra],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"name": name, "status": f"crashed ({done.returncode})", "reason": done.stderr.strip()[-300:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def target(r: dict) -> tuple[str, float | None]:
    """The issue's target for a problem of this size: (words, largest gap in %, or None for 'proven')."""
    if r["cohorts"] == 1 and r["learners"] <= 40:
        return "optimal in 2 s", 0.0
    if r["cohorts"] <= 15:
        return "1% in 10 s", 1.0
    return "2% in 60 s", 2.0


def missed_target(r: dict) -> bool:
    """Over the target's gap, or a proof that came later than the target's time ("optimal in 2 s" for a run
    whose own limit is longer, such as rollout-01's 10 s)."""
    largest = target(r)[1]
    if largest is None:
        return False
    late = largest == 0.0 and r.get("wall", 0.0) > 2.0
    return gap(r) > largest + 1e-9 or late


def gap(r: dict) -> float | None:
    if "bound" not in r:
        return None
    return 100 * (r["bound"] - r["objective"]) / max(1, abs(r["bound"]))


def gain(r: dict) -> float | None:
    base = r.get("baseline", {}).get("coverage")
    return None if base is None or "coverage" not in r else 100 * (r["coverage"] - base)


def table(rows: list[dict]) -> str:
    lines = [
        "| problem | shape | learners | limit | status (stopped by) | wall | wall ÷ limit | peak mem "
        "| coverage | baseline | gain | gap | target | repeatable | valid |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        base = r.get("baseline", {})
        g, gn = gap(r), gain(r)
        cells = [
            r["name"], r.get("shape", ""), str(r.get("learners", "")), f"{r.get('limit', 0):g} s",
            f"{r['status']} ({r['stopped_by']})" if "stopped_by" in r else r["status"],
            f"{r.get('wall', 0):.1f} s", f"{r.get('wall', 0) / r.get('limit', 1):.2f}",
            f"{r['peak_mib']:.0f} MiB" if "peak_mib" in r else "-",
            f"{100 * r['coverage']:.1f}%" if "coverage" in r else "-",
            "-" if r.get("cli") else f"{100 * base['coverage']:.1f}%" if "coverage" in base else "none",
            "-" if gn is None else f"{gn:+.1f} pts",
            "-" if g is None else f"{g:.2f}%",
            "wall <= limit x 1.10 + 1 s" if r.get("cli") else target(r)[0] if "cohorts" in r else "-",
            _repeatable(r), _valid(r),
        ]
        if "reference" in r:
            ref = r["reference"]
            cells[11] += f" (10x run: objective {ref.get('objective', '-')} vs {r['objective']}, bound {r['bound']})"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _repeatable(r: dict) -> str:
    if "repeatable" in r:
        promised = {r.get("stopped_by"), r.get("again_stopped_by")} <= {"budget", "optimal"}
        if r["repeatable"]:
            return "yes"
        return "NO (both on budget)" if promised else f"no (the clock stopped a run: {r.get('again_stopped_by')})"
    return "by design" if r.get("stopped_by") in ("budget", "optimal") else "-"


def _valid(r: dict) -> str:
    if "violations" not in r:
        return "-"
    return "yes" if r["violations"] == 0 else f"{r['violations']} violations"


def summary(rows: list[dict]) -> list[str]:
    cli = [r for r in rows if r.get("cli")]
    rows = [r for r in rows if not r.get("cli")]
    return (_family_summary(rows) if rows else []) + [_cli_line(r) for r in cli]


def _cli_line(r: dict) -> str:
    promise = r["limit"] * 1.10 + 1
    verdict = "within" if r["wall"] <= promise else "OVER"
    return (f"- CLI (`cadence plan` on examples/support-onboarding, a subprocess, start-up included): "
            f"{r['wall']:.2f} s for --time-limit {r['limit']:g}, {verdict} the promise of {promise:.2f} s; "
            f"{r['status']}" + (f" ({r['stopped_by']})" if "stopped_by" in r else ""))


def _family_summary(rows: list[dict]) -> list[str]:
    planned = [r for r in rows if "coverage" in r]
    over = [r for r in rows if r.get("wall", 0) > r.get("limit", 0) * 1.10 + 1]
    with_base = [r for r in planned if gain(r) is not None]
    shared = [r for r in with_base if r["cohorts"] >= 3 and r["shares"]]
    gaps = [gap(r) for r in planned]
    missed = [r["name"] for r in planned if missed_target(r)]
    worst = max(rows, key=lambda r: r.get("wall", 0) / max(r.get("limit", 1), 1e-9))
    return [
        f"- planned: {len(planned)} of {len(rows)} problems"
        + (f" (no plan: {', '.join(r['name'] for r in rows if r not in planned)})" if len(planned) < len(rows) else ""),
        f"- valid (validator): {sum(1 for r in planned if r['violations'] == 0)} of {len(planned)}",
        f"- worst wall ÷ limit: {worst.get('wall', 0) / worst.get('limit', 1):.2f} ({worst['name']}); runs over "
        f"limit × 1.10 + 1 s: {len(over)}",
        f"- worst peak memory: {max((r.get('peak_mib', 0) for r in planned), default=0):.0f} MiB",
        f"- coverage ≥ baseline: {sum(1 for r in with_base if gain(r) >= -1e-9)} of {len(with_base)} problems where "
        f"the baseline finds a plan (it finds none on {len(planned) - len(with_base)}); strictly above: "
        f"{sum(1 for r in with_base if gain(r) > 1e-9)}",
        f"- median gain on problems with ≥ 3 cohorts sharing facilitators: "
        f"{statistics.median(gain(r) for r in shared):+.1f} pts ({len(shared)} problems)" if shared else
        "- no problem with ≥ 3 cohorts sharing facilitators and a baseline plan",
        f"- median gap to the bound: {statistics.median(gaps):.2f}%; worst {max(gaps):.2f}%" if gaps else "- no gaps",
        f"- gap targets missed: {', '.join(missed) if missed else 'none'}",
        f"- repeatable when run twice: {sum(1 for r in rows if r.get('repeatable'))} of "
        f"{sum(1 for r in rows if 'repeatable' in r)}; different although both runs stopped on their budget: "
        f"{sum(1 for r in rows if _repeatable(r).startswith('NO'))}",
    ]


def _feeds() -> str:
    from bench import feeds

    rows = feeds.run()
    return "\n".join(["### Feeds", "", "| measure | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows])


def _serving(database: str | None) -> str:
    from bench import serving

    rows = serving.run(database)
    where = "PostgreSQL, 2 server workers for the pages" if database else "SQLite, 1 server worker for the pages"
    return "\n".join([f"### Serving ({where})", "", "| measure | value |", "|---|---|"]
                     + [f"| {a} | {b} |" for a, b in rows])


def _record(text: str, begin: str = BEGIN, end: str = END) -> None:
    old = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    if begin not in old:
        old = old.rstrip("\n") + "\n\n" + begin + "\n" + end + "\n"
    head, rest = old.split(begin, 1)
    _, tail = rest.split(end, 1)
    DOC.write_text(head + begin + "\n" + text + "\n" + end + tail, encoding="utf-8")


def _machine() -> str:
    return (f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} on {platform.machine()} with {os.cpu_count()} "
            f"CPUs, Python {platform.python_version()}")


def _seeds(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=_seeds, help="family seeds, e.g. 0-7")
    parser.add_argument("--only", action="append", help="one problem: gen-SEED or a rollout name")
    parser.add_argument("--no-feeds", action="store_true")
    parser.add_argument("--no-serving", action="store_true")
    parser.add_argument("--no-planner", action="store_true")
    parser.add_argument("--serving-database", help="an EMPTY PostgreSQL database for the serving benchmark")
    parser.add_argument("--reference", action="store_true", help="10x longer runs where the gap misses its target")
    parser.add_argument("--cli-limit", type=float, default=10.0, help="--time-limit of the CLI row (default 10)")
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI row")
    args = parser.parse_args(argv)
    if not args.no_planner:
        _planner(args, argv)
    if args.no_feeds and args.no_serving:
        return 0
    parts = [f"Measured {_machine()}, load average {os.getloadavg()[0]:.1f} before the run."]
    if not args.no_feeds:
        parts.append(_feeds())
    if not args.no_serving:
        parts.append(_serving(args.serving_database))
    text = "\n\n".join(parts)
    if not args.only:
        if args.serving_database:
            _record(text, SERVING_PG_BEGIN, SERVING_PG_END)
        else:
            _record(text, SERVING_BEGIN, SERVING_END)
    print(text)
    return 0


def _planner(args, argv) -> None:
    if args.only:
        names = args.only
    else:
        names = [f"gen-{s}" for s in (args.seeds if args.seeds is not None else SEEDS)]
        names += [] if args.seeds is not None else list(ROLLOUT)
    want_cli = not args.no_cli and (not args.only or "cli" in args.only)
    names = [n for n in names if n != "cli"]
    rows = []
    for name in names:
        probe = _child(name, "--twice") if _short(name) else _child(name)
        if args.reference and "bound" in probe and target(probe)[1] is not None and gap(probe) > target(probe)[1]:
            probe["reference"] = _child(name, "--limit", str(10 * probe["limit"]))
        rows.append(probe)
        print(json.dumps(probe), file=sys.stderr, flush=True)
    if want_cli:
        from bench import cli_wall

        rows.append(cli_wall.run(args.cli_limit))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]
    text = "\n".join([
        f"Measured {stamp} on {platform.machine()} with {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {load:.1f} at the end (`python -m bench {' '.join(argv or sys.argv[1:])}`).",
        "",
        "Summary:",
        "",
        *summary(rows),
        "",
        table(rows),
    ])
    if not args.only:
        _record(text)
    print(text)


def _short(name: str) -> bool:
    from bench.planner_bench import generated

    return generated(name).time_limit <= 10


if __name__ == "__main__":
    sys.exit(main())
