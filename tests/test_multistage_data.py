"""Data builders of the multistage pipeline: JSONL documents, LaMP profiles, LongLaMP (local
files and a real ``datasets.load_dataset`` source), the synthetic generator and the sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ropg.errors import DataError, UserError
from ropg.multistage import longlamp, sources, synthetic
from ropg.multistage.documents import PassageRules, build_splits, read_split, write_split
from ropg.multistage.task import PassageTask
from ropg.retrievers.base import RetrievalQuery
from ropg.retrievers.pipeline import make_retriever, rank_queries

LOOSE = PassageRules(min_document_chars=20, min_examples_per_user=1, context_chars=10)


def _write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_jsonl_documents_build_the_paper_splits(tmp_path):
    documents = synthetic.generate_documents(users=30, seed=1)
    records = [{"user_id": d.user_id, "id": d.id, "date": d.date, "title": d.title,
                "text": d.text} for d in documents]  # fmt: skip
    path = _write_jsonl(tmp_path / "docs.jsonl", records)
    loaded = sources.read_documents_jsonl(path)
    assert [(d.user_id, d.id, d.text) for d in loaded] == [(d.user_id, d.id, d.text)
                                                           for d in documents]  # fmt: skip
    splits = build_splits(loaded, PassageRules(), PassageTask())
    assert sum(len(s.users) for s in splits.values()) == 30
    example = splits["train"].examples[0]
    assert len(example.input) == 150 and len(example.input + example.gold) > 300
    assert len(example.profile) >= 2
    write_split(tmp_path / "train.jsonl", splits["train"], {"k": 1})
    again = read_split(tmp_path / "train.jsonl", PassageTask())
    assert [e.to_record() for e in again] == [e.to_record() for e in splits["train"]]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{not json", r"docs.jsonl, record 2: not valid JSON"),
        ('["a list"]', r"docs.jsonl, record 2: expected a JSON object, got list"),
        ('{"id": "x", "text": "t"}', r"record 2, id 'x', field 'user_id': missing field"),
        ('{"user_id": "u", "id": "x", "text": 5}', r"field 'text': expected str, got int"),
        ('{"user_id": "u", "id": "x", "text": "t", "date": [1]}', r"field 'date': expected"),
        ('{"user_id": "u", "id": "a", "text": "again"}', r"field 'id': duplicate id for user"),
    ],
)
def test_malformed_documents_name_the_file_record_and_field(tmp_path, line, expected):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"user_id": "u", "id": "a", "text": "fine"}\n' + line + "\n")
    with pytest.raises(DataError, match=expected):
        sources.read_documents_jsonl(path)


def test_lamp_profiles_become_documents_of_their_users():
    from ropg.lamp.synthetic import sample_path

    documents = sources.documents_from_lamp(sample_path(), "LaMP-4", ["train", "dev"])
    assert documents and all(d.title and d.text for d in documents)
    assert len({(d.user_id, d.id) for d in documents}) == len(documents)
    tweets = sources.documents_from_lamp(sample_path(), "LaMP_7", ["train"])
    assert all(d.title == "" for d in tweets)
    splits = build_splits(tweets, LOOSE)
    assert sum(len(split) for split in splits.values()) > 0
    with pytest.raises(UserError, match="LaMP-4, -5, -6 or -7"):
        sources.documents_from_lamp(sample_path(), "LaMP-2", ["train"])


def test_longlamp_records_from_a_local_directory():
    directory = synthetic.sample_path() / "longlamp" / "product_review_user"
    rules = PassageRules(min_examples_per_user=1)
    splits = longlamp.longlamp_splits(directory, rules, task=PassageTask())
    assert all(len(splits[name]) for name in ("train", "dev", "test"))
    raw = json.loads((directory / "val.json").read_text())
    example = splits["dev"].examples[0]
    record = next(r for r in raw if r["reviewerId"] == example.user_id)
    assert example.input + example.gold == record["output"]
    assert [i["text"] for i in example.profile] == [p["reviewText"] for p in record["profile"]]
    assert example.profile[0]["title"] == record["profile"][0]["summary"]
    assert not set(splits["train"].users) & set(splits["test"].users)
    with pytest.raises(UserError, match="min_examples_per_user=1"):
        longlamp.longlamp_splits(directory, PassageRules(), task=PassageTask())


def test_longlamp_subsets_map_their_fields(tmp_path):
    record = {"name": "ada", "input": "Generate an abstract", "output": "o" * 400,
              "profile": [{"abstract": "a" * 50, "id": "p1", "title": "T1", "year": 2001},
                          {"abstract": "b" * 50, "id": "p2", "title": "T2", "year": 2003}]}  # fmt: skip
    (tmp_path / "abstract_generation_user_train.json").write_text(json.dumps([record]))
    splits = longlamp.longlamp_splits(tmp_path, PassageRules(min_examples_per_user=1))
    assert splits["train"].examples[0].profile[1] == {"id": "p2", "title": "T2",
                                                       "text": "b" * 50, "date": 2003}  # fmt: skip
    assert len(splits["test"]) == 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r.pop("output"), r"record 1, id 'u2', field 'output': missing field"),
        (lambda r: r.update(profile="x"), r"record 1, id 'u2', field 'profile': expected a list"),
        (lambda r: r["profile"][1].pop("reviewText"), r"field 'profile\[1\].reviewText'"),
        (lambda r: r["profile"].__setitem__(0, 3), r"field 'profile\[0\]': expected an object"),
        (lambda r: r.pop("reviewerId"), r"record 1, field 'reviewerId': missing field"),
    ],
)
def test_malformed_longlamp_records_name_record_and_field(tmp_path, change, expected):
    profile = [{"summary": "s", "reviewText": "r" * 40, "overall": "5.0", "description": "d"}] * 2
    good = {"reviewerId": "u1", "input": "i", "output": "o" * 400, "profile": profile}
    bad = json.loads(json.dumps({**good, "reviewerId": "u2"}))
    change(bad)
    (tmp_path / "train.json").write_text(json.dumps([good, bad]))
    with pytest.raises(DataError, match=expected):
        longlamp.longlamp_splits(tmp_path, PassageRules(min_examples_per_user=1), "product_review")


def test_longlamp_through_datasets_load_dataset(tmp_path, monkeypatch):
    """The ``hf:`` path calls ``datasets.load_dataset`` (here on a local dataset laid out as
    the Hub repository is: parquet files per split under a named config)."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")

    source = synthetic.sample_path() / "longlamp" / "product_review_user"
    root = tmp_path / "LongLaMP"
    lines = ["---", "configs:", "- config_name: product_review_user", "  data_files:"]
    for split in ("train", "val", "test"):
        records = json.loads((source / f"{split}.json").read_text())
        target = root / "product_review_user" / f"{split}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        datasets.Dataset.from_list(records).to_parquet(str(target))
        lines += [f"  - split: {split}", f"    path: product_review_user/{split}.parquet"]
    (root / "README.md").write_text("\n".join(lines + ["---", ""]))
    rules = PassageRules(min_examples_per_user=1)
    from_hub_layout = longlamp.longlamp_splits(f"hf:{root}:product_review_user", rules)
    from_files = longlamp.longlamp_splits(source, rules)
    for name in ("train", "dev", "test"):
        assert [e.to_record() for e in from_hub_layout[name]] == [
            e.to_record() for e in from_files[name]]  # fmt: skip
    with pytest.raises(UserError, match="cannot load"):
        longlamp.longlamp_splits(f"hf:{tmp_path / 'missing'}", rules)


