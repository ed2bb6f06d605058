"""Lexical and simple retrievers: BM25 (fast vs rank-bm25), none, random, recency, rrf."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from ropg.lamp.data import Example, load_split
from ropg.lamp.errors import LampError
from ropg.lamp.synthetic import sample_path
from ropg.lamp.tasks import get_task, task_names
from ropg.retrievers import BaseRetriever, Ranking, RetrievalQuery, get_retriever
from ropg.retrievers.bm25 import BM25Retriever, reference_order
from ropg.retrievers.bm25_index import numba_available
from ropg.retrievers.documents import JoinedDocuments, document_parts
from ropg.retrievers.pipeline import _build_queries, build_queries, rank_split, rankings_to_ids
from ropg.retrievers.simple import date_key
from ropg.retrievers.whitespace import encode_batch

BACKENDS = ["python", pytest.param("numba", marks=pytest.mark.skipif(
    not numba_available(), reason="numba is not installed"))]  # fmt: skip

WORDS = (
    "the a of movie film love war space robot story the the a an is "
    "Film FILM café naïve 東京 😀 αβγ supercalifragilistic exactly8 exactly7 "
    "tokenwithfifteen tokenwithsixteen! averyveryverylongtokenthatgoesonandonformorethan64bytesxxxxxxxxx"
).split()


def _queries() -> list[RetrievalQuery]:
    """A LaMP-shaped sample with the edge cases, plus seeded random profiles."""
    cases = [
        ("one-doc", "love story", ["a love story"]),
        ("two-docs", "war war robot", ["war and peace", "robot war"]),
        # 'x' in exactly half the documents (idf 0) and 'y' in more than half (negative idf)
        ("half", "x y z", ["x y", "x y", "y", "z w"]),
        ("repeat", "film film film the", ["the film", "a film film", "the the the", "film"]),
        ("empty-query", "", ["a b", "c", "d e f"]),
        ("blank-query", " \t\n ", ["a b", "c"]),
        ("empty-docs", "a b", ["", "a", "", "b b", ""]),
        ("all-empty-docs", "a", ["", " ", "\n"]),
        ("no-profile", "a b", []),
        ("no-match", "zzz", ["a", "b", "c"]),
        (
            "unicode",
            "café 東京 naïve\u3000😀",
            ["café\xa0au lait", "東京\u2028タワー", "naïve\x85😀 café", "CAFÉ cafe", "\x1cx\x1fy"],
        ),
        ("controls", "a\x01b c", ["a\x01b c", "a b\x01", "\x00c d", "c\x07"]),
        ("nul", "x\x00y", ["x\x00y z", "x y"]),
        (
            "lengths",
            "exactly7 exactly8 tokenwithfifteen tokenwithsixteen! " + WORDS[-1],
            [
                "exactly7 exactly8",
                "exactly8x tokenwithfifteen",
                "tokenwithsixteen! tokenwithsixteen?",
                WORDS[-1] + " " + WORDS[-1] + "y",
            ],
        ),
        ("case", "Film", ["film", "Film", "FILM film"]),
        ("ties", "robot", ["robot a", "b robot", "robot c", "d"] * 5),
        ("dupes", "space war", ["space war"] * 20 + ["war"] * 3),
    ]
    queries = [RetrievalQuery(qid, q, docs) for qid, q, docs in cases]
    rng = random.Random(7)
    for user in range(60):
        size = rng.choice([1, 2, 3, 5, 16, 17, 40, 120])
        docs = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 30))) for _ in range(size)]
        query = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 12)))
        queries.append(RetrievalQuery(f"user{user}", query, docs))
    # a large vocabulary (the term table grows several times) and a 300-token query
    vocabulary = [
        "".join(rng.choice("abcdéfgh") for _ in range(rng.randint(3, 20))) for _ in range(6000)
    ]
    docs = [" ".join(rng.choice(vocabulary) for _ in range(80)) for _ in range(150)]
    query = " ".join(rng.choice(vocabulary) for _ in range(300))
    queries.append(RetrievalQuery("big", query, docs))
    return queries


def _rank_bm25(query: RetrievalQuery) -> np.ndarray | None:
    """rank-bm25's scores as the LaMP code builds them (None where rank-bm25 fails)."""
    corpus = [doc.split() for doc in query.documents]
    if not any(corpus):
        return None
    return BM25Okapi(corpus).get_scores(query.query.split())


