"""What the ``rpo`` family's units run: thin calls of :mod:`ropg.reflection`'s artifact
functions, each resumable, with the run's LLM as the black-box base model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ropg.benchmark.config import LLMEntry
from ropg.benchmark.context import RunContext
from ropg.errors import DataError
from ropg.utils.io import atomic_write_json

CHECKPOINTS = "checkpoints"


def base_llm(ctx: RunContext, llm: LLMEntry) -> Any:
    """The run's LLM (its endpoint: budget, tokenizer, cache) as the RPO base model."""
    from ropg.reflection.endpoints import LLMSettings, RpoLLM

    endpoint = ctx.endpoint(llm)
    settings = LLMSettings(endpoint.spec, max_length=endpoint.max_length, label=llm.name)
    return RpoLLM(settings, endpoint.generator, endpoint.prompt_tokenizer)


def reflection_llm(ctx: RunContext, family: Any, model_dir: Path) -> Any:
    """A trained reflection model (``model_dir``: a full model) behind the run's cache."""
    from ropg.generation.endpoint import EndpointConfig, LLMEndpoint
    from ropg.reflection.endpoints import LLMSettings, RpoLLM

    generation = {"num_beams": 1, "max_new_tokens": 128, **family.settings.reflection_generation}
    root = ctx.cache_root
    config = EndpointConfig(
        f"hf:{model_dir}", generation=generation,
        max_length=int(generation.get("max_input_length", 2048)),
        cache=None if root is None else root / "generations.sqlite", label="rpo-reflection",
    )  # fmt: skip
    endpoint = LLMEndpoint(config)
    settings = LLMSettings(config.spec, max_length=config.max_length, label=config.label)
    return RpoLLM(settings, endpoint.generator)


def generic(ctx: RunContext, llm: LLMEntry, task: str, split: str, path: Path) -> dict[str, Any]:
    from ropg.reflection import generate_generic

    loaded = ctx.config.family("rpo").split(ctx, task, split)
    facts = generate_generic(loaded, base_llm(ctx, llm), path, restart=True)
    return {"examples": facts["examples"], "metrics": facts.get("metrics")}


def read_outputs(ctx: RunContext, task: str, split: str, path: Path) -> list[str]:
    """A job's outputs (its official predictions file) in split order."""
    from ropg.reflection.generic import predictions_path, read_generic

    outputs = read_generic(predictions_path(path))
    ids = ctx.split(task, split).ids
    missing = [qid for qid in ids if qid not in outputs]
    if missing:
        raise DataError(predictions_path(path), "no output", record_id=missing[0])
    return [outputs[qid] for qid in ids]


def contexts(
    ctx: RunContext, task: str, split: str, source: str, generic_path: Path, depth: int,
    path: Path,
) -> dict[str, Any]:  # fmt: skip
    """The pool retriever ``source``'s rankings of the split on the family's query."""
    from ropg.reflection import read_generic, retrieve_contexts, retriever_source

    family = ctx.config.family("rpo")
    entry = ctx.config.retrievers[source]
    ranker = retriever_source(
        source,
        query=family.settings.query,
        use_date=entry.use_date,
        retriever=ctx.retriever(source),
    )
    return retrieve_contexts(
        ctx.split(task, split), read_generic(generic_path), ranker, depth, path
    )


def rspg_contexts(ctx: RunContext, llm: str, task: str, path: Path) -> dict[str, Any]:
    """RSPG's row: per eval input, the items of the retriever RSPG-Pre chose (as its prompt had
    them), as a rankings file."""
    rspg = ctx.config.family("rspg")
    selection = ctx.selection_path(llm, task, "rspg-pre")
    try:
        chosen = json.loads(selection.read_text(encoding="utf-8"))["selected"]
    except (OSError, ValueError, KeyError) as error:
        raise DataError(selection, f"unreadable selection ({error})") from None
    rankings: dict[str, list[int]] = {}
    pool = rspg.pool_path(ctx, llm, task, ctx.config.eval_split)
    for line in pool.read_text(encoding="utf-8").splitlines()[1:]:
        record = json.loads(line)
        name = chosen[record["id"]]
        rankings[record["id"]] = [int(i) for i in record["retrievers"][name]["indices"]]
    atomic_write_json(path, {"source": "rspg-pre", "rankings": rankings})
    return {"examples": len(rankings)}


