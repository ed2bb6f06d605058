"""Dense retrieval: real MiniLM weights (offline), a tiny random BERT, the embedding cache, faiss."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from ropg.lamp.errors import LampError
from ropg.retrievers import RetrievalQuery, get_retriever
from ropg.retrievers.base import stable_top_k
from ropg.retrievers.dense import ContrieverRetriever, DenseRetriever
from ropg.retrievers.embedding_cache import EmbeddingCache, resolve_cache_dir
from ropg.retrievers.encoder import (
    RETRIEVER_CONFIG_NAME,
    Encoder,
    EncoderSettings,
    model_identity,
    resolve_dtype,
    save_encoder,
)

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

WORDS = (
    "movie film story love war space robot future city world life time people family friend "
    "paper neural network learning retrieval model user profile review score product great bad "
    "news article email tweet dark comedy action fantasy romance classic music river mountain"
).split()
DISTRACTORS = [
    "the stock market fell sharply after the earnings report",
    "a recipe for banana bread with walnuts and cinnamon",
    "the football team won the championship in overtime",
    "new smartphone released with a larger battery and camera",
    "heavy rain is expected across the northern region tomorrow",
    "the museum opened an exhibition of renaissance paintings",
]


def sentences(seed: int, count: int, low: int = 3, high: int = 12) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(low, high))) for _ in range(count)]


def make_queries(seed: int = 0, users: int = 5, profile: int = 7) -> list[RetrievalQuery]:
    shared = sentences(seed + 100, 4)  # documents repeated across users
    queries = []
    for user in range(users):
        docs = sentences(seed * 31 + user, profile) + shared[: user % 3]
        queries.append(RetrievalQuery(f"q{user}", sentences(seed * 97 + user, 1)[0], docs))
    return queries


class ForwardCounter:
    """Counts ``Encoder._forward`` calls (every batch through a model goes there)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = Encoder._forward

        def counted(encoder, sequences):
            self.calls += 1
            return original(encoder, sequences)

        monkeypatch.setattr(Encoder, "_forward", counted)


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def minilm() -> str:
    from ropg.utils.environment import require_packaged_minilm

    return require_packaged_minilm()  # a [test] dependency: missing it is an error, not a skip


@pytest.fixture(scope="module")
def tiny_parts():
    """A random-init BERT (hidden 32, 2 layers) and a WordPiece tokenizer, built offline."""
    from transformers import BertConfig, BertModel, BertTokenizer

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,'")
    vocab = specials + sorted(set(WORDS)) + chars + ["##" + c for c in chars]
    # (transformers 5 ignores ``vocab_file=`` here; the dict is saved as vocab files below)
    tokenizer = BertTokenizer(
        vocab={piece: i for i, piece in enumerate(vocab)}, model_max_length=64
    )
    assert "[UNK]" not in tokenizer.tokenize(" ".join(WORDS))
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=64,
    )  # fmt: skip
    torch.manual_seed(0)
    return BertModel(config).eval(), tokenizer