@pytest.mark.parametrize("backend", BACKENDS)
def test_fast_bm25_equals_rank_bm25_bit_for_bit(backend: str) -> None:
    queries = _queries()
    # a small batch size puts users on both sides of batch boundaries; threads interleave them
    fast = BM25Retriever(backend=backend, batch_docs=40, n_threads=2)
    scores = fast.score_batch(queries)
    rankings = fast.rank_batch(queries, top_k=4)
    checked = 0
    for query, got, ranking in zip(queries, scores, rankings):
        expected = _rank_bm25(query)
        if expected is None:  # no tokens at all: rank-bm25 divides by zero; ropg scores 0
            assert np.array_equal(got, np.zeros(len(query.documents)))
            continue
        np.testing.assert_array_equal(got, expected)  # bit-identical, so within 1e-6 too
        # identical top-k, ties included: rank-bm25's own get_top_n on the same profile
        index = BM25Okapi([doc.split() for doc in query.documents])
        positions = list(range(len(query.documents)))
        assert list(ranking.indices) == index.get_top_n(query.query.split(), positions, n=4)
        np.testing.assert_array_equal(ranking.scores, expected[ranking.indices])
        checked += 1
    assert checked >= 60


def test_reference_implementation_matches_rank_bm25() -> None:
    queries = _queries()
    reference = BM25Retriever(implementation="reference")
    for query, got in zip(queries, reference.score_batch(queries)):
        expected = _rank_bm25(query)
        if expected is not None:
            np.testing.assert_array_equal(got, expected)


def test_tie_order_is_rank_bm25s() -> None:
    query = RetrievalQuery("q", "robot", ["robot", "x", "robot", "y", "robot"])
    ranking = get_retriever("bm25").rank(query)
    # equal scores come out as np.argsort(...)[::-1] puts them: last profile position first
    assert list(ranking.indices) == [4, 2, 0, 3, 1]
    assert list(ranking.indices) == list(reference_order(_rank_bm25(query)))