def _resume(settings: dict[str, Any], stage_dir: Path) -> dict[str, Any]:
    """Resume a killed stage from its checkpoints, else start the stage over."""
    if any((stage_dir / CHECKPOINTS).glob("checkpoint-*")):
        return {**settings, "resume": "latest", "overwrite": False}
    return {**settings, "overwrite": True}


def trajectories(
    ctx: RunContext, family: Any, task: str, generic_path: Path, contexts_path: Path, base: Path
) -> dict[str, Any]:
    from ropg.reflection import (
        build_trajectories,
        load_rankings,
        make_teacher,
        read_generic,
    )
    from ropg.reflection.endpoints import LLMSettings, make_llm

    section = family.settings
    split = family.split(ctx, task, ctx.config.train_split)

    def teacher_llm() -> Any:
        root = ctx.cache_root
        return make_llm(LLMSettings(
            section.teacher, options=section.teacher_options,
            generation=section.teacher_generation,
            cache=None if root is None else root / "generations.sqlite", label="rpo-teacher",
        ))  # fmt: skip

    facts = build_trajectories(
        split, read_generic(generic_path), load_rankings(contexts_path),
        make_teacher(section.teacher, teacher_llm), base / "train" / "trajectories.jsonl",
        items=section.teacher_items, restart=True,
    )  # fmt: skip
    return {key: facts[key] for key in ("kept", "dropped") if key in facts}


def sft(ctx: RunContext, family: Any, task: str, base: Path) -> dict[str, Any]:
    from ropg.reflection import RpoSftSettings, train_sft

    section = family.settings
    values = {
        "output_dir": str(base),
        "model": ctx.resolve_model(section.reflection_model),
        "trajectories_file": str(base / "train" / "trajectories.jsonl"),
        "seed": ctx.config.seed,
        **section.sft,
    }
    facts = train_sft(RpoSftSettings.from_dict(_resume(values, base / "sft")))
    return {key: facts.get(key) for key in ("steps", "completed", "lora", "train_loss")}


def rl(
    ctx: RunContext, family: Any, task: str, generic_path: Path, contexts_path: Path, base: Path
) -> dict[str, Any]:
    from ropg.reflection import RpoRlSettings, load_rankings, read_generic, train_rl

    config = ctx.config
    values = {
        "output_dir": str(base), "task": task, "data": ctx.data_source,
        "layout": config.layout, "split": config.train_split, "limit": config.limit,
        "seed": config.seed, **family.settings.rl,
    }  # fmt: skip
    settings = RpoRlSettings.from_dict(_resume(values, base / "rl"))
    split = family.split(ctx, task, config.train_split)
    facts = train_rl(settings, split, read_generic(generic_path), load_rankings(contexts_path))
    return {key: facts.get(key) for key in ("steps", "completed", "curriculum")}


def cell_jsonl(grid: Path, row: str, column: str) -> Path:
    """The job file of one grid cell (:func:`ropg.reflection.reflection_grid`'s layout)."""
    from ropg.reflection.grid import NO_REFLECTION, cell_stem

    return (
        grid / cell_stem(row) / f"{cell_stem(NO_REFLECTION if column == 'none' else column)}.jsonl"
    )


def grid_row(
    ctx: RunContext, family: Any, llm: LLMEntry, task: str, row: str, generic_path: Path,
    contexts_path: Path, grid: Path,
) -> dict[str, Any]:  # fmt: skip
    """One row of the grid: the LLM with the row's items, and both reflection models."""
    from ropg.reflection import Reflector, load_rankings, read_generic, reflection_grid

    base = family.run_dir(ctx, llm.name, task)
    reflectors = {
        stage: Reflector(reflection_llm(ctx, family, base / stage / "model"))
        for stage in ("sft", "rl")
    }
    split = ctx.split(task, ctx.config.eval_split)
    cells = reflection_grid(
        split, read_generic(generic_path), {row: load_rankings(contexts_path)},
        base_llm(ctx, llm), reflectors, grid, k=family.k(ctx.config), restart=True,
    )[row]  # fmt: skip
    return {column: facts.get("metrics") for column, facts in cells.items()}
