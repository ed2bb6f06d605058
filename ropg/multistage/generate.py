"""Generate: one fine-tuned generator per table row, its outputs and its scores.

:func:`row_fields` assembles what a row's generator reads (passage start, summary, important
words, past passages); :func:`row_pairs` its training pairs, with author-distinction pairs mixed
in for ``+AuthorPred`` (``author.ratio`` per generation example, from eligible training users
only); :func:`train_row`, :func:`generate_row` and :func:`score_row` train, decode and score it.
The generators train on the training users the stage models did not train on
(``train.generator_users: rest``, the paper's split of the training data) or on all of them.
A row's model is keyed by its training pairs, so two rows that read the same inputs share it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ropg.multistage import author, metrics
from ropg.multistage.documents import PassageExample
from ropg.multistage.prompts import KEYWORD_SEPARATOR, GenerationFields, generation_input
from ropg.multistage.rows import CONTEXT_DEPENDENT, CONTEXT_INDEPENDENT, Row
from ropg.multistage.stages import (
    keywords_ctxind_stage,
    rank_stage,
    stage_predictions,
    stage_users,
    summaries_ctxind_stage,
)
from ropg.multistage.workspace import Workspace, resumable_records
from ropg.utils.io import atomic_write_json

logger = logging.getLogger(__name__)


def generator_examples(ws: Workspace, split: str) -> list[PassageExample]:
    """The examples a generator trains on (``train``) or is evaluated on (other splits)."""
    examples = ws.split(split).examples
    if split != "train" or ws.config.train.generator_users == "all":
        return examples
    excluded = stage_users(ws)
    return [example for example in examples if str(example.user_id) not in excluded]


def row_fields(ws: Workspace, row: Row, split: str) -> dict[str, GenerationFields]:
    """``{example id: the generator's fields}`` of ``row`` for ``split``."""
    ranking = row.resolved_ranking(ws.config.rank.base)
    ranked = rank_stage(ws, ranking, split) if ranking else {}
    summaries: dict[str, str] = {}
    if row.summary == CONTEXT_INDEPENDENT:
        summaries = summaries_ctxind_stage(ws, split)
    elif row.summary == CONTEXT_DEPENDENT:
        summaries = stage_predictions(ws, "summarizer", split)
    keywords: dict[str, str] = {}
    if row.keywords == CONTEXT_INDEPENDENT:
        found = keywords_ctxind_stage(ws, split)
        keywords = {i: KEYWORD_SEPARATOR.join(words) for i, words in found.items()}
    elif row.keywords == CONTEXT_DEPENDENT:
        keywords = stage_predictions(ws, "keywords", split)
    return {
        example.id: GenerationFields(
            passage_start=example.input,
            summary=summaries.get(example.id, ""),
            important_words=keywords.get(example.id, ""),
            past_passages=ranked[example.id]["text"] if ranked else "",
        )
        for example in ws.split(split).examples
    }


def training_author_pairs(ws: Workspace, count: int) -> list[author.AuthorPair]:
    """``count`` author pairs of eligible training users (never a dev or test user)."""
    splits = ws.splits()
    users = author.eligible_users(splits, "train")
    documents = author.user_documents(splits["train"], users)
    return author.sample_author_pairs(documents, count, ws.config.seed)


def held_out_author_pairs(ws: Workspace) -> list[author.AuthorPair]:
    """Author pairs of the evaluation split's users (for the classifier's accuracy)."""
    split = ws.split(ws.config.eval_split)
    documents = author.user_documents(split, split.users)
    return author.sample_author_pairs(documents, ws.config.author.eval_pairs, ws.config.seed + 1)


def row_pairs(ws: Workspace, row: Row) -> list[tuple[str, str]]:
    """The training pairs of ``row``'s generator (generation, plus author pairs if any)."""
    fields = row_fields(ws, row, "train")
    pairs = [
        (generation_input(fields[example.id]), str(example.gold))
        for example in generator_examples(ws, "train")
    ]
    if not row.author:
        return pairs
    section = ws.config.author
    extra = training_author_pairs(ws, round(section.ratio * len(pairs)))
    return author.mix_tasks(
        pairs, author.pair_examples(extra, section.passage_chars), ws.config.seed
    )


def row_job(ws: Workspace, row: Row) -> Any:
    """The training job of ``row``'s generator."""
    from ropg.multistage.training import TrainingJob, pairs_digest

    pairs = row_pairs(ws, row)
    base = ws.base_model(ws.config.train.model)
    settings = ws.fine_tune_settings()
    key = ws.config.section_key("generator", base, pairs_digest(pairs), settings.result_dict())
    logger.info("%s: %d pairs to train the generator on", row.name, len(pairs))
    return TrainingJob(base, pairs, ws.root / "models" / f"generator-{key}", settings)


def train_row(ws: Workspace, row: Row) -> Any:
    """Train (once, resumably) the generator of ``row``."""
    return row_job(ws, row).run()


def generate_row(ws: Workspace, row: Row, split: str) -> dict[str, str]:
    """``{example id: continuation}`` of ``row``'s generator on ``split`` (resumable)."""
    trained = train_row(ws, row)
    if not trained.completed:
        raise RuntimeError(f"{row.name}: the generator stopped before the end of its training")
    fields = row_fields(ws, row, split)
    generation = ws.fine_tuned_generation()
    key = ws.config.section_key(trained.model_dir.parent.name, generation.to_dict())
    generator: list[Any] = []

    def compute(ids: list[str]) -> list[dict[str, Any]]:
        if not generator:
            generator.append(ws.fine_tuned_generator(trained.model_dir, generation))
        outputs = generator[0].generate([generation_input(fields[i]) for i in ids])
        return [{"id": i, "output": output} for i, output in zip(ids, outputs)]

    path = ws.root / "generations" / f"{key}" / f"{split}.jsonl"
    header = {"stage": "generate", "split": split, "key": key}
    ids = [example.id for example in generator_examples(ws, split)]
    records = resumable_records(path, header, ids, compute, generation.batch_size * 8)
    return {example_id: record["output"] for example_id, record in records.items()}


def author_accuracy(ws: Workspace, row: Row) -> float:
    """Accuracy of ``row``'s generator on held-out author pairs (test users)."""
    trained = train_row(ws, row)
    pairs = held_out_author_pairs(ws)
    inputs = [source for source, _ in author.pair_examples(pairs, ws.config.author.passage_chars)]
    generator = ws.fine_tuned_generator(trained.model_dir, ws.fine_tuned_generation(4))
    return author.author_accuracy(generator.generate(inputs), pairs)


def score_row(ws: Workspace, row: Row) -> dict[str, Any]:
    """Metrics, per-example values and (for author rows) author accuracy; written once."""
    split = ws.config.eval_split
    outputs = generate_row(ws, row, split)
    examples = ws.split(split)
    ids = [example.id for example in generator_examples(ws, split)]
    key = ws.config.section_key(
        ids, sorted(outputs.items()), ws.config.author if row.author else None, ws.config.seed
    )
    path = ws.root / "scores" / f"{row.name.lstrip('+')}-{key}.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    golds = [str(examples[i].gold) for i in ids]
    preds = [outputs[i] for i in ids]
    values = metrics.per_example(golds, preds, ws.task.use_stemmer)
    result: dict[str, Any] = {
        "row": row.name,
        "split": split,
        "examples": len(ids),
        "metrics": metrics.evaluate(golds, preds, ws.task.use_stemmer),
        "ids": ids,
        "per_example": {name: array.tolist() for name, array in values.items()},
    }
    if row.author:
        result["author_accuracy"] = author_accuracy(ws, row)
    atomic_write_json(path, result)
    return result