def test_edge_profiles() -> None:
    bm25 = get_retriever("bm25")
    empty = bm25.rank(RetrievalQuery("q", "a", []))
    assert len(empty) == 0
    blank = bm25.rank(RetrievalQuery("q", "a", ["", " "]), top_k=1)
    assert list(blank.scores) == [0.0]
    half = bm25.score(RetrievalQuery("q", "x", ["x", "y"]))  # idf = 0: rank-bm25 scores 0
    assert list(half) == [0.0, 0.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_corrected_idf_is_non_negative_and_matches_reference(backend: str) -> None:
    queries = _queries()
    fast = BM25Retriever(idf="corrected", backend=backend, batch_docs=25)
    reference = BM25Retriever(implementation="reference", idf="corrected")
    okapi_negative = False
    for query, got, want in zip(queries, fast.score_batch(queries), reference.score_batch(queries)):
        np.testing.assert_array_equal(got, want)
        assert (got >= 0).all()
        expected = _rank_bm25(query)
        okapi_negative |= expected is not None and bool((expected < 0).any())
    assert okapi_negative  # the sample does exercise the okapi floor's negative scores
    # a term in half of a two-document profile: okapi 0, corrected positive
    half = RetrievalQuery("q", "x", ["x", "y"])
    assert fast.score(half)[0] > 0


def test_bm25_options_are_checked() -> None:
    for options in ({"implementation": "quick"}, {"idf": "bm11"}, {"k1": "a"}, {"backend": "c"}):
        with pytest.raises(LampError):
            get_retriever("bm25", **options)


def test_whitespace_encoding_splits_like_str_split() -> None:
    rng = random.Random(3)
    alphabet = ["a", "é", "中", "\x00", "\x01", "\x1c", "\x85", "\xa0", "\u3000", "\u2028",
                " ", "\t", "\n", "\ud800", "x" * 9, "y" * 70]  # fmt: skip
    for trial in range(600):
        pool = alphabet if trial % 2 else [c for c in alphabet if len(c) > 1 or ord(c) < 256]
        texts = [
            "".join(rng.choice(pool) for _ in range(rng.randint(0, 12)))
            for _ in range(rng.randint(1, 4))
        ]
        batch = encode_batch(texts)
        data = bytes(batch.data)
        for index, text in enumerate(texts):
            chunk = data[batch.starts[index] : batch.starts[index + 1]]
            pieces = [
                piece for piece in bytes(b if not batch.space[b] else 32 for b in chunk).split()
            ]
            one_byte = all(ord(c) < 256 for t in texts for c in t)
            encoding = "latin-1" if one_byte else "utf-8"
            expected = [t.encode(encoding, "surrogatepass") for t in text.split()]
            assert pieces == expected, (texts, index)


# -- none, random, recency, rrf -------------------------------------------------------------
def _dated(dates: list[object]) -> RetrievalQuery:
    profile = [{"id": f"p{i}", "date": d} for i, d in enumerate(dates)]
    return RetrievalQuery("q7", "query", [f"doc {i}" for i in range(len(dates))], profile)


def test_none_ranks_nothing() -> None:
    rankings = get_retriever("none").rank_batch([_dated([2001, 2002])], top_k=4)
    assert len(rankings[0]) == 0


def test_random_is_deterministic_per_seed_and_query() -> None:
    docs = [f"d{i}" for i in range(30)]
    first = get_retriever("random", seed=3).rank(RetrievalQuery("a", "", docs))
    again = get_retriever("random", seed=3).rank_batch(
        [RetrievalQuery("b", "", docs), RetrievalQuery("a", "", docs)]
    )[1]
    other = get_retriever("random", seed=4).rank(RetrievalQuery("a", "", docs))
    assert list(first.indices) == list(again.indices)
    assert list(first.indices) != list(other.indices)
    assert sorted(first.indices) == list(range(30))


def test_recency_order_matches_the_reference_on_mixed_dates() -> None:
    dates = ["2011-05-03", "2011-05", 2011, "2012", "2011-05-03", "2010-12-31", "2011-05-03T08:00"]
    ranking = get_retriever("recency").rank(_dated(dates))
    parsed = [tuple(map(int, str(d).split("-"))) for d in dates[:-1]] + [(2011, 5, 3, 8, 0, 0, 0)]
    expected = sorted(range(len(dates)), key=parsed.__getitem__)[::-1]
    assert list(ranking.indices) == expected == [3, 6, 4, 0, 1, 2, 5]
    assert list(get_retriever("recency").rank(_dated(dates), top_k=2).indices) == [3, 6]
    assert date_key("2011-05-03T10:00:00Z") == (2011, 5, 3, 10, 0, 0, 0)


@pytest.mark.parametrize(("date", "problem"), [(None, "cannot parse"), ("May 2011", "cannot")])
def test_recency_reports_bad_dates(date: object, problem: str) -> None:
    query = _dated(["2011-01-01", date])
    with pytest.raises(LampError, match=rf"q7.*'p1'.*{problem}"):
        get_retriever("recency").rank(query)
    missing = RetrievalQuery("q9", "", ["a"], [{"id": "x1"}])
    with pytest.raises(LampError, match=r"q9.*'x1'.*no 'date'"):
        get_retriever("recency").rank(missing)


class FixedOrder(BaseRetriever):
    """A stub that ranks a profile in a given order."""

    def __init__(self, order: list[int]) -> None:
        self.order = order

    def rank(self, query: RetrievalQuery, top_k: int | None = None) -> Ranking:
        indices = np.array(self.order, dtype=np.int64)
        return Ranking(indices, -np.arange(len(indices), dtype=float)).top(top_k)


def test_rrf_fuses_reciprocal_ranks() -> None:
    query = RetrievalQuery("q", "", ["d0", "d1", "d2", "d3"])
    rrf = get_retriever("rrf", retrievers=[FixedOrder([0, 1, 2]), FixedOrder([2, 0])], k=1)
    ranking = rrf.rank(query)
    expected = {0: 1 / 2 + 1 / 3, 1: 1 / 3, 2: 1 / 4 + 1 / 2}  # d3: ranked by no one, left out
    assert list(ranking.indices) == [0, 2, 1]
    assert ranking.scores == pytest.approx([expected[i] for i in (0, 2, 1)])
    by_name = get_retriever("rrf", retrievers=["bm25", {"name": "recency"}], k=60)
    assert len(by_name.retrievers) == 2
    with pytest.raises(LampError):
        get_retriever("rrf", retrievers="bm25")


# -- pipeline --------------------------------------------------------------------------------
def test_build_queries_and_query_fallback() -> None:
    profile = [{"id": "7", "description": "a robot movie", "tag": "sci-fi", "date": "2011"}]
    good = Example("1", "Which tag does this movie relate to? description: robot war", profile)
    bad = Example("2", "no marker here", profile)
    queries = build_queries([good], "LaMP-2", use_date=True)
    assert queries[0].query == "robot war"
    assert queries[0].documents == ["a robot movie date: 2011"]
    with pytest.raises(LampError, match="'2'"):
        build_queries([good, bad], "LaMP-2")
    fallback = build_queries([good, bad], "LaMP-2", query_fallback="input")
    assert fallback[1].query == "no marker here"
    rankings = rank_split(get_retriever("bm25"), [good], "LaMP-2", show_progress=False)
    assert rankings_to_ids(rankings, [good]) == {"1": ["7"]}


# -- documents kept as their fields (the fast path of rank_split) ----------------------------
TRICKY_FIELDS = [
    "", " ", "  lead", "trail  ", "a\tb", "x\ny\r\n", "\u3000wide\u3000", "nb\xa0sp", "\x85nel",
    "é東😀 café", "\x1cfs\x1f", "nul\x00x", "a\x01b", 7, 2.5, -3, "-",
]  # fmt: skip
ITEM_FIELDS = ("title", "text", "abstract", "description", "tag", "category", "score")


def _tricky_profile(rng: random.Random, count: int) -> list[dict]:
    """Profile items whose fields have whitespace at the edges, non-ASCII and control
    characters, numbers, empty strings: the joined document must split as the task's own."""
    items = []
    for index in range(count):
        item: dict = {"id": f"p{index}", "date": rng.choice(["2011-01-02", 2011, 2.5, ""])}
        for name in ITEM_FIELDS:
            if rng.random() < 0.4:
                item[name] = rng.choice(TRICKY_FIELDS)
            else:
                item[name] = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 8)))
        items.append(item)
    return items