def test_synthetic_data_is_deterministic_and_the_sample_is_its_output(tmp_path):
    first = synthetic.write_sample(tmp_path / "a", users=40, seed=7)
    second = synthetic.write_sample(tmp_path / "b", users=40, seed=7)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes()
        assert (first / name).read_bytes() == (synthetic.sample_path() / name).read_bytes()
    size = sum(p.stat().st_size for p in synthetic.sample_path().rglob("*") if p.is_file())
    assert size < 1_000_000
    other = synthetic.generate_documents(users=40, seed=8)
    assert [d.text for d in other] != [d.text for d in synthetic.generate_documents(40, 7)]


def test_users_keep_their_vocabulary_across_documents():
    users = {u.user_id: set(u.words) for u in synthetic.make_users(10, 7)}
    for document in synthetic.generate_documents(users=10, seed=7):
        own = set(document.text.lower().replace(".", " ").replace(",", " ").split())
        assert own & set(synthetic.STYLE_WORDS) <= users[document.user_id]


def test_passage_splits_flow_through_the_retriever_pool():
    task = PassageTask()
    split = build_splits(synthetic.generate_documents(20, 3), PassageRules(), task)["test"]
    queries = [
        RetrievalQuery(
            e.id, task.find_query(e.input), task.documents(e.profile), e.profile, e.input
        )
        for e in split.examples
    ]
    rankings = rank_queries(make_retriever("bm25"), queries, top_k=2)
    assert set(rankings) == set(split.ids)
    assert all(len(r) == min(2, len(q.documents)) for r, q in zip(rankings.values(), queries))


def test_lamp_context_builder_adds_summary_and_keyword_fields(tmp_path):
    from ropg.lamp import load_split
    from ropg.lamp.synthetic import sample_path
    from ropg.multistage.keywords import words
    from ropg.multistage.lamp_context import (
        LampContextSettings,
        lamp_context_fields,
        ranked_texts,
        with_context_fields,
    )
    from ropg.multistage.snippets import split_sentences
    from ropg.multistage.stopwords import ENGLISH_STOPWORDS
    from ropg.retrievers.pipeline import rank_split, rankings_to_ids

    split = load_split(sample_path(), "LaMP-5", "dev")
    split = split.head(8)
    rankings = rank_split(make_retriever("bm25"), split, show_progress=False)
    settings = LampContextSettings(
        summary_generator="ropg.multistage.summaries:LeadSummarizer:1",
        cache_path=str(tmp_path / "cache.sqlite"),
    )
    fields = lamp_context_fields(split, rankings, settings)
    texts = ranked_texts(split, rankings, settings)
    with_profile = [e for e in split.examples if e.profile]
    assert with_profile
    for example in with_profile:
        found = fields[example.id]
        assert found["summary"] == split_sentences(texts[example.id])[0]
        keywords = found["important words"].split(", ") if found["important words"] else []
        profile_words = {w for d in split.task.documents(example.profile) for w in words(d)}
        assert len(keywords) <= 20 and set(keywords) <= profile_words - ENGLISH_STOPWORDS
    assert lamp_context_fields(split, rankings_to_ids(rankings, split), settings) == fields
    example = with_profile[0]
    prompt = with_context_fields("Generate a title", fields[example.id])
    assert prompt.startswith("summary: ") and prompt.endswith(" Generate a title")
    assert with_context_fields("p", {}) == "p"
