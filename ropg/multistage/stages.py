"""The pipeline's stages before generation, each a plain function of a :class:`Workspace`.

Every function writes its artifact resumably (or atomically when it is cheap), reuses it when it
exists, and returns what later stages read. In order: :func:`rank_stage` (ranked contexts of
one strategy and split), :func:`idf_stage`, :func:`keywords_ctxind_stage`,
:func:`summaries_ctxind_stage`, :func:`weak_label_stage` (weak labels of the stage half of the
training users), :func:`stage_model` (the context-dependent summarizer or keyword model) and
:func:`stage_predictions` (its outputs for a split).
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any

from ropg.multistage.keywords import (
    IdfTable,
    KeywordRules,
    WordMatcher,
    frequent_keywords,
    keyword_label,
    resolve_synonyms,
    words,
)
from ropg.multistage.prompts import (
    KEYWORD_SEPARATOR,
    KEYWORDS_INSTRUCTION,
    SUMMARY_INSTRUCTION,
    stage_input,
)
from ropg.multistage.ranking import (
    context_from_record,
    context_record,
    document_text,
    get_strategy,
    rank_contexts,
)
from ropg.multistage.snippets import snippets
from ropg.multistage.stopwords import load_stopwords
from ropg.multistage.summaries import context_independent_prompt, summary_label
from ropg.multistage.workspace import Workspace, resumable_records
from ropg.utils.io import atomic_write_json

logger = logging.getLogger(__name__)

STAGE_KINDS = {"summarizer": SUMMARY_INSTRUCTION, "keywords": KEYWORDS_INSTRUCTION}


# -- ranking --------------------------------------------------------------------------------------
def rank_key(ws: Workspace, strategy: str) -> str:
    rank = ws.config.rank
    spec = getattr(rank, get_strategy(strategy).role)
    return ws.config.section_key(
        ws.data_key, strategy, spec, rank.snippet_chars, rank.max_chars, rank.separator
    )


def rank_stage(ws: Workspace, strategy: str, split: str) -> dict[str, dict[str, Any]]:
    """``{example id: ranked-context record}`` of ``split`` (``id``, ``entries``, ``text``)."""
    rank = ws.config.rank
    examples = {example.id: example for example in ws.split(split).examples}
    key = rank_key(ws, strategy)
    path = ws.root / "rank" / f"{strategy}-{key}" / f"{split}.jsonl"
    retriever: list[Any] = []

    def compute(ids: list[str]) -> list[dict[str, Any]]:
        if not retriever:
            retriever.append(ws.retriever(get_strategy(strategy).role))
        contexts = rank_contexts(
            [examples[i] for i in ids],
            strategy,
            retriever[0],
            max_chars=rank.max_chars,
            snippet_chars=rank.snippet_chars,
            separator=rank.separator,
        )
        return [context_record(context) for context in contexts]

    header = {"stage": "rank", "strategy": strategy, "split": split, "key": key}
    return resumable_records(path, header, list(examples), compute, rank.chunk)


def entry_texts(ws: Workspace, split: str, record: dict[str, Any]) -> list[str]:
    """The parts of a ranked context's entries that are in its text."""
    profile = ws.split(split)[record["id"]].profile
    return context_from_record(record, profile, ws.config.rank.snippet_chars).entry_texts()


# -- keywords -------------------------------------------------------------------------------------
def idf_stage(ws: Workspace) -> IdfTable:
    """The IDF table over the training split's distinct profile documents."""
    path = ws.root / "idf" / f"{ws.data_key}.json"
    if path.is_file():
        return IdfTable.from_json(json.loads(path.read_text(encoding="utf-8")))
    texts: dict[tuple[str, str], str] = {}
    for example in ws.split("train").examples:
        for item in example.profile:
            texts.setdefault((str(example.user_id), str(item["id"])), document_text(item))
    table = IdfTable.build(texts.values())
    atomic_write_json(path, table.to_json())
    return table


def keyword_rules(ws: Workspace) -> KeywordRules:
    section = ws.config.keywords
    return KeywordRules(section.min_frequency, section.min_idf, section.max_words)