def test_joined_documents_behave_as_a_list_of_strings() -> None:
    documents = JoinedDocuments(["a", "b ", " c", "", "d\te", "f"], 2)
    texts = ["a b ", " c ", "d\te f"]
    assert len(documents) == 3 and documents == texts and texts == documents
    assert list(documents) == texts and documents[1] == " c " and documents[-1] == "d\te f"
    assert documents[1:] == texts[1:] and documents == tuple(texts) and documents != texts[:2]
    assert document_parts(documents) == (["a", "b ", " c", "", "d\te", "f"], 2)
    assert document_parts(texts) == (texts, 1)
    with pytest.raises(ValueError):
        JoinedDocuments(["a", "b", "c"], 2)


@pytest.mark.parametrize("use_date", [False, True])
def test_documents_from_fields_are_the_task_documents(use_date: bool) -> None:
    rng = random.Random(11)
    for name in task_names():
        task = get_task(name)
        profile = _tricky_profile(rng, 30)
        examples = [Example("q", "no marker", profile), Example("e", "no marker", [])]
        expected = task.documents(profile, use_date)
        eager = build_queries(examples, name, use_date, query_fallback="input")
        assert type(eager[0].documents) is list and eager[0].documents == expected
        assert eager[1].documents == []
        lazy = _build_queries(examples, name, use_date, "input", join=False)[0].documents
        assert lazy == expected and len(lazy) == len(expected)
        parts, width = document_parts(lazy)
        for index, document in enumerate(expected):  # tokens straight from the parts
            own = parts[index * width : (index + 1) * width]
            assert [token for part in own for token in part.split()] == document.split()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("use_date", [False, True])
