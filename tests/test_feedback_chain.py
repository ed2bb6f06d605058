"""Chainable steps: step 2's query and prompt read step 1's stored outputs, and a killed step 2
resumes without regenerating anything of step 1 (or of its own finished examples)."""

from __future__ import annotations

from typing import Any

import pytest

from ropg.feedback import (
    FeedbackRun,
    StepOutputs,
    StepPlanner,
    collect_feedback,
    read_feedback,
)
from ropg.generation import BaseGenerator, CachedGenerator, GenerationCache, GenerationConfig
from ropg.lamp import LampDataError, LampSplit, load_split
from ropg.lamp.synthetic import sample_path
from ropg.retrievers import get_retriever
from ropg.retrievers.base import BatchRetriever

HEADER = {"task": "LaMP-2", "split": "train", "llm": {"model": "last-words-1"}}


class LastWords(BaseGenerator):
    """Stand-in LLM: the prompt's last three words (upper-cased); can crash mid-job."""

    backend = "last-words"

    def __init__(self, fail_after_batches: int | None = None) -> None:
        super().__init__(GenerationConfig(num_beams=1, batch_size=3), name="last-words")
        self.generated: list[str] = []
        self.fail_after_batches = fail_after_batches

    def model_identity(self) -> dict[str, Any]:
        return {"model": "last-words-1"}

    def _generate(self, prompts, config, on_batch):
        outputs = []
        for start in range(0, len(prompts), config.batch_size):
            if self.fail_after_batches is not None and self.fail_after_batches <= 0:
                raise RuntimeError("simulated crash")
            if self.fail_after_batches is not None:
                self.fail_after_batches -= 1
            batch = prompts[start : start + config.batch_size]
            texts = [" ".join(prompt.split()[-3:]).upper() for prompt in batch]
            self.generated.extend(batch)
            outputs.extend(texts)
            if on_batch is not None:
                on_batch(list(range(start, start + len(batch))), texts)
        return outputs


class RecordingRetriever(BatchRetriever):
    """BM25 that remembers the query texts it was given."""

    name = "recording-bm25"

    def __init__(self) -> None:
        self.bm25 = get_retriever("bm25")
        self.queries: dict[str, str] = {}

    def rank_batch(self, queries, top_k=None, show_progress=False):
        self.queries.update({query.qid: query.query for query in queries})
        return self.bm25.rank_batch(queries, top_k)


@pytest.fixture(scope="module")
def split() -> LampSplit:
    return load_split(sample_path(), "LaMP-2", "train").head(10)


def generic_step(split: LampSplit) -> StepPlanner:
    return StepPlanner("generic", split.task, lambda example, items: example.input)


def rewrite_step(split: LampSplit, generic: StepOutputs, retriever: Any) -> StepPlanner:
    def prompt(example, items) -> str:
        tags = ", ".join(str(item["tag"]) for item in items)
        return f"rewrite {generic[example.id]} for a user who tags {tags}"

    return StepPlanner(
        "rewrite",
        split.task,
        prompt,
        retriever=retriever,
        k=2,
        query=lambda example: f"{example.input} {generic[example.id]}",
        settings={"reads": generic.fingerprint},
    )


def test_step_two_reads_step_one_and_resumes_without_regenerating(split, tmp_path) -> None:
    cache = GenerationCache(tmp_path / "cache.sqlite")
    run = FeedbackRun(chunk_size=2, show_progress=False)
    first = LastWords()
    collect_feedback(
        split, generic_step(split), CachedGenerator(first, cache), tmp_path / "g.jsonl", HEADER, run
    )
    assert len(first.generated) == len(split)
    generic = StepOutputs.load(tmp_path / "g.jsonl", split.ids)
    assert generic[split.ids[0]] == " ".join(split.examples[0].input.split()[-3:]).upper()

    # step 2 crashes after two batches ...
    crashing, retriever = LastWords(fail_after_batches=2), RecordingRetriever()
    out = tmp_path / "rewrite.jsonl"
    with pytest.raises(RuntimeError, match="simulated crash"):
        collect_feedback(
            split, rewrite_step(split, generic, retriever), CachedGenerator(crashing, cache),
            out, HEADER, run,
        )  # fmt: skip
    done = read_feedback(out)[1]
    assert 0 < len(done) < len(split)
    # ... and resumes: nothing of step 1 nor of its own finished work is generated again
    second = LastWords()
    collect_feedback(
        split, rewrite_step(split, generic, RecordingRetriever()), CachedGenerator(second, cache),
        out, HEADER, run,
    )  # fmt: skip
    step_one_prompts = {example.input for example in split.examples}
    assert not step_one_prompts & set(second.generated)
    assert not set(crashing.generated) & set(second.generated)
    distinct = {record["prompt"] for record in read_feedback(out)[1]}
    assert set(crashing.generated) | set(second.generated) == distinct

    header, records = read_feedback(out)
    assert header["kind"] == "step" and header["reads"] == generic.fingerprint
    assert [record["id"] for record in records] == split.ids
    for example, record in zip(split.examples, records, strict=True):
        g = generic[example.id]
        assert record["prompt"].startswith(f"rewrite {g} for a user who tags")
        assert len(record["indices"]) == min(2, len(example.profile))
        if example.id in retriever.queries:
            assert retriever.queries[example.id] == f"{example.input} {g}"
    assert retriever.queries  # the crashed run ranked with step 1's outputs in its queries

    # the same file an uninterrupted run writes
    again = tmp_path / "again.jsonl"
    collect_feedback(
        split, rewrite_step(split, generic, RecordingRetriever()),
        CachedGenerator(LastWords(), cache), again, HEADER, run,
    )  # fmt: skip
    assert again.read_bytes() == out.read_bytes()


def test_a_changed_earlier_step_is_not_resumed_over(split, tmp_path) -> None:
    run = FeedbackRun(chunk_size=5, show_progress=False)
    cache = GenerationCache(tmp_path / "cache.sqlite")
    collect_feedback(split, generic_step(split), CachedGenerator(LastWords(), cache),
                     tmp_path / "g.jsonl", HEADER, run)  # fmt: skip
    generic = StepOutputs.load(tmp_path / "g.jsonl")
    collect_feedback(split, rewrite_step(split, generic, get_retriever("bm25")),
                     CachedGenerator(LastWords(), cache), tmp_path / "r.jsonl", HEADER, run)  # fmt: skip
    # step 1's outputs change (another file): step 2's header no longer matches
    collect_feedback(split.head(4), generic_step(split), CachedGenerator(LastWords(), cache),
                     tmp_path / "g4.jsonl", HEADER, run)  # fmt: skip
    changed = StepOutputs.load(tmp_path / "g4.jsonl")
    assert changed.fingerprint != generic.fingerprint
    with pytest.raises(LampDataError, match="different settings"):
        collect_feedback(split, rewrite_step(split, changed, get_retriever("bm25")),
                         CachedGenerator(LastWords(), cache), tmp_path / "r.jsonl", HEADER, run)  # fmt: skip


def test_step_outputs_need_every_example(split, tmp_path) -> None:
    run = FeedbackRun(chunk_size=5, show_progress=False)
    collect_feedback(split.head(3), generic_step(split), LastWords(), tmp_path / "g.jsonl",
                     HEADER, run)  # fmt: skip
    with pytest.raises(LampDataError, match="have no output yet"):
        StepOutputs.load(tmp_path / "g.jsonl", split.ids)
