"""Reading a benchmark run directory as data (what the report and ``ropg compare`` need).

A run directory (``results/<name>/``) holds ``config.yaml``, ``metrics.json``,
``fingerprints.json``, ``scores/<llm>/<task>/<method>.json`` (official metrics, example ids and
per-example values) and ``selection/<llm>/<task>/<name>.json`` (RSPG selections and their
analysis). :func:`load_run` reads them without importing the benchmark's machinery, so a run
written by an older version of ropg still reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ropg.errors import UserError

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"
FINGERPRINTS_FILE = "fingerprints.json"


@dataclass
class MethodScores:
    """One method's scores on one task: official metrics, example ids, per-example values."""

    method: str
    metrics: dict[str, float]
    ids: list[str]
    per_example: dict[str, list[float]]

    def aligned(self, ids: list[str]) -> dict[str, list[float]] | None:
        """Every per-example array in the order of ``ids`` (None: not the same examples)."""
        if len(ids) != len(self.ids) or sorted(ids) != sorted(self.ids):
            return None
        position = {example_id: index for index, example_id in enumerate(self.ids)}
        order = [position[example_id] for example_id in ids]
        return {
            key: [float(values[i]) for i in order]
            for key, values in self.per_example.items()
            if len(values) == len(self.ids)
        }


@dataclass
class RunData:
    """A run directory's files, read once.

    Attributes:
        path: the run directory.
        config: ``config.yaml`` as a dict.
        metrics: ``metrics.json`` (``metrics``: llm -> task -> method -> metric -> value;
            ``significance_p_values``: llm -> task -> metric -> method -> baseline -> p).
        fingerprints: ``fingerprints.json`` ({} when absent).
        scores: llm -> task -> method -> :class:`MethodScores`.
    """

    path: Path
    config: dict[str, Any]
    metrics: dict[str, Any]
    fingerprints: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, dict[str, dict[str, MethodScores]]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.metrics.get("run") or self.config.get("name") or self.path.name)

    @property
    def llms(self) -> list[str]:
        """LLM names in the run's order."""
        return list(self.metrics.get("metrics", {}))

    def tasks(self, llm: str) -> list[str]:
        return list(self.metrics.get("metrics", {}).get(llm, {}))

    def methods(self, llm: str, task: str) -> list[str]:
        """The methods with metrics for ``llm`` on ``task``, in column order."""
        return list(self.metrics.get("metrics", {}).get(llm, {}).get(task, {}))

    def value(self, llm: str, task: str, method: str, metric: str) -> float | None:
        """An official metric from ``metrics.json`` (None where the method has none)."""
        entry = self.metrics.get("metrics", {}).get(llm, {}).get(task, {}).get(method, {})
        value = entry.get(metric)
        return None if value is None else float(value)

    def p_values(self, llm: str, task: str, metric: str, method: str) -> dict[str, float]:
        """``{baseline: p}`` behind the markers of one cell."""
        table = self.metrics.get("significance_p_values", {}).get(llm, {})
        return dict(table.get(task, {}).get(metric, {}).get(method, {}))

    def llm_entry(self, llm: str) -> dict[str, Any]:
        """The config's entry of LLM ``llm`` ({} if the config has none)."""
        for entry in self.config.get("llms") or ():
            if isinstance(entry, dict) and entry.get("name") == llm:
                return entry
        return {}

    def selection(self, llm: str, task: str, name: str) -> dict[str, Any] | None:
        """``selection/<llm>/<task>/<name>.json`` (None when absent)."""
        return _read_json(self.path / "selection" / llm / task / f"{name}.json", missing_ok=True)

    def selection_names(self, llm: str, task: str) -> list[str]:
        """The stems of the selection files of ``llm`` on ``task``."""
        directory = self.path / "selection" / llm / task
        return sorted(p.stem for p in directory.glob("*.json")) if directory.is_dir() else []


def _read_json(path: Path, missing_ok: bool = False) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if missing_ok:
            return None
        raise UserError(f"{path}: not found") from None
    except ValueError as error:
        raise UserError(f"{path}: not valid JSON ({error})") from None


def _read_scores(run_dir: Path) -> dict[str, dict[str, dict[str, MethodScores]]]:
    scores: dict[str, dict[str, dict[str, MethodScores]]] = {}
    root = run_dir / "scores"
    for path in sorted(root.glob("*/*/*.json")) if root.is_dir() else ():
        data = _read_json(path)
        if not isinstance(data, dict) or "metrics" not in data:
            raise UserError(f"{path}: not a scores file (no metrics)")
        llm, task = path.parent.parent.name, path.parent.name
        method = str(data.get("method", path.stem))
        scores.setdefault(llm, {}).setdefault(task, {})[method] = MethodScores(
            method,
            {key: float(value) for key, value in data["metrics"].items()},
            [str(i) for i in data.get("ids", [])],
            {
                key: [float(v) for v in values]
                for key, values in data.get("per_example", {}).items()
            },
        )
    return scores


def load_run(run_dir: str | Path) -> RunData:
    """Read a run directory; a missing or foreign directory is a one-line :class:`UserError`."""
    path = Path(run_dir)
    if not path.is_dir():
        raise UserError(f"{path}: no such run directory")
    metrics_path = path / METRICS_FILE
    if not metrics_path.is_file():
        raise UserError(
            f"{path}: not a ropg run directory (no {METRICS_FILE}; a benchmark run writes it in "
            "its report stage)"
        )
    metrics = _read_json(metrics_path)
    if not isinstance(metrics, dict) or not isinstance(metrics.get("metrics"), dict):
        raise UserError(f"{metrics_path}: not a ropg benchmark's {METRICS_FILE} (no metrics)")
    config: dict[str, Any] = {}
    config_path = path / CONFIG_FILE
    if config_path.is_file():
        try:
            loaded = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise UserError(f"{config_path}: not valid YAML ({error})") from None
        config = loaded if isinstance(loaded, dict) else {}
    fingerprints = _read_json(path / FINGERPRINTS_FILE, missing_ok=True) or {}
    return RunData(path, config, metrics, fingerprints, _read_scores(path))
