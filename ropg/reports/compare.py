"""Two benchmark runs side by side (``ropg compare RUN_A RUN_B``).

Per LLM, task, method and metric: both runs' values, the difference ``B - A`` and, when both
runs scored the same examples, the paired test of the tables on the per-example scores
(:func:`ropg.lamp.stats.metric_p_value`, each metric with its own test, named by
:func:`ropg.lamp.stats.paired_test_label`). Where the examples differ, or a scores file lacks
the per-example values a test reads, only the plain difference is given, and the row says why.
Then what differs between the two configs (dotted paths, as in overrides:
``llms.0.generation.max_new_tokens``) and fingerprints (data digests, model identities, code
and library versions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ropg.benchmark.tables import METRIC_LABELS, format_value
from ropg.lamp.metrics import LOWER_IS_BETTER
from ropg.reports.collect import table_columns
from ropg.reports.model import Report, Section, TableBlock, TextBlock
from ropg.reports.run_data import RunData, load_run

RUN_IDENTITY = ("name", "output_root", "base_dir")  # where a run is, not how it ran
LONGEST_VALUE = 48
NOT_PAIRED = "not paired: the runs scored different examples"
NO_PER_EXAMPLE = "no per-example values"


@dataclass
class MetricComparison:
    """One metric of one method in both runs (``p`` None: no paired test, ``note`` says why)."""

    llm: str
    task: str
    method: str
    metric: str
    a: float | None
    b: float | None
    p: float | None = None
    test: str = ""
    note: str = ""

    @property
    def difference(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    def verdict(self, alpha: float) -> str:
        """``B better``/``B worse`` (p < alpha, in the metric's direction), or why not."""
        if self.p is None or self.difference is None:
            return self.note or "not tested"
        if self.p >= alpha or self.difference == 0:
            return "no significant difference"
        better = self.difference < 0 if self.metric in LOWER_IS_BETTER else self.difference > 0
        return "B better" if better else "B worse"


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts (and lists of dicts) as ``{dotted.path: leaf}``; other lists are leaves."""
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, list) and any(isinstance(v, (Mapping, list)) for v in value):
        items = [(str(index), v) for index, v in enumerate(value)]
    else:
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, inner in items:
        flat.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
    if not items and prefix:
        flat[prefix] = value
    return flat


def differences(
    a: Mapping[str, Any], b: Mapping[str, Any], ignore: tuple[str, ...] = ()
) -> list[tuple[str, Any, Any]]:
    """``(dotted path, value in a, value in b)`` of every leaf that differs (absent: None)."""
    flat_a = {k: v for k, v in flatten(a).items() if k.split(".")[0] not in ignore}
    flat_b = {k: v for k, v in flatten(b).items() if k.split(".")[0] not in ignore}
    keys = list(flat_a) + [k for k in flat_b if k not in flat_a]
    return [(k, flat_a.get(k), flat_b.get(k)) for k in keys if flat_a.get(k) != flat_b.get(k)]


def _shown(value: Any) -> str:
    if value is None:
        return "(absent)"
    text = value if isinstance(value, str) else repr(value) if isinstance(value, float) else None
    if text is None:
        import json

        text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= LONGEST_VALUE else text[: LONGEST_VALUE - 1] + "…"


def _compare_one(
    run_a: RunData, run_b: RunData, llm: str, task: str, method: str, metric: str
) -> MetricComparison:
    from ropg.lamp.stats import has_inputs, metric_p_value, paired_test_label

    row = MetricComparison(
        llm,
        task,
        method,
        metric,
        run_a.value(llm, task, method, metric),
        run_b.value(llm, task, method, metric),
    )
    scores_a = run_a.scores.get(llm, {}).get(task, {}).get(method)
    scores_b = run_b.scores.get(llm, {}).get(task, {}).get(method)
    if row.a is None or row.b is None or scores_a is None or scores_b is None:
        row.note = "only in one run" if (row.a is None) != (row.b is None) else "no scores"
        return row
    if not (has_inputs(metric, scores_a.per_example) and has_inputs(metric, scores_b.per_example)):
        row.note = NO_PER_EXAMPLE
        return row
    values_b = scores_b.aligned(scores_a.ids)
    if values_b is None:
        row.note = NOT_PAIRED
        return row
    seed = int(run_a.config.get("seed", 0))
    row.p = float(metric_p_value(metric, values_b, scores_a.per_example, seed=seed))
    row.test = paired_test_label(metric)
    return row


def _union(first: list[str], second: list[str]) -> list[str]:
    return first + [item for item in second if item not in first]


def compare_metrics(run_a: RunData, run_b: RunData) -> list[MetricComparison]:
    """Every (LLM, task, metric, method) of either run, compared (in table order: per task,
    its metrics, then the methods)."""
    rows = []
    for llm in _union(run_a.llms, run_b.llms):
        for task in _union(run_a.tasks(llm), run_b.tasks(llm)):
            methods = _union(run_a.methods(llm, task), run_b.methods(llm, task))
            metrics: list[str] = []
            for run in (run_a, run_b):
                for method in methods:
                    entry = run.metrics["metrics"].get(llm, {}).get(task, {}).get(method, {})
                    metrics = _union(metrics, list(entry))
            for metric in metrics:
                for method in methods:
                    rows.append(_compare_one(run_a, run_b, llm, task, method, metric))
    return rows


def _p_text(p: float | None) -> str:
    if p is None:
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _difference_text(value: float | None) -> str:
    return "–" if value is None else f"{value:+.3f}"


def _labels(run_a: RunData, run_b: RunData, llm: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for run in (run_b, run_a):  # A's labels win
        if llm in run.llms:
            labels.update(dict(table_columns(run, llm)[0]))
    return labels


def _metric_sections(run_a: RunData, run_b: RunData, alpha: float) -> Section:
    rows = compare_metrics(run_a, run_b)
    section = Section(
        "metrics",
        "Metrics",
        intro=f"Δ = B − A. p: the paired test of the tables for each metric (column Test) on "
        f"the per-example scores of the examples both runs scored; a verdict needs "
        f"p < {alpha:g}. Where the runs scored different examples, or a run's scores lack the "
        "per-example values a test reads, only the plain difference is given, and the row "
        "says why.",
    )
    for llm in dict.fromkeys(row.llm for row in rows):
        labels = _labels(run_a, run_b, llm)
        body = [
            [
                row.task,
                METRIC_LABELS.get(row.metric, row.metric),
                labels.get(row.method, row.method),
                format_value(row.a),
                format_value(row.b),
                _difference_text(row.difference),
                _p_text(row.p),
                row.test or "–",
                row.verdict(alpha),
            ]
            for row in rows
            if row.llm == llm
        ]
        headers = ["Task", "Metric", "Method", "A", "B", "Δ (B − A)", "p", "Test", "Verdict"]
        label = (run_a.llm_entry(llm) or run_b.llm_entry(llm)).get("label") or llm
        title = label if label == llm else f"{label} (`{llm}`)"
        section.blocks.append(TableBlock(title, headers, body))
    return section


def _difference_section(
    name: str, title: str, rows: list[tuple[str, Any, Any]], empty: str
) -> Section:
    if not rows:
        return Section(name, title, [TextBlock(empty)])
    body = [[path, _shown(old), _shown(new)] for path, old, new in rows]
    return Section(name, title, [TableBlock("", ["Path", "A", "B"], body)])


def compare_runs(run_a: str | Path, run_b: str | Path) -> Report:
    """The comparison of two run directories as a report (sections: settings, fingerprints,
    metrics); a missing or foreign directory is a one-line user error."""
    a, b = load_run(run_a), load_run(run_b)
    alpha = float(a.config.get("alpha", 0.05))
    settings = _difference_section(
        "settings",
        "Settings that differ (config.yaml)",
        differences(a.config, b.config, ignore=RUN_IDENTITY),
        "No setting differs (the run name and location are not compared).",
    )
    fingerprints = _difference_section(
        "fingerprints",
        "Fingerprints that differ (data, models, code, libraries)",
        differences(a.fingerprints, b.fingerprints),
        "No fingerprint differs.",
    )
    return Report(
        title=f"Comparing {a.name} (A) and {b.name} (B)",
        sections=[settings, fingerprints, _metric_sections(a, b, alpha)],
        summary=[("A", str(a.path)), ("B", str(b.path)), ("alpha", f"{alpha:g}")],
    )
