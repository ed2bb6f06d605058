"""A benchmark run killed midway (SIGKILL, a real subprocess) and started again: it finishes,
recomputes nothing that had finished, and writes the same tables as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from benchmark_fixtures import save_tiny_bert, tiny_config, write_config

pytest.importorskip("accelerate")

ROOT = Path(__file__).resolve().parents[1]
RUN_ALL = ROOT / "benchmarks" / "run_all.py"
OUTPUTS = ("table3.md", "selectors.md", "metrics.json")


def command(config: Path) -> list[str]:
    return [sys.executable, str(RUN_ALL), "--config", str(config), "--no-progress"]


def environment() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def markers(run_dir: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(path.relative_to(run_dir)): (path.stat().st_mtime_ns, path.read_bytes())
        for path in (run_dir / "state").rglob("*.json")
    }


def run_to_end(config: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command(config), capture_output=True, text=True, env=environment(), timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def kill_when(config: Path, trigger: Path, timeout: float = 240) -> int:
    """Start a run and SIGKILL it as soon as ``trigger`` (a directory) holds a marker."""
    process = subprocess.Popen(
        command(config), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment()
    )
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if trigger.is_dir() and any(trigger.glob("*.json")):
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.05)
    finally:
        if process.poll() is None and time.monotonic() >= deadline:
            process.kill()
    return process.wait(timeout=60)


def test_killed_run_resumes_without_recomputing_and_gives_identical_tables(tmp_path) -> None:
    encoder = save_tiny_bert(tmp_path / "bert")
    small = {"encoder": encoder, "rspg": True, "tasks": ("LaMP-3",), "limit": 6}
    reference = write_config(tmp_path / "reference.yaml", tiny_config(tmp_path / "a", **small))
    resumed = write_config(tmp_path / "resumed.yaml", tiny_config(tmp_path / "b", **small))
    run_to_end(reference)

    run_dir = tmp_path / "b" / "tiny"
    # killed once the first ROPG model is trained: one more, the selectors and later stages remain
    code = kill_when(resumed, run_dir / "state" / "ropg-train")
    assert code == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (run_dir / "table3.md").exists()
    finished = markers(run_dir)
    assert any(key.startswith("state/ropg-train/") for key in finished)

    result = run_to_end(resumed)
    after = markers(run_dir)
    for key, (mtime, content) in finished.items():  # finished work was not redone
        assert after[key] == (mtime, content), key
    assert "stage rank: 0 unit(s) run" in result.stderr
    assert "stage ropg-train: 1 unit(s) run, 1 already done" in result.stderr

    for name in OUTPUTS:
        assert (run_dir / name).read_bytes() == (tmp_path / "a" / "tiny" / name).read_bytes(), name
    table = (run_dir / "table3.md").read_text(encoding="utf-8")
    assert all(name in table for name in ("ROPG-KD", "ROPG-RL", "RSPG-Pre", "RSPG-Post"))
    assert "| LaMP-3 | MAE |" in table and "–" not in table.split("Bold:")[0]
    selectors = (run_dir / "selectors.md").read_text(encoding="utf-8")
    assert "| LaMP-3 |" in selectors and "WIG" in selectors and "σmax" in selectors
    assert "| LaMP-3 | " in selectors.split("Oracle")[1]
    assert (run_dir / "winning_rates" / "reader" / "LaMP-3.png").is_file()