@pytest.fixture(scope="module")
def tiny_dir(tiny_parts, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tiny encoder saved plainly (no ropg_retriever.json): the Contriever defaults apply."""
    model, tokenizer = tiny_parts
    path = tmp_path_factory.mktemp("tiny_bert")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def manual_vectors(path: str, texts: list[str], pooling: str, normalize: bool) -> np.ndarray:
    """Reference computation: padded batch, full model, pooling written out by hand."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    batch = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    if pooling == "mean":
        mask = batch["attention_mask"].unsqueeze(-1).float()
        vectors = (hidden * mask).sum(1) / mask.sum(1)
    else:
        vectors = hidden[:, 0]
    if normalize:
        vectors = torch.nn.functional.normalize(vectors, dim=-1)
    return vectors.numpy()


def check_against_manual(retriever, path: str, pooling: str, normalize: bool) -> None:
    queries = make_queries(seed=3, users=3)
    rankings = retriever.rank_batch(queries)
    for query, ranking in zip(queries, rankings):
        vectors = manual_vectors(path, [query.query, *query.documents], pooling, normalize)
        expected = vectors[1:] @ vectors[0]
        np.testing.assert_allclose(ranking.scores, expected[ranking.indices], rtol=1e-4, atol=1e-5)
        assert list(ranking.indices) == list(np.argsort(-expected, kind="stable"))


# -- real weights -------------------------------------------------------------------------------
def test_real_model_ranks_copy_of_query_first_and_hits_cache(minilm, tmp_path, monkeypatch):
    counter = ForwardCounter(monkeypatch)
    queries = []
    for position in range(4):
        query = sentences(position, 1, 6, 10)[0]
        docs = list(DISTRACTORS)
        docs.insert(position, query)
        queries.append(RetrievalQuery(f"q{position}", query, docs))
    retriever = DenseRetriever(minilm, cache_dir=tmp_path)
    # the sentence-transformers files say: mean pooling, normalized, 256 tokens
    assert retriever.encoder.settings == EncoderSettings("mean", True, 256)
    first = retriever.rank_batch(queries, top_k=4)
    assert [r.indices[0] for r in first] == [0, 1, 2, 3]
    assert all(abs(r.scores[0] - 1.0) < 1e-5 for r in first)
    assert counter.calls > 0

    counter.calls = 0
    again = retriever.rank_batch(queries, top_k=4)  # same instance: everything cached
    fresh = DenseRetriever(minilm, cache_dir=tmp_path)  # a later run: same cache dir
    reused = fresh.rank_batch(queries, top_k=4)
    assert counter.calls == 0
    assert not fresh.encoder.is_loaded  # the model is not even loaded
    for a, b, c in zip(first, again, reused):
        assert list(a.indices) == list(b.indices) == list(c.indices)
        np.testing.assert_array_equal(a.scores, c.scores)  # float32 stored exactly
    assert len(fresh.cache) == len(DISTRACTORS) + len(queries)


# -- tiny random encoder --------------------------------------------------------------------------
def test_contriever_path_matches_manual_mean_pooling_dot_product(tiny_dir):
    retriever = get_retriever("contriever", model=tiny_dir, cache_dir=None)
    assert isinstance(retriever, ContrieverRetriever)
    assert retriever.encoder.settings == EncoderSettings("mean", False, 512)
    check_against_manual(retriever, tiny_dir, "mean", False)


def test_cls_and_normalize_options_match_manual(tiny_dir):
    retriever = get_retriever("dense", model=tiny_dir, pooling="cls", normalize="true",
                              cache_dir=None)  # fmt: skip
    check_against_manual(retriever, tiny_dir, "cls", True)


def test_batched_equals_one_at_a_time(tiny_dir):
    queries = make_queries(seed=5, users=6)
    batched = DenseRetriever(tiny_dir, batch_size=3, cache_dir=None).rank_batch(queries, top_k=5)
    single = DenseRetriever(tiny_dir, batch_size=1, cache_dir=None)
    for query, ranking in zip(queries, batched):
        alone = single.rank(query, top_k=5)
        assert list(alone.indices) == list(ranking.indices)
        np.testing.assert_allclose(alone.scores, ranking.scores, rtol=1e-5, atol=1e-6)


def test_save_encoder_checkpoint_loads_by_path_with_its_settings(tiny_parts, tmp_path):
    model, tokenizer = tiny_parts
    path = save_encoder(model, tokenizer, {"pooling": "cls", "normalize": True}, tmp_path / "ck")
    saved = json.loads((path / RETRIEVER_CONFIG_NAME).read_text())
    assert saved == {"pooling": "cls", "normalize": True, "max_length": 512, "similarity": "dot"}
    retriever = get_retriever("dense", model=str(path), cache_dir=None)
    assert retriever.encoder.settings == EncoderSettings("cls", True, 512)
    check_against_manual(retriever, str(path), "cls", True)
    # explicit options win over the file
    assert DenseRetriever(path, pooling="mean").encoder.settings.pooling == "mean"
    # a later ropg may add keys: they are ignored
    (path / RETRIEVER_CONFIG_NAME).write_text(json.dumps({**saved, "temperature": 0.1}))
    assert DenseRetriever(path, cache_dir=None).encoder.settings.normalize is True


def test_faiss_and_matmul_paths_give_the_same_ranking(tiny_dir, tmp_path):
    pytest.importorskip("faiss")
    docs = sentences(11, 300)
    tied = docs[7]
    queries = [
        RetrievalQuery("a", sentences(12, 1)[0], docs),
        RetrievalQuery("ties", tied, docs + [tied] * 25 + sentences(13, 5)),  # > k + margin ties
    ]
    options = {"normalize": True, "cache_dir": tmp_path}  # so that copies of the query rank first
    exact = DenseRetriever(tiny_dir, faiss="never", **options)
    with_faiss = DenseRetriever(tiny_dir, faiss="always", **options)
    for k in (1, 4, 20, None):
        for a, b in zip(exact.rank_batch(queries, k), with_faiss.rank_batch(queries, k)):
            assert list(a.indices) == list(b.indices)
            np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)
    ties = exact.rank(queries[1], top_k=10).indices
    assert list(ties) == [7, *range(300, 309)]  # ties keep profile order


