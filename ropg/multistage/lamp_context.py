"""The pipeline as a context builder for LaMP's generation tasks (LaMP-4/5/7).

Given a loaded LaMP split and a ranking of each question's profile (``{qid: Ranking}`` from
the retriever pipeline, or ``{qid: [item ids]}`` as in ranking files), :func:`lamp_context_fields`
returns each question's summary and important words, built like the multistage fields: the
ranked items' retrieval texts are concatenated and cut at ``max_chars``; the important words
are the context-independent keywords of the profile (IDF over the split's distinct profile
items) or, with ``keywords_model``, a trained keyword model's output; the summary comes from a
generator (``summary_generator``, context-independent) or a trained summarizer
(``summarizer_model``). :func:`with_context_fields` puts them in front of a LaMP prompt, so
their effect can be set beside the retrievers' in table3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ropg.errors import UserError
from ropg.multistage.keywords import IdfTable, KeywordRules, frequent_keywords
from ropg.multistage.prompts import (
    IMPORTANT_WORDS,
    KEYWORD_SEPARATOR,
    KEYWORDS_INSTRUCTION,
    SUMMARY,
    SUMMARY_INSTRUCTION,
    field_string,
    stage_input,
)
from ropg.multistage.ranking import MAX_CHARS, concatenate
from ropg.multistage.stopwords import load_stopwords
from ropg.multistage.summaries import CONTEXT_INDEPENDENT_PROMPT, context_independent_prompt


@dataclass
class LampContextSettings:
    """How the LaMP context fields are built (see the module docstring)."""

    max_chars: int = MAX_CHARS
    separator: str = " "
    keywords: bool = True
    keyword_source: str = "profile"  # or "ranked"
    keyword_rules: KeywordRules = field(default_factory=KeywordRules)
    stopwords_path: str | None = None
    summary_generator: str | None = None
    summary_options: dict[str, Any] = field(default_factory=dict)
    summary_generation: dict[str, Any] = field(default_factory=lambda: {"max_new_tokens": 128})
    summary_prompt: str = CONTEXT_INDEPENDENT_PROMPT
    summarizer_model: str | None = None
    keywords_model: str | None = None
    cache_path: str | None = None


def _ranked_indices(ranking: Any, profile: list[dict[str, Any]], qid: str) -> list[int]:
    if hasattr(ranking, "indices"):
        return [int(i) for i in ranking.indices]
    position = {str(item["id"]): index for index, item in enumerate(profile)}
    try:
        return [position[str(item_id)] for item_id in ranking]
    except KeyError as error:
        raise UserError(f"question {qid!r}: ranked item {error} is not in its profile") from None


def ranked_texts(
    split: Any, rankings: Mapping[str, Any], settings: LampContextSettings
) -> dict[str, str]:
    """``{qid: the ranked items' texts, concatenated and cut}``."""
    task = split.task
    result = {}
    for example in split.examples:
        if example.id not in rankings:
            raise UserError(f"no ranking for question {example.id!r}")
        documents = task.documents(example.profile)
        order = _ranked_indices(rankings[example.id], example.profile, example.id)
        text, _ = concatenate([documents[i] for i in order], settings.max_chars, settings.separator)
        result[example.id] = text
    return result


def _generate(
    spec: str,
    prompts: list[str],
    settings: LampContextSettings,
    generation: Any,
    options: Mapping[str, Any],
) -> list[str]:
    from ropg.generation import CachedGenerator, GenerationConfig, get_generator

    config = (
        generation
        if isinstance(generation, GenerationConfig)
        else GenerationConfig.from_dict(generation)
    )
    generator = CachedGenerator(get_generator(spec, config=config, **options), settings.cache_path)
    return generator.generate(prompts)


def lamp_context_fields(
    split: Any, rankings: Mapping[str, Any], settings: LampContextSettings | None = None
) -> dict[str, dict[str, str]]:
    """``{qid: {"summary": ..., "important words": ...}}`` (module docstring); a field that is
    not configured is left out."""
    settings = settings or LampContextSettings()
    texts = ranked_texts(split, rankings, settings)
    task = split.task
    fields: dict[str, dict[str, str]] = {example.id: {} for example in split.examples}
    if settings.keywords and settings.keywords_model is None:
        profiles = {
            (str(item["id"]), text)
            for example in split.examples
            for item, text in zip(example.profile, task.documents(example.profile))
        }
        idf = IdfTable.build(text for _, text in sorted(profiles))
        stopwords = load_stopwords(settings.stopwords_path)
        for example in split.examples:
            source = (
                [texts[example.id]]
                if settings.keyword_source == "ranked"
                else task.documents(example.profile)
            )
            found = frequent_keywords(source, idf, stopwords, settings.keyword_rules)
            fields[example.id][IMPORTANT_WORDS] = KEYWORD_SEPARATOR.join(found)
    trained = {
        SUMMARY: (settings.summarizer_model, SUMMARY_INSTRUCTION),
        IMPORTANT_WORDS: (settings.keywords_model, KEYWORDS_INSTRUCTION),
    }
    for name, (model, instruction) in trained.items():
        if model is None:
            continue
        if not Path(model).is_dir():
            raise UserError(f"{name} model {model!r} is not a directory")
        prompts = [stage_input(instruction, e.input, texts[e.id]) for e in split.examples]
        outputs = _generate(
            f"hf:{model}", prompts, settings, settings.summary_generation, {"chat": False}
        )
        for example, output in zip(split.examples, outputs):
            fields[example.id][name] = output
    if settings.summary_generator is not None and settings.summarizer_model is None:
        prompts = [
            context_independent_prompt(texts[e.id], settings.summary_prompt) for e in split.examples
        ]
        outputs = _generate(
            settings.summary_generator,
            prompts,
            settings,
            settings.summary_generation,
            settings.summary_options,
        )
        for example, output in zip(split.examples, outputs):
            fields[example.id][SUMMARY] = output
    return fields


def with_context_fields(prompt: str, fields: Mapping[str, str]) -> str:
    """``"summary: ... important words: ... {prompt}"`` (empty fields left out)."""
    prefix = field_string("", dict(fields), (SUMMARY, IMPORTANT_WORDS))
    return f"{prefix} {prompt}" if prefix else prompt