def test_bm25_over_fields_equals_rank_bm25_over_documents(backend: str, use_date: bool) -> None:
    rng = random.Random(12)
    task = get_task("LaMP-4")
    examples = [
        Example(
            f"q{number}",
            "Generate a headline for the following article: "
            + " ".join(rng.choice(WORDS + TRICKY_FIELDS[:12]) for _ in range(rng.randint(0, 9))),
            _tricky_profile(rng, rng.choice([1, 2, 5, 17, 60])),
        )
        for number in range(40)
    ]
    queries = _build_queries(examples, task, use_date, "error", join=False)
    assert all(isinstance(query.documents, JoinedDocuments) for query in queries)
    fast = BM25Retriever(backend=backend, batch_docs=40, n_threads=2)
    checked = 0
    for example, query, got in zip(examples, queries, fast.score_batch(queries)):
        documents = task.documents(example.profile, use_date)
        expected = _rank_bm25(RetrievalQuery(query.qid, query.query, documents))
        if expected is not None:
            np.testing.assert_array_equal(got, expected)
            checked += 1
    assert checked >= 35
    reference = BM25Retriever(implementation="reference")
    want = rankings_to_ids(rank_split(reference, examples, task, 4, use_date, False), examples)
    got = rankings_to_ids(rank_split(fast, examples, task, 4, use_date, False), examples)
    assert got == want


@pytest.mark.parametrize("use_date", [False, True])
def test_rank_split_on_the_sample_is_the_reference_ranking(use_date: bool) -> None:
    fast, reference = get_retriever("bm25"), get_retriever("bm25", implementation="reference")
    for name in task_names():
        if name == "LaMP-2-old":  # not in the sample
            continue
        split = load_split(sample_path(), name, "dev")
        want = rank_split(reference, split, top_k=4, use_date=use_date, show_progress=False)
        got = rank_split(fast, split, top_k=4, use_date=use_date, show_progress=False)
        assert rankings_to_ids(got, split) == rankings_to_ids(want, split)
        for qid, ranking in got.items():
            np.testing.assert_array_equal(ranking.scores, want[qid].scores)


def test_rank_split_reports_bad_items_as_build_queries_does() -> None:
    retriever = get_retriever("bm25")
    inputs = "Generate a headline for the following article: robot"
    no_text = [Example("1", inputs, [{"id": "7", "title": "a robot", "date": "2011"}])]
    no_date = [Example("2", inputs, [{"id": "8", "title": "a", "text": "robot"}])]
    for examples, use_date, message in [
        (no_text, False, "example '1': a profile item lacks field 'text'"),
        (no_date, True, "example '2': LaMP-4: profile item '8' has no 'date'"),
    ]:
        for run in (build_queries, rank_split):
            with pytest.raises(LampError) as error:
                if run is build_queries:
                    build_queries(examples, "LaMP-4", use_date)
                else:
                    rank_split(retriever, examples, "LaMP-4", use_date=use_date)
            assert message in str(error.value)


@pytest.mark.skipif(not numba_available(), reason="numba is not installed")
def test_auto_backend_indexes_small_jobs_in_python_until_the_kernel_is_loaded(monkeypatch):
    """A first small job is not worth the kernel's load (or its 17 s compile): ``auto`` indexes
    it in Python; a large job, or any job once the kernel is loaded, takes the kernel."""
    import ropg.retrievers.bm25 as bm25_module
    import ropg.retrievers.bm25_index as bm25_index

    used: list[str] = []
    real = bm25_module.index_users

    def recording(batch, backend):
        used.append(backend)
        return real(batch, backend)

    monkeypatch.setattr(bm25_module, "index_users", recording)
    monkeypatch.setattr(bm25_index, "_KERNEL_LOADED", threading.Event())
    queries = _queries()
    documents = sum(len(query.documents) for query in queries)
    auto = BM25Retriever(n_threads=1)
    small = auto.score_batch(queries)
    assert set(used) == {"python"} and not bm25_index._KERNEL_LOADED.is_set()
    used.clear()
    monkeypatch.setattr(bm25_index, "AUTO_NUMBA_MIN_DOCUMENTS", documents)  # now "large"
    large = auto.score_batch(queries)
    assert set(used) == {"numba"} and bm25_index._KERNEL_LOADED.is_set()
    used.clear()
    monkeypatch.setattr(bm25_index, "AUTO_NUMBA_MIN_DOCUMENTS", documents + 1)  # small again
    loaded = auto.score_batch(queries)
    assert set(used) == {"numba"}  # the kernel is loaded: it is the faster one now
    used.clear()
    BM25Retriever(backend="numba", n_threads=1).score_batch(queries[:1])
    assert used == ["numba"]  # an explicit backend is never second-guessed
    for a, b, c in zip(small, large, loaded):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
