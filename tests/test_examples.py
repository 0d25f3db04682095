"""Run every script in examples/ and check that it ends well and saves a PNG.

Each script runs in a fresh subprocess, in an empty temporary folder (where it saves
its figures), with the non-interactive Agg backend of matplotlib.
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(path.name for path in EXAMPLES_DIR.glob("*.py"))

# Command-line arguments for the scripts that need some (the benchmark's smallest
# size, and few calls in its per-call section, keep it quick).
EXTRA_ARGS = {
    "bench_training.py": ["--sizes", "S", "--calls", "100", "--blocks", "3"],
    "bench_accuracy.py": ["--datasets", "digits", "--quick"],
    "bench_forecasting.py": ["--datasets", "airline,uschange"],
}

# Each example should take seconds; this only stops a hung script.
TIMEOUT_SECONDS = 180

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_examples_found():
    assert EXAMPLES, f"no example scripts in {EXAMPLES_DIR}"


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_and_saves_a_png(name, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    command = [sys.executable, str(EXAMPLES_DIR / name), *EXTRA_ARGS.get(name, [])]
    try:
        result = subprocess.run(
            command,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as error:
        # The partial output of a timed-out run may be bytes, whatever ``text`` says.
        stdout = error.stdout or ""
        if isinstance(stdout, bytes):
            stdout = stdout.decode(errors="replace")
        pytest.fail(f"{name} did not finish in {TIMEOUT_SECONDS} s\n{stdout}")
    output = f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    assert result.returncode == 0, f"{name} exited with {result.returncode}\n{output}"

    pngs = sorted(tmp_path.glob("*.png"))
    assert pngs, f"{name} saved no PNG file in its working directory\n{output}"
    for png in pngs:
        with png.open("rb") as file:
            header = file.read(len(PNG_SIGNATURE))
        assert header == PNG_SIGNATURE, f"{png.name} is not a PNG file"
        assert png.stat().st_size > len(PNG_SIGNATURE), f"{png.name} is empty"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("bench_training.py", ["--per-call-only"]),
        # The new options, and what --quick means.
        (
            "bench_accuracy.py",
            [
                "--grid",
                "--elman-params",
                "--quick",
                "--csv",
                "--jobs",
                "1 seed, 3-fold CV",
            ],
        ),
    ],
)
def test_benchmark_help_is_plain_text(name, expected):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES_DIR / name), "--help"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, result.stderr
    for text in expected:
        assert text in result.stdout
    for markup in (":class:", "``", "===="):
        assert markup not in result.stdout, f"--help shows Sphinx markup {markup!r}"


def test_benchmark_says_when_pytorch_is_missing(tmp_path):
    # A torch package that fails to import, first on the path: as if not installed.
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text("raise ImportError('blocked')\n")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES_DIR / "bench_training.py"), "--sizes", "S",
         "--calls", "20", "--blocks", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "PyTorch was not installed" in result.stdout


def run_bench_accuracy(tmp_path, *args, blocked=()):
    """Run bench_accuracy.py in ``tmp_path``; the ``blocked`` packages fail to
    import, as if not installed."""
    pythonpath = [str(tmp_path / "blocked")]
    for package in blocked:
        (tmp_path / "blocked" / package).mkdir(parents=True)
        (tmp_path / "blocked" / package / "__init__.py").write_text(
            "raise ImportError('blocked')\n"
        )
    if os.environ.get("PYTHONPATH"):
        pythonpath.append(os.environ["PYTHONPATH"])
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": os.pathsep.join(pythonpath)}
    return subprocess.run(
        [sys.executable, str(EXAMPLES_DIR / "bench_accuracy.py"), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )


def test_bench_accuracy_grid_and_elman_params(tmp_path):
    # A tiny grid (a single value is a list of one) and tiny fixed parameters; the
    # keys that ElmanClassifier lacks are left out with a note. The grid's value is
    # not the default readout ('max'), or the grid would hold the default model
    # alone and the script would skip the search as degenerate.
    grid = '{"readout": "mean", "no_such_parameter": [1, 2]}'
    params = '{"hidden_units": 4, "max_iter": 5, "not_a_parameter": 1}'
    result = run_bench_accuracy(
        tmp_path, "--datasets", "digits", "--quick", "--no-dtw",
        "--grid", grid, "--elman-params", params, "--csv", "results.csv",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "fixed for both models: {'hidden_units': 4, 'max_iter': 5}" in out
    assert "no 'not_a_parameter' parameter; left out" in out
    assert "no 'no_such_parameter' parameter; left out of the grid" in out
    assert "grid: {'readout': ['mean']}" in out and "DEGENERATE" not in out
    assert "| data set | train/test | steps | classes | Elman, defaults |" in out
    with open(tmp_path / "results.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["model"] for row in rows] == [
        "Elman default",
        "Elman echo state",
        "Elman grid (CV)",
        "MLP flattened",
    ]
    default, echo_state, tuned, _ = rows
    assert 0 <= float(echo_state["mean"]) <= 1 and float(echo_state["seconds"]) > 0
    assert json.loads(tuned["params"]) == [{"readout": "mean"}]  # one per seed
    assert 0 <= float(tuned["cv_mean"]) <= 1 and float(tuned["seconds"]) > 0
    assert float(default["seconds"]) > 0 and default["cv_mean"] == ""


def test_bench_accuracy_elman_params_reach_the_models(tmp_path):
    # An invalid value must make the first fit fail, naming the parameter.
    result = run_bench_accuracy(
        tmp_path, "--datasets", "digits", "--quick", "--no-dtw",
        "--elman-params", '{"hidden_units": -1}',
    )  # fmt: skip
    assert result.returncode != 0
    assert "hidden_units" in result.stderr


@pytest.mark.parametrize(
    "option, value",
    [
        ("--grid", "[1, 2]"),
        ("--grid", "{readout: max}"),
        ("--grid", '{"readout": []}'),
        ("--elman-params", '["hidden_units"]'),
        ("--elman-params", '{"random_state": 0}'),
    ],
)
def test_bench_accuracy_rejects_bad_json(tmp_path, option, value):
    result = run_bench_accuracy(tmp_path, "--datasets", "digits", option, value)
    assert result.returncode == 2
    assert f"argument {option}:" in result.stderr


def test_bench_accuracy_skips_data_sets_of_missing_libraries(tmp_path):
    result = run_bench_accuracy(
        tmp_path, "--datasets", "PLAID,Trace,digits", "--quick", "--no-grid",
        "--no-dtw", "--elman-params", '{"hidden_units": 4, "max_iter": 5}',
        blocked=("sktime", "tslearn"),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PLAID: skipped, sktime is not installed" in result.stdout
    assert "Trace: skipped, tslearn is not installed" in result.stdout
    assert "| digits |" in result.stdout


def test_bench_accuracy_cv_only_scores_the_training_split_alone(tmp_path):
    result = run_bench_accuracy(
        tmp_path, "--datasets", "digits", "--quick", "--cv-only",
        "--elman-params", '{"max_iter": 3}',
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| digits")]
    assert len(rows) == 1
    _, _, params, mean, _, seconds, ratio, _ = rows[0].split("|")
    assert 0 <= float(mean) <= 1
    assert params.strip() == '{"max_iter": 3}'
    assert float(seconds) > 0 and float(ratio) == 1
    assert "test accuracy" not in result.stdout  # no model met the test split


def test_bench_accuracy_versus_measures_two_settings_in_one_run(tmp_path):
    result = run_bench_accuracy(
        tmp_path, "--datasets", "digits", "--quick", "--cv-only",
        "--elman-params", '{"max_iter": 2}',
        "--versus", '{"max_iter": 2, "n_ensemble": 2}',
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| digits")]
    assert [row.split("|")[2].strip() for row in rows] == [
        '{"max_iter": 2}',
        '{"max_iter": 2, "n_ensemble": 2}',
    ]
    first, second = (row.split("|") for row in rows)
    assert float(first[6]) == 1
    assert float(second[5]) > 0 and float(second[6]) > 0