def keywords_ctxind_stage(ws: Workspace, split: str) -> dict[str, list[str]]:
    """Context-independent keywords of each example of ``split``."""
    section = ws.config.keywords
    stopwords = load_stopwords(section.stopwords_path)
    ranked = rank_stage(ws, ws.config.rank.base, split) if section.source == "ranked" else None
    parts = [ws.data_key, keyword_rules(ws).__dict__, sorted(stopwords), section.source]
    key = ws.config.section_key(*parts, rank_key(ws, ws.config.rank.base) if ranked else None)
    idf, rules = idf_stage(ws), keyword_rules(ws)
    examples = {example.id: example for example in ws.split(split).examples}

    def compute(ids: list[str]) -> list[dict[str, Any]]:
        records = []
        for example_id in ids:
            if ranked is not None:
                texts = entry_texts(ws, split, ranked[example_id])
            else:
                texts = [document_text(item) for item in examples[example_id].profile]
            records.append(
                {"id": example_id, "words": frequent_keywords(texts, idf, stopwords, rules)}
            )
        return records

    path = ws.root / "keywords" / f"ctxind-{key}" / f"{split}.jsonl"
    header = {"stage": "keywords-ctxind", "split": split, "key": key}
    records = resumable_records(path, header, list(examples), compute, 4096)
    return {example_id: record["words"] for example_id, record in records.items()}


# -- context-independent summaries ----------------------------------------------------------------
def summaries_ctxind_stage(ws: Workspace, split: str) -> dict[str, str]:
    """Context-independent summaries of each example's ranked entries (base ranking)."""
    from ropg.generation import CachedGenerator, GenerationConfig, get_generator

    section = ws.config.summary
    ranked = rank_stage(ws, ws.config.rank.base, split)
    spec = ws.generator_spec(section.generator)
    decoding = GenerationConfig.from_dict(section.generation)
    key = ws.config.section_key(
        spec,
        section.options,
        decoding.decoding_identity(),
        section.prompt,
        rank_key(ws, ws.config.rank.base),
    )
    generator: list[Any] = []

    def compute(ids: list[str]) -> list[dict[str, Any]]:
        if not generator:
            built = get_generator(spec, config=decoding, **section.options)
            generator.append(CachedGenerator(built, ws.generation_cache()))
        prompts = [context_independent_prompt(ranked[i]["text"], section.prompt) for i in ids]
        outputs = generator[0].generate(prompts)
        return [{"id": i, "output": output} for i, output in zip(ids, outputs)]

    path = ws.root / "summaries" / f"ctxind-{key}" / f"{split}.jsonl"
    header = {"stage": "summaries-ctxind", "split": split, "key": key}
    records = resumable_records(path, header, list(ranked), compute, decoding.batch_size * 8)
    return {example_id: record["output"] for example_id, record in records.items()}


# -- weak labels and the context-dependent stage models ------------------------------------------
def stage_users(ws: Workspace) -> set[str]:
    """The training users whose examples train the summarizer and keyword model (a seeded
    ``summary.stage_share`` of them); the generator trains on the others."""
    users = sorted(ws.split("train").users)
    random.Random(ws.config.seed).shuffle(users)
    return set(users[: round(len(users) * ws.config.summary.stage_share)])


def word_matcher(ws: Workspace) -> WordMatcher:
    section = ws.config.keywords
    synonyms = resolve_synonyms(section.synonyms)
    if section.embedding_threshold is None:
        return WordMatcher(synonyms)
    encoder = ws.encoder(ws.config.summary.encoder)
    return WordMatcher(
        synonyms, encoder.embed, section.embedding_threshold, encoder.encoder.identity
    )


def embed_once(encoder: Any, texts: list[str]) -> Any:
    """An ``embed`` function over ``texts``, encoded (or read from the cache) in one pass."""
    import numpy as np

    unique = list(dict.fromkeys(texts))
    row = {text: index for index, text in enumerate(unique)}
    vectors = encoder.embed(unique) if unique else np.zeros((0, 0), dtype=np.float32)

    def embed(items: list[str]) -> Any:
        missing = [item for item in items if item not in row]
        if missing:
            return encoder.embed(items)
        return vectors[[row[item] for item in items]]

    return embed


