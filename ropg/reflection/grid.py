"""The retrieval x reflection grid: rows are context sources, columns are "no reflection" and
one column per reflection model (e.g. after SFT, after SFT + RL).

Each cell is one resumable artifact under ``OUT/ROW/COLUMN.jsonl`` (with its predictions and
report files): the "no reflection" cell is the base model given the row's items through the
task's own prompt (a row without items, such as the ``none`` retriever, gives the zero-shot g);
a reflection cell is :func:`~ropg.reflection.inference.reflect_split` with the row's items.
Both see the same items, so retrieval and rewriting are ablated separately.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ropg.reflection.generic import generate_generic
from ropg.reflection.inference import Reflector, reflect_split

NO_REFLECTION = "no reflection"


def cell_stem(name: str) -> str:
    """A row or column name as a file name."""
    return re.sub(r"[^\w.+-]+", "-", name).strip("-") or "cell"


def reflection_grid(
    split: Any,
    generics: Mapping[str, str],
    rows: Mapping[str, Mapping[str, Sequence[int]]],
    base: Any,
    reflectors: Mapping[str, Reflector],
    out: str | os.PathLike[str],
    *,
    k: int = 6,
    chunk_size: int = 64,
    restart: bool = False,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Run every cell (resumably); ``{row: {column: facts}}``.

    Args:
        split: the evaluated split.
        generics: g per question id (the base model's zero-shot answers).
        rows: ``{row name: {qid: [profile indices]}}``, e.g. each pool retriever's rankings on
            ``input+generic``, an ROPG retriever's, RSPG's choice per input, ``none`` (empty).
        base: the base model (an :class:`~ropg.reflection.endpoints.RpoLLM`).
        reflectors: ``{column name: Reflector}``, e.g. ``{"RPO w/o RL": ..., "RPO": ...}``.
        out: the grid's directory.
        k: items per cell (base prompt and reflection alike).
    """
    out = Path(out)
    grid: dict[str, dict[str, dict[str, Any]]] = {}
    for row, rankings in rows.items():
        folder = out / cell_stem(row)
        cells = {
            NO_REFLECTION: generate_generic(
                split,
                base,
                folder / f"{cell_stem(NO_REFLECTION)}.jsonl",
                rankings=rankings,
                k=k,
                chunk_size=chunk_size,
                restart=restart,
            )
        }
        for column, reflector in reflectors.items():
            cells[column] = reflect_split(
                split,
                generics,
                rankings,
                reflector,
                folder / f"{cell_stem(column)}.jsonl",
                k=k,
                query=row,
                source={"row": row},
                chunk_size=chunk_size,
                restart=restart,
            )
        grid[row] = cells
    return grid


def grid_values(grid: Mapping[str, Mapping[str, Mapping[str, Any]]], metric: str) -> dict:
    """``{row: {column: value of metric}}`` of a grid (cells without golds are left out)."""
    return {
        row: {
            column: facts["metrics"][metric]
            for column, facts in cells.items()
            if metric in facts.get("metrics", {})
        }
        for row, cells in grid.items()
    }
