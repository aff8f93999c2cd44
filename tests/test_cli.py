"""The `cadence` command as a user runs it: a real subprocess, help for every subcommand, one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CADENCE = [sys.executable, "-m", "server.cli"]


def run(*args, cwd=ROOT, env=None):
    return subprocess.run([*CADENCE, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize(
    "words",
    [["--help"], ["serve", "--help"], ["db", "upgrade", "--help"], ["demo", "--help"], ["import", "--help"],
     ["plan", "--help"], ["feed", "rotate", "--help"], ["worker", "--help"], ["run", "--help"]],
)
def test_every_command_has_help(words):
    result = run(*words)
    assert result.returncode == 0, result.stderr
    assert "usage: cadence" in result.stdout


def test_unknown_command_is_a_usage_error():
    result = run("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_plan_with_a_missing_file_is_one_line(tmp_path):
    result = run("plan", str(tmp_path / "nope.toml"), str(tmp_path / "cohort.toml"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "nope.toml" in lines[0]
    assert "Traceback" not in result.stderr


def test_plan_with_invalid_toml_names_the_file(tmp_path, examples):
    bad = tmp_path / "program.toml"
    bad.write_text('name = "x"\n[[unit]\n')
    result = run("plan", str(bad), str(examples / "cohort-atlantic.toml"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "program.toml" in result.stderr
    assert "Traceback" not in result.stderr


def test_plan_rejects_a_non_positive_time_limit(examples):
    result = run("plan", str(examples / "program.toml"), str(examples / "cohort-atlantic.toml"),
                 "--time-limit", "0")
    assert result.returncode == 2 and "--time-limit" in result.stderr


@pytest.mark.slow
def test_plan_json_on_the_examples_is_valid_and_repeatable(examples):
    args = ("plan", str(examples / "program.toml"), str(examples / "cohort-atlantic.toml"),
            str(examples / "cohort-apac.toml"), "--json", "--time-limit", "5")
    first, second = run(*args), run(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout  # byte for byte
    plan = json.loads(first.stdout)
    assert plan["status"] in ("optimal", "feasible")
    assert 0 <= plan["coverage"] <= 1
    assert {c["name"] for c in plan["cohorts"]} == {"Support Atlantic - March 2027", "Support APAC - March 2027"}
    for cohort in plan["cohorts"]:
        assert cohort["sessions"] and cohort["modules"]
        for session in cohort["sessions"]:
            assert session["start"].endswith("Z") and session["end"].endswith("Z")


@pytest.mark.slow
def test_plan_report_shows_local_times(examples):
    result = run("plan", str(examples / "program.toml"), str(examples / "cohort-atlantic.toml"),
                 "--time-limit", "5")
    assert result.returncode == 0, result.stderr
    assert "UTC" in result.stdout
    assert "Priya Nair" in result.stdout


def test_plan_shows_progress_on_a_terminal_and_nothing_extra_when_piped(examples):
    import pty

    args = ("plan", str(examples / "program.toml"), str(examples / "cohort-atlantic.toml"), "--time-limit", "1")
    piped = run(*args)
    assert piped.returncode == 0 and piped.stderr == ""
    quiet = run(*args, "--json")
    assert quiet.returncode == 0 and quiet.stderr == "" and json.loads(quiet.stdout)["cohorts"]

    controller, terminal = pty.openpty()  # stderr is a terminal: the progress bar goes there
    try:
        done = subprocess.run([*CADENCE, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=terminal,
                              timeout=120, env={**os.environ, "COLUMNS": "100"})
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
    assert done.returncode == 0 and done.stdout.strip() and b"\x1b" not in done.stdout  # the report stays plain
    assert b"planning" in shown and b"best coverage" in shown
