"""Run every script in examples/ and check that it ends well and saves a PNG.

Each script runs in a fresh subprocess, in an empty temporary folder (where it saves
its figures), with the non-interactive Agg backend of matplotlib.
"""

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


def test_benchmark_help_is_plain_text():
    result = subprocess.run(
        [sys.executable, str(EXAMPLES_DIR / "bench_training.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, result.stderr
    assert "--per-call-only" in result.stdout
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
