"""The paper's table: one row per method, BLEU / ROUGE-1 / ROUGE-2 / ROUGE-L (%).

:func:`table_rows` runs (or reuses) every stage each configured row needs and returns the rows
as JSON-able dicts (metrics, per-example values, p-values of the paired t-test against
ImmedCtx); :func:`markdown_table` renders them; :func:`run_pipeline` writes ``multistage.md``,
``multistage.json`` and ``config.yaml`` under ``work_dir``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from ropg.multistage.config import MultistageConfig
from ropg.multistage.metrics import METRIC_KEYS, significance
from ropg.multistage.rows import get_row
from ropg.utils.io import atomic_open, atomic_write_json

logger = logging.getLogger(__name__)

BASELINE = "ImmedCtx"
COLUMNS = {"bleu": "BLEU", "rouge-1": "R-1", "rouge-2": "R-2", "rouge-L": "R-L"}


def percent(metric: str, value: float) -> float:
    """A metric on the table's 0-100 scale (BLEU already is; ROUGE is 0-1)."""
    return value if metric == "bleu" else 100.0 * value


def table_rows(config: MultistageConfig) -> list[dict[str, Any]]:
    """Every configured row, scored on ``eval_split``, with p-values against ImmedCtx."""
    from ropg.multistage.generate import score_row
    from ropg.multistage.workspace import Workspace

    ws = Workspace(config)
    ws.build_data()
    rows = []
    for name in config.rows:
        logger.info("row %s", name)
        scored = score_row(ws, get_row(name))
        rows.append(
            {
                "row": name,
                "split": scored["split"],
                "examples": scored["examples"],
                "metrics": {key: percent(key, scored["metrics"][key]) for key in METRIC_KEYS},
                "ids": scored["ids"],
                "per_example": scored["per_example"],
                **(
                    {"author_accuracy": scored["author_accuracy"]}
                    if "author_accuracy" in scored
                    else {}
                ),
            }
        )
    baseline = next((row for row in rows if row["row"] == BASELINE), None)
    for row in rows:
        if baseline is not None and row is not baseline:
            row["p_vs_ImmedCtx"] = significance(row["per_example"], baseline["per_example"])
    return rows


def markdown_table(rows: Sequence[dict[str, Any]], alpha: float = 0.05, title: str = "") -> str:
    """The rows as a markdown table; ``†`` marks a value significantly above ImmedCtx."""
    lines = [f"# {title}", ""] if title else []
    lines += ["| Method | " + " | ".join(COLUMNS.values()) + " |", "|---|" + "---:|" * len(COLUMNS)]
    baseline = next((row for row in rows if row["row"] == BASELINE), None)
    for row in rows:
        cells = []
        for key in COLUMNS:
            value = row["metrics"][key]
            better = baseline is not None and value > baseline["metrics"][key]
            mark = "†" if better and row.get("p_vs_ImmedCtx", {}).get(key, 1.0) < alpha else ""
            cells.append(f"{value:.2f}{mark}")
        lines.append(f"| {row['row']} | " + " | ".join(cells) + " |")
    split = rows[0]["split"] if rows else "test"
    count = rows[0]["examples"] if rows else 0
    lines += [
        "",
        f"{split} split, {count} examples; BLEU = sacrebleu corpus BLEU, R-1/R-2/R-L = "
        f"ROUGE F (%). † = better than ImmedCtx, paired two-tailed t-test p < {alpha}.",
    ]
    authors = [row for row in rows if "author_accuracy" in row]
    for row in authors:
        lines.append(
            f"{row['row']}: author distinction accuracy on held-out pairs "
            f"{100 * row['author_accuracy']:.1f}% (chance 50%)."
        )
    return "\n".join(lines) + "\n"


def fingerprints(config: MultistageConfig) -> dict[str, Any]:
    """What the numbers depend on beyond the config: the data (key, counts, source digest), how
    keyword weak labels matched words (WordNet or not, which word vectors) and the libraries."""
    from importlib.metadata import PackageNotFoundError, version

    from ropg.multistage.rows import CONTEXT_DEPENDENT
    from ropg.multistage.stages import word_matcher
    from ropg.multistage.workspace import Workspace, source_fingerprint

    ws = Workspace(config)
    data = ws.build_data()
    uses_matching = any(get_row(name).keywords == CONTEXT_DEPENDENT for name in config.rows)
    libraries = {}
    for name in ("ropg", "torch", "transformers", "trl", "datasets", "sacrebleu", "rouge-score"):
        try:
            libraries[name] = version(name)
        except PackageNotFoundError:
            libraries[name] = None
    return {
        "data": {"key": data["key"], "counts": data["counts"], "users": data["users"],
                 "source": source_fingerprint(config.data.source)},
        "word_matching": word_matcher(ws).describe() if uses_matching else None,
        "libraries": libraries,
    }  # fmt: skip


def run_pipeline(config: MultistageConfig) -> dict[str, Any]:
    """Run every stage the rows need and write the table; small facts about the run."""
    import yaml

    rows = table_rows(config)
    root = config.root
    with atomic_open(root / "multistage.md") as stream:
        stream.write(markdown_table(rows, config.alpha, f"Multistage ({config.name})"))
    atomic_write_json(root / "multistage.json", {"rows": rows, **fingerprints(config)})
    with atomic_open(root / "config.yaml") as stream:
        yaml.safe_dump(config.to_dict(), stream, sort_keys=False, allow_unicode=True)
    summary = {row["row"]: row["metrics"] for row in rows}
    logger.info("multistage: %s", json.dumps(summary))
    return {"table": str(root / "multistage.md"), "rows": summary}