def test_stable_top_k_keeps_profile_order_for_ties():
    scores = np.zeros(1000, dtype=np.float32)
    scores[[5, 900, 17, 400]] = 1.0
    assert list(stable_top_k(scores, 3)) == [5, 17, 400]
    assert list(stable_top_k(scores, 6)) == [5, 17, 400, 900, 0, 1]
    assert list(stable_top_k(scores[:10], None)) == [5, *range(5), *range(6, 10)]
    rng = np.random.default_rng(0)
    for nans in (0, 2, 10):  # the partitioned path gives the full stable sort's order, NaNs last
        noisy = rng.integers(0, 50, 1000).astype(np.float64)
        noisy[rng.choice(1000, nans, replace=False)] = np.nan
        for k in (1, 5, 12):
            expected = np.argsort(-noisy, kind="stable")[:k]
            assert list(stable_top_k(noisy, k)) == list(expected)


# -- the embedding cache ---------------------------------------------------------------------------
def test_cache_never_stores_a_key_twice_and_round_trips_exactly(tmp_path):
    namespace = {"model": "hub:x", "pooling": "mean"}
    cache = EmbeddingCache(tmp_path, namespace)
    vectors = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    assert cache.put_many(["a", "b", "a"], vectors) == 2
    assert cache.put_many(["a", "b"], vectors[:2] + 1) == 0  # existing rows are kept
    other = EmbeddingCache(tmp_path, namespace)  # a second connection (another process)
    assert other.put_many(["c"], vectors[:1]) == 1
    found, got = cache.get_many(["b", "zz", "a", "c", "a"])
    assert list(found) == [True, False, True, True, True]
    np.testing.assert_array_equal(got[[0, 2, 3]], vectors[[1, 0, 0]])
    with sqlite3.connect(cache.path) as con:
        total, distinct = con.execute(
            "SELECT COUNT(*), COUNT(DISTINCT key) FROM embeddings"
        ).fetchone()
    assert total == distinct == 3
    assert cache.info()["dim"] == 8
    with pytest.raises(LampError, match="8-dim"):
        cache.put_many(["d"], np.zeros((1, 4), dtype=np.float32))
    half = EmbeddingCache(tmp_path, namespace, storage_dtype="float16")
    assert half.path != cache.path and len(half) == 0


def _put_range(cache: EmbeddingCache, start: int) -> None:
    for offset in range(0, 200, 20):  # many small transactions, interleaved with the other writer
        texts = [f"text {i}" for i in range(start + offset, start + offset + 20)]
        cache.put_many(texts, np.full((20, 4), start, dtype=np.float32))


def test_cache_is_safe_for_concurrent_processes(tmp_path):
    import multiprocessing

    cache = EmbeddingCache(tmp_path, {"model": "hub:x"})
    cache.put_many(["text 0"], np.zeros((1, 4), dtype=np.float32))  # parent connection opened
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_put_range, args=(cache, start)) for start in (0, 100)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert len(cache) == 300  # overlapping keys 100..199 stored once
    found, _ = cache.get_many([f"text {i}" for i in range(300)])
    assert found.all()


