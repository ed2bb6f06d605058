"""Feedback collection: record contents, resume after a crash, header checks, shard merging."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ropg.feedback import (
    CandidatePlanner,
    FeedbackRun,
    PoolPlanner,
    PromptBuilder,
    collect_feedback,
    feedback_by_id,
    merge_shards,
    read_feedback,
)
from ropg.feedback.collect import shard_path, shards_complete
from ropg.generation import BaseGenerator, CachedGenerator, GenerationConfig
from ropg.lamp import LampDataError, LampError, LampSplit, get_task, load_split
from ropg.lamp.synthetic import sample_path
from ropg.retrievers import get_retriever

TAG = re.compile(r'is "([^"]+)" ')


class TagReader(BaseGenerator):
    """Deterministic LLM stand-in: answers with the first tag shown in the prompt."""

    backend = "tag-reader"

    def __init__(self, fail_after_batches: int | None = None) -> None:
        super().__init__(GenerationConfig(num_beams=1, batch_size=4), name="tag-reader")
        self.generated: list[str] = []
        self.fail_after_batches = fail_after_batches
        self.batches = 0

    def model_identity(self) -> dict[str, Any]:
        return {"model": "tag-reader-1"}

    def _generate(self, prompts, config, on_batch):
        outputs = []
        for start in range(0, len(prompts), config.batch_size):
            if self.fail_after_batches is not None and self.batches >= self.fail_after_batches:
                raise RuntimeError("simulated crash")
            batch = prompts[start : start + config.batch_size]
            texts = [(TAG.findall(p) or ["comedy"])[0] for p in batch]
            self.batches += 1
            self.generated.extend(batch)
            outputs.extend(texts)
            if on_batch is not None:
                on_batch(list(range(start, start + len(batch))), texts)
        return outputs


@pytest.fixture(scope="module")
def split() -> LampSplit:
    full = load_split(sample_path(), "LaMP-2", "train")
    return full.head(12)


def identity_tokenizer():
    from conftest import build_bert_tokenizer

    return build_bert_tokenizer()


@pytest.fixture(scope="module")
def builder(split) -> PromptBuilder:
    return PromptBuilder(split.task, identity_tokenizer(), max_length=256)


def candidates_planner(builder, candidates=4):
    return CandidatePlanner(get_retriever("bm25"), "bm25", builder, candidates=candidates)


HEADER = {"task": "LaMP-2", "split": "train", "llm": {"model": "tag-reader-1"}}


def test_candidate_records(split, builder, tmp_path):
    out = tmp_path / "fb.jsonl"
    generator = CachedGenerator(TagReader(), tmp_path / "cache.sqlite")
    collect_feedback(
        split,
        candidates_planner(builder),
        generator,
        out,
        HEADER,
        FeedbackRun(chunk_size=5, show_progress=False),
    )
    header, records = read_feedback(out)
    assert header["kind"] == "candidates" and header["candidates"] == 4 and header["use_date"]
    assert [r["id"] for r in records] == split.ids
    task = get_task("LaMP-2")
    for record, example in zip(records, split.examples):
        assert len(record["candidates"]) == min(4, len(example.profile))
        assert [c["rank"] for c in record["candidates"]] == list(range(len(record["candidates"])))
        for candidate in record["candidates"]:
            item = example.profile[candidate["index"]]
            assert candidate["item_id"] == str(item["id"])
            assert candidate["output"] == item["tag"]  # the stand-in reads the one item's tag
            assert candidate["score"] == task.example_score(example.gold, candidate["output"])
    # some candidates are useful and some are not: the signal ROPG learns from
    scores = [c["score"] for r in records for c in r["candidates"]]
    assert 0 < sum(scores) < len(scores)


def test_pool_records(split, builder, tmp_path):
    pool = {name: get_retriever(name) for name in ["none", "recency", "bm25"]}
    out = tmp_path / "pool.jsonl"
    collect_feedback(
        split,
        PoolPlanner(pool, builder, k=2),
        CachedGenerator(TagReader(), tmp_path / "c.sqlite"),
        out,
        HEADER,
        FeedbackRun(show_progress=False),
    )
    header, by_id = feedback_by_id(out, split.ids)
    assert header["retrievers"] == ["none", "recency", "bm25"] and header["k"] == 2
    example = split.examples[3]
    record = by_id[example.id]["retrievers"]
    assert record["none"]["prompt"] == example.input and record["none"]["indices"] == []
    assert len(record["bm25"]["indices"]) == min(2, len(example.profile))
    assert record["bm25"]["prompt"] == builder(example, record["bm25"]["indices"])
    for entry in record.values():
        assert entry["score"] == get_task("LaMP-2").example_score(example.gold, entry["output"])


def test_crash_then_resume_gives_identical_file_without_regenerating(split, builder, tmp_path):
    reference = tmp_path / "reference.jsonl"
    collect_feedback(
        split,
        candidates_planner(builder),
        CachedGenerator(TagReader(), tmp_path / "ref.sqlite"),
        reference,
        HEADER,
        FeedbackRun(chunk_size=3, show_progress=False),
    )

    out, cache = tmp_path / "fb.jsonl", tmp_path / "cache.sqlite"
    crashing = TagReader(fail_after_batches=5)
    with pytest.raises(RuntimeError, match="simulated crash"):
        collect_feedback(
            split,
            candidates_planner(builder),
            CachedGenerator(crashing, cache),
            out,
            HEADER,
            FeedbackRun(chunk_size=3, show_progress=False),
        )
    partial = read_feedback(out)[1]
    assert 0 < len(partial) < len(split)
    with out.open("a", encoding="utf-8") as stream:  # a torn line, as a kill -9 can leave
        stream.write('{"id": "torn')
    resumed = TagReader()
    collect_feedback(
        split,
        candidates_planner(builder),
        CachedGenerator(resumed, cache),
        out,
        HEADER,
        FeedbackRun(chunk_size=3, show_progress=False),
    )
    assert out.read_bytes() == reference.read_bytes()
    assert not set(resumed.generated) & set(crashing.generated)  # nothing generated twice


def test_changed_settings_are_refused(split, builder, tmp_path):
    out = tmp_path / "fb.jsonl"
    run = FeedbackRun(show_progress=False)
    generator = CachedGenerator(TagReader(), tmp_path / "c.sqlite")
    collect_feedback(split, candidates_planner(builder), generator, out, HEADER, run)
    with pytest.raises(LampDataError, match="different settings"):
        collect_feedback(
            split, candidates_planner(builder, candidates=8), generator, out, HEADER, run
        )
    restart = FeedbackRun(show_progress=False, restart_on_mismatch=True)  # run_all's choice
    fresh = tmp_path / "fresh.jsonl"
    for path in (out, fresh):
        collect_feedback(
            split, candidates_planner(builder, candidates=8), generator, path, HEADER, restart
        )
    assert out.read_bytes() == fresh.read_bytes()  # started over, as a fresh run writes it
    test_split = LampSplit(
        split.task, "test", [split.examples[0].__class__(id="x", input="i", profile=[])]
    )
    with pytest.raises(LampError, match="needs gold outputs"):
        collect_feedback(
            test_split,
            candidates_planner(builder),
            generator,
            tmp_path / "t.jsonl",
            HEADER,
            run,
        )


def test_shards_merge_to_the_single_process_file(split, builder, tmp_path):
    single = tmp_path / "single.jsonl"
    cache = tmp_path / "c.sqlite"
    collect_feedback(
        split,
        candidates_planner(builder),
        CachedGenerator(TagReader(), cache),
        single,
        HEADER,
        FeedbackRun(show_progress=False),
    )
    out = tmp_path / "sharded.jsonl"
    for shard in range(3):
        assert not shards_complete(split, out, 3)
        collect_feedback(
            split,
            candidates_planner(builder),
            CachedGenerator(TagReader(), cache),
            out,
            HEADER,
            FeedbackRun(shard_index=shard, num_shards=3, show_progress=False),
        )
    assert shards_complete(split, out, 3)
    merge_shards(split, out, 3)
    assert out.read_bytes() == single.read_bytes()
    assert not shard_path(out, 0, 3).exists()


def test_merge_reports_gaps(split, builder, tmp_path):
    out = tmp_path / "sharded.jsonl"
    collect_feedback(
        split,
        candidates_planner(builder),
        CachedGenerator(TagReader(), tmp_path / "c.sqlite"),
        out,
        HEADER,
        FeedbackRun(shard_index=0, num_shards=2, show_progress=False),
    )
    with pytest.raises(LampDataError, match="file not found"):
        merge_shards(split, out, 2)
    with pytest.raises(LampDataError, match="have no feedback"):
        feedback_by_id(shard_path(out, 0, 2), split.ids)


class LikelihoodScorer(TagReader):
    """Scores a target higher the more often it appears in the prompt; never generates."""

    def _generate(self, prompts, config, on_batch):
        raise AssertionError("the likelihood signal must not generate")

    def score(self, prompts, targets):
        self.generated.extend(prompts)
        return [float(prompt.count(target)) - 0.5 for prompt, target in zip(prompts, targets)]


def test_likelihood_signal_scores_gold_under_each_prompt(split, builder, tmp_path):
    planner = CandidatePlanner(
        get_retriever("bm25"), "bm25", builder, candidates=4, signal="likelihood"
    )
    scorer = LikelihoodScorer()
    out = tmp_path / "likelihood.jsonl"
    collect_feedback(split, planner, scorer, out, HEADER)
    header, records = read_feedback(out)
    assert header["signal"] == "likelihood"
    expected = {}
    for example in split.examples:
        for index in [c["index"] for c in _by_id(records)[example.id]["candidates"]]:
            expected[(example.id, index)] = builder(example, [index]).count(example.gold) - 0.5
    for record in records:
        for candidate in record["candidates"]:
            assert candidate["output"] is None
            assert candidate["score"] == expected[(record["id"], candidate["index"])]
    assert len(scorer.generated) == sum(len(r["candidates"]) for r in records) > 0
    # the default signal's file has another header: resuming across signals is refused
    with pytest.raises(LampError):
        collect_feedback(split, candidates_planner(builder), TagReader(), out, HEADER)


def _by_id(records):
    return {record["id"]: record for record in records}


def test_unknown_signal_is_refused(split, builder, tmp_path):
    planner = CandidatePlanner(get_retriever("bm25"), "bm25", builder, signal="vibes")
    with pytest.raises(LampError, match="unknown feedback signal 'vibes'"):
        collect_feedback(split, planner, TagReader(), tmp_path / "x", HEADER)


def _merge_in_child(split, out, start) -> None:
    import os

    start.wait(30)
    try:
        merge_shards(split, out, 2)
    except BaseException:
        os._exit(1)
    os._exit(0)


def test_shards_finishing_together_merge_once(split, builder, tmp_path):
    """Every shard may call merge_shards; the calls serialize and the later ones find it done.
    Raced many times, by threads and by processes: one merged file, nothing else left (no
    shard file, no lock file, no temporary file), whatever the timing."""
    import multiprocessing
    from concurrent.futures import ThreadPoolExecutor

    fork = multiprocessing.get_context("fork")
    generator = CachedGenerator(TagReader(), tmp_path / "c.sqlite")
    for attempt in range(25):
        folder = tmp_path / f"round{attempt}"
        out = folder / "sharded.jsonl"
        for shard in range(2):
            collect_feedback(
                split,
                candidates_planner(builder),
                generator,
                out,
                HEADER,
                FeedbackRun(shard_index=shard, num_shards=2, show_progress=False),
            )
        start = fork.Event()
        children = [
            fork.Process(target=_merge_in_child, args=(split, out, start)) for _ in range(2)
        ]
        for child in children:
            child.start()
        start.set()
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda target: merge_shards(split, target, 2), [out] * 4))
        for child in children:
            child.join(60)
        assert results == [out] * 4 and [child.exitcode for child in children] == [0, 0]
        _, records = feedback_by_id(out, split.ids)
        assert list(records) == split.ids
        assert [path.name for path in folder.iterdir()] == ["sharded.jsonl"]


def test_a_merge_never_replaces_a_foreign_file(split, builder, tmp_path):
    out = tmp_path / "sharded.jsonl"
    out.write_text("my notes\n", encoding="utf-8")
    with pytest.raises(LampDataError, match="left untouched"):
        collect_feedback(
            split,
            candidates_planner(builder),
            TagReader(),
            out,
            HEADER,
            FeedbackRun(shard_index=0, num_shards=2, show_progress=False),
        )
    assert out.read_text(encoding="utf-8") == "my notes\n"
    assert [path.name for path in tmp_path.iterdir()] == ["sharded.jsonl"]