def weak_label_stage(ws: Workspace) -> dict[str, dict[str, Any]]:
    """``{id: {summary, keywords}}`` weak labels of the stage users' training examples."""
    config = ws.config
    ranked = rank_stage(ws, config.rank.base, "train")
    chosen = stage_users(ws)
    examples = {e.id: e for e in ws.split("train").examples if str(e.user_id) in chosen}
    matcher = word_matcher(ws)
    stopwords = load_stopwords(config.keywords.stopwords_path)
    idf, rules = idf_stage(ws), keyword_rules(ws)
    encoder = ws.encoder(config.summary.encoder)
    key = config.section_key(
        rank_key(ws, config.rank.base),
        sorted(chosen),
        matcher.describe(),
        encoder.encoder.identity,
        rules.__dict__,
        sorted(stopwords),
    )

    def compute(ids: list[str]) -> list[dict[str, Any]]:
        texts = {i: entry_texts(ws, "train", ranked[i]) for i in ids}
        golds = {i: examples[i].input + (examples[i].gold or "") for i in ids}
        matcher.prepare(w for i in ids for t in [*texts[i], golds[i]] for w in words(t))
        vectors = embed_once(encoder, [
            snippet for i in ids for text in [golds[i], *texts[i]]
            for snippet in snippets(text, config.rank.snippet_chars)
        ])  # fmt: skip
        records = []
        for i in ids:
            summary = summary_label(golds[i], texts[i], vectors, config.rank.snippet_chars)
            chosen_words = keyword_label(texts[i], golds[i], idf, stopwords, rules, matcher)
            records.append({"id": i, "summary": summary, "keywords": chosen_words})
        return records

    path = ws.root / "weak" / key / "train.jsonl"
    header = {"stage": "weak-labels", "key": key, "matcher": matcher.describe()}
    return resumable_records(path, header, list(examples), compute, config.rank.chunk)


def stage_pairs(ws: Workspace, kind: str) -> list[tuple[str, str]]:
    """The ``(input, weak label)`` training pairs of the summarizer or the keyword model."""
    labels = weak_label_stage(ws)
    ranked = rank_stage(ws, ws.config.rank.base, "train")
    pairs = []
    for example in ws.split("train").examples:
        if example.id not in labels:
            continue
        label = labels[example.id]
        target = (
            label["summary"] if kind == "summarizer" else KEYWORD_SEPARATOR.join(label["keywords"])
        )
        if target:
            pairs.append(
                (stage_input(STAGE_KINDS[kind], example.input, ranked[example.id]["text"]), target)
            )
    return pairs


def stage_job(ws: Workspace, kind: str) -> Any:
    """The training job of the context-dependent ``summarizer`` or ``keywords`` model."""
    from ropg.multistage.training import TrainingJob, pairs_digest

    pairs = stage_pairs(ws, kind)
    base = ws.base_model(ws.config.train.stage_model or ws.config.train.model)
    settings = ws.fine_tune_settings()
    key = ws.config.section_key(kind, base, pairs_digest(pairs), settings.result_dict())
    logger.info("%s: %d weak labels to train on", kind, len(pairs))
    return TrainingJob(base, pairs, ws.root / "models" / f"{kind}-{key}", settings)


def stage_model(ws: Workspace, kind: str) -> Any:
    """Train (once, resumably) the context-dependent ``summarizer`` or ``keywords`` model."""
    return stage_job(ws, kind).run()


def stage_predictions(ws: Workspace, kind: str, split: str) -> dict[str, str]:
    """The trained stage model's output for every example of ``split`` (base ranking)."""
    trained = stage_model(ws, kind)
    if not trained.completed:
        raise RuntimeError(f"the {kind} model stopped before the end of its training")
    ranked = rank_stage(ws, ws.config.rank.base, split)
    examples = ws.split(split)
    generation = ws.fine_tuned_generation(ws.config.generation.stage_max_new_tokens)
    key = ws.config.section_key(Path(trained.model_dir).parent.name, generation.to_dict())
    generator: list[Any] = []

    def compute(ids: list[str]) -> list[dict[str, Any]]:
        if not generator:
            generator.append(ws.fine_tuned_generator(trained.model_dir, generation))
        prompts = [
            stage_input(STAGE_KINDS[kind], examples[i].input, ranked[i]["text"]) for i in ids
        ]
        return [{"id": i, "output": o} for i, o in zip(ids, generator[0].generate(prompts))]

    path = ws.root / "predictions" / f"{kind}-{key}" / f"{split}.jsonl"
    header = {"stage": f"{kind}-predictions", "split": split, "key": key}
    records = resumable_records(path, header, examples.ids, compute, generation.batch_size * 8)
    return {example_id: record["output"] for example_id, record in records.items()}