def test_retriever_stores_each_unique_text_once(tiny_dir, tmp_path, monkeypatch):
    counter = ForwardCounter(monkeypatch)
    queries = make_queries(seed=7, users=6)
    retriever = DenseRetriever(tiny_dir, cache_dir=tmp_path)
    retriever.rank_batch(queries)
    retriever.rank_batch(queries[:2])
    texts = {d for q in queries for d in q.documents} | {q.query for q in queries}
    assert len(retriever.cache) == len(texts) == retriever.encoder.texts_encoded
    with sqlite3.connect(retriever.cache.path) as con:
        assert con.execute("SELECT COUNT(DISTINCT key) FROM embeddings").fetchone()[0] == len(texts)
    calls = counter.calls
    DenseRetriever(tiny_dir, cache_dir=tmp_path).rank_batch(queries)
    assert counter.calls == calls
    # other settings are another namespace: nothing is shared by mistake
    normalized = DenseRetriever(tiny_dir, normalize=True, cache_dir=tmp_path)
    assert normalized.cache.path != retriever.cache.path


def test_uncached_queries_are_looked_up_but_not_stored(tiny_dir, tmp_path):
    queries = make_queries(seed=5, users=4)
    queries.append(RetrievalQuery("dup", queries[0].documents[1], queries[0].documents))
    documents = {d for q in queries for d in q.documents}
    retriever = DenseRetriever(tiny_dir, cache_dir=tmp_path, cache_queries=False)
    rankings = retriever.rank_batch(queries)
    assert len(retriever.cache) == len(documents)  # a query equal to a document is stored
    assert retriever.encoder.texts_encoded == len(documents | {q.query for q in queries})
    cached = DenseRetriever(tiny_dir, cache_dir=tmp_path)
    for a, b in zip(rankings, cached.rank_batch(queries)):
        assert list(a.indices) == list(b.indices)
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5, atol=1e-6)
    assert len(cached.cache) == len(documents | {q.query for q in queries})


def test_model_fingerprint_follows_weights(tiny_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_dir, copy)  # copy2 keeps mtimes: same model, same cache
    assert model_identity(str(copy)) == model_identity(tiny_dir)
    weights = next(copy.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes() + b"\0")  # rewritten in place (a new checkpoint)
    assert model_identity(str(copy)) != model_identity(tiny_dir)
    assert model_identity("facebook/contriever") == "hub:facebook/contriever"


def test_cache_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("ROPG_CACHE_DIR", str(tmp_path))
    assert resolve_cache_dir("default") == tmp_path / "embeddings"
    assert resolve_cache_dir(None) is None and resolve_cache_dir("none") is None


# -- errors and options ------------------------------------------------------------------------------
def test_bad_model_paths_and_options_give_clear_errors(tmp_path, tiny_dir, monkeypatch):
    with pytest.raises(LampError, match="does not exist"):
        DenseRetriever(str(tmp_path / "missing"))
    with pytest.raises(LampError, match="no config.json"):
        DenseRetriever(tmp_path)
    with pytest.raises(LampError, match="needs model="):
        get_retriever("dense")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = DenseRetriever("no-such-org-ropg/no-such-model", cache_dir=None, pooling="mean",
                             normalize=False, max_length=8)  # fmt: skip
    with pytest.raises(LampError, match="cannot load encoder 'no-such-org-ropg/no-such-model'"):
        offline.rank(RetrievalQuery("q", "a query", ["a document"]))
    with pytest.raises(LampError, match="faiss must be"):
        DenseRetriever(tiny_dir, faiss="sometimes")
    with pytest.raises(LampError, match="pooling"):
        DenseRetriever(tiny_dir, pooling="max")
    with pytest.raises(LampError, match="normalize"):
        DenseRetriever(tiny_dir, normalize="maybe")


def test_half_precision_on_cpu_only_when_supported(caplog):
    from ropg.retrievers.encoder import cpu_supports

    with caplog.at_level(logging.WARNING):
        dtype, autocast = resolve_dtype("bf16", "cpu")
    if cpu_supports("bf16"):
        assert (dtype, autocast) == ("bf16", True)
    else:
        assert (dtype, autocast) == ("fp32", False)
        assert "no native support" in caplog.text
    assert resolve_dtype("auto", "cpu") == ("fp32", False)


def test_empty_inputs(tiny_dir):
    retriever = DenseRetriever(tiny_dir, cache_dir=None)
    assert retriever.rank_batch([]) == []
    ranking = retriever.rank(RetrievalQuery("q", "a query", []))
    assert len(ranking) == 0


def test_importing_the_dense_retriever_stays_light():
    code = "import sys, ropg.retrievers.dense; print(sorted({'torch', 'transformers', 'faiss'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
