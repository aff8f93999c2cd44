"""The CLI's wall clock as a user sees it: `cadence plan` on the example files, as a subprocess.

`run(limit)` starts `cadence plan examples/support-onboarding/*.toml --json --time-limit LIMIT` and returns one
bench row: the wall from process start to exit (interpreter start-up, imports, loading the files, the solve,
printing), the plan's status and how it stopped. The issue's promise is `wall <= limit x 1.10 + 1 s`.
`python -m bench.cli_wall [LIMIT]` prints the row as JSON.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "support-onboarding"
FILES = ("program.toml", "cohort-atlantic.toml", "cohort-apac.toml")


def _command(limit: float) -> list[str]:
    cadence = Path(sys.executable).with_name("cadence")
    head = [str(cadence)] if cadence.exists() else [shutil.which("cadence") or "cadence"]
    return [*head, "plan", *(str(EXAMPLE / f) for f in FILES), "--json", "--time-limit", f"{limit:g}"]


def run(limit: float = 10.0) -> dict:
    began = time.monotonic()
    done = subprocess.run(_command(limit), cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.monotonic() - began
    row: dict = {"name": "cli-support-onboarding", "shape": "`cadence plan` subprocess, examples/support-onboarding",
                 "limit": limit, "wall": wall, "cli": True}
    if done.returncode != 0:
        row.update(status=f"exit {done.returncode}", reason=done.stderr.strip()[-300:])
        return row
    plan = json.loads(done.stdout)
    learners = sum(len(s["learners"]) for c in plan["cohorts"] for s in c["sections"])
    row.update(status=plan["status"], stopped_by=plan["stopped_by"], coverage=plan["coverage"],
               objective=plan["objective"], bound=plan["bound"], cohorts=len(plan["cohorts"]),
               learners=learners, shares=any(len(c) > 1 for c in plan["components"]))
    return row


if __name__ == "__main__":
    print(json.dumps(run(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0)))
