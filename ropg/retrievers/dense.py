"""Dense retrieval: Contriever, any Hugging Face encoder, or a ROPG-trained checkpoint.

``get_retriever("contriever")`` is ``facebook/contriever`` with the paper's recipe (mean pooling,
unnormalized dot product, 512 tokens). ``get_retriever("dense", model=PATH_OR_ID)`` takes the
pooling settings saved with the model (``ropg_retriever.json``, see :mod:`ropg.retrievers.encoder`).

``rank_batch`` ranks a whole split at once:

1. collect the unique texts of all profiles and queries (documents repeat across users and
   splits; a query equal to a document shares its vector);
2. look them up in the embedding cache (:mod:`ropg.retrievers.embedding_cache`);
3. encode only the misses, longest first in length-sorted batches, storing every chunk of 4,096
   vectors as soon as it is done (a killed run resumes where it stopped); the model is not even
   loaded when everything is cached;
4. per query, ``scores = doc_vectors @ query_vector`` and a stable top-k (ties keep profile
   order).

Heavy modules (torch, transformers, faiss) are imported only when needed, so registering this
retriever costs nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ropg.errors import UserError
from ropg.retrievers.base import BatchRetriever, Ranking, RetrievalQuery, stable_top_k
from ropg.retrievers.embedding_cache import DEFAULT, EmbeddingCache, resolve_cache_dir
from ropg.retrievers.encoder import Encoder, EncoderConfig
from ropg.retrievers.registry import register_retriever

logger = logging.getLogger(__name__)

FAISS_MODES = ("auto", "always", "never")
STORE_CHUNK = 4096
TIE_MARGIN = 16  # extra faiss candidates fetched so that ties at rank k are not lost


def _as_bool(value: Any, name: str) -> bool | None:
    """Accept booleans and the strings a command line gives (``"true"``, ``"0"``...)."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise UserError(f"{name} must be true or false, got {value!r}")


def _as_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be an integer, got {value!r}") from None


def faiss_gpu_available() -> bool:
    """Whether an installed faiss can use a GPU (faiss-gpu)."""
    try:
        import faiss
    except ImportError:
        return False
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


@register_retriever("dense")
class DenseRetriever(BatchRetriever):
    """Rank profile documents by the dot product of their vectors with the query's vector.

    Args:
        model: Hugging Face model id or local directory (required for ``dense``).
        pooling, normalize, max_length: override the settings saved with the model
            (``"mean"``/``"cls"``; L2-normalize; truncation length). None = from the model.
        batch_size: texts per forward pass (None: 16 on CPU, 128 on GPU).
        dtype: ``"auto"``, ``"fp32"``, ``"fp16"``, ``"bf16"`` (see :mod:`~ropg.retrievers.encoder`).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        cache_dir: embedding cache directory; ``"default"`` = ``$ROPG_CACHE_DIR/embeddings`` or
            ``~/.cache/ropg/embeddings``; None disables caching.
        cache_queries: also write query vectors to the cache (queries repeat across runs and
            retrievers); they are looked up there either way.
        faiss: ``"never"``: exact numpy matmul for every profile. ``"always"``: a faiss
            ``IndexFlatIP`` per profile (GPU when faiss-gpu is installed). ``"auto"`` (default):
            faiss only when faiss-gpu is available **and** the profile has at least
            ``faiss_min_docs`` documents. Rationale (2 CPU cores, 768-dim, one query per profile,
            exact top-4): numpy matmul took 29 us / 0.41 ms / 5.0 ms / 27 ms / 77 ms for 100 /
            1k / 10k / 100k / 400k documents; a per-profile faiss index took 80 us / 1.0 ms /
            121 ms / 379 ms / 1.33 s including the build and was slower even when prebuilt
            (torch matmul 41.6k queries/s vs faiss 19.2k on LaMP profiles;
            docs/lamp-fidelity.md), so on CPU faiss never pays for per-user exact search.
            Ranking time is negligible next to encoding either way.
        faiss_min_docs: the profile size from which ``faiss="auto"`` uses faiss-gpu (100,000;
            not measured here: no GPU on the benchmark machine).
        trust_remote_code: passed to ``from_pretrained``.

    Whichever path ranks, candidates are re-scored with numpy so that both paths give the same
    scores, and ties keep profile order.
    """

    name = "dense"
    default_model: str | None = None
    default_settings: dict[str, Any] = {}

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        pooling: str | None = None,
        normalize: bool | str | None = None,
        max_length: int | str | None = None,
        batch_size: int | str | None = None,
        dtype: str = "auto",
        device: str = "auto",
        cache_dir: str | os.PathLike[str] | None = DEFAULT,
        cache_queries: bool | str = True,
        faiss: str = "auto",
        faiss_min_docs: int | str = 100_000,
        trust_remote_code: bool | str = False,
    ) -> None:
        model = model if model is not None else self.default_model
        if model is None:
            raise UserError(
                f"retriever {self.name!r} needs model=<Hugging Face id or checkpoint directory> "
                "(or use 'contriever' for facebook/contriever)"
            )
        if faiss not in FAISS_MODES:
            raise UserError(f"faiss must be one of {FAISS_MODES}, got {faiss!r}")
        if faiss == "always":
            try:
                import faiss as _faiss  # noqa: F401
            except ImportError:
                raise UserError("faiss='always' needs faiss-cpu or faiss-gpu installed") from None
        settings = {
            "pooling": pooling,
            "normalize": _as_bool(normalize, "normalize"),
            "max_length": _as_int(max_length, "max_length"),
        }
        for key, value in self.default_settings.items():
            if settings[key] is None:
                settings[key] = value
        self.encoder = Encoder(
            EncoderConfig(
                model=os.fspath(model),
                batch_size=_as_int(batch_size, "batch_size"),
                dtype=dtype,
                device=device,
                trust_remote_code=bool(_as_bool(trust_remote_code, "trust_remote_code")),
                **settings,
            )
        )
        self.cache_queries = bool(_as_bool(cache_queries, "cache_queries"))
        self.faiss = faiss
        self.faiss_min_docs = _as_int(faiss_min_docs, "faiss_min_docs") or 0
        self._cache_dir = resolve_cache_dir(cache_dir)
        self._cache: EmbeddingCache | None = None
        self._faiss_gpu: bool | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.encoder!r}, cache_dir={str(self._cache_dir)!r})"

    @property
    def cache(self) -> EmbeddingCache | None:
        """The embedding cache of this encoder (None when caching is disabled)."""
        if self._cache is None and self._cache_dir is not None:
            self._cache = EmbeddingCache(self._cache_dir, self.encoder.identity)
        return self._cache

    # -- embeddings -------------------------------------------------------------------------------
    def embed(
        self,
        texts: Sequence[str],
        show_progress: bool = False,
        store_first: int | None = None,
    ) -> np.ndarray:
        """Vectors of ``texts`` (float32, one row per text): cached ones read, the rest encoded.

        Duplicates are encoded once. Newly encoded vectors are stored chunk by chunk; with
        ``store_first``, only those of texts that occur among the first ``store_first`` texts
        (every text is still looked up in the cache).
        """
        unique = list(dict.fromkeys(texts))
        store = self.cache
        if store is not None:
            found, vectors = store.get_many(unique)
        else:
            found, vectors = np.zeros(len(unique), dtype=bool), np.zeros((len(unique), 0))
        # ``unique`` keeps first occurrences in order: the storable texts are a prefix of it
        storable = len(unique) if store_first is None else len(set(texts[:store_first]))
        missing = np.flatnonzero(~found)
        logger.info(
            "%s: %d unique texts, %d cached, %d to encode",
            self.name, len(unique), int(found.sum()), len(missing),
        )  # fmt: skip
        if len(missing):
            miss_texts = [unique[i] for i in missing]
            chunks = self.encoder.iter_encode(
                miss_texts, chunk_size=STORE_CHUNK, show_progress=show_progress
            )
            for positions, chunk in chunks:
                if vectors.shape[1] != chunk.shape[1]:
                    if found.any():
                        raise UserError(
                            f"{store} holds {vectors.shape[1]}-dim vectors but the encoder "
                            f"gives {chunk.shape[1]}"
                        )
                    vectors = np.zeros((len(unique), chunk.shape[1]), dtype=np.float32)
                vectors[missing[positions]] = chunk
                if store is not None:
                    keep = missing[positions] < storable
                    if keep.all():
                        store.put_many([miss_texts[i] for i in positions], chunk)
                    elif keep.any():
                        store.put_many([miss_texts[i] for i in positions[keep]], chunk[keep])
        if len(unique) == len(texts):
            return np.asarray(vectors, dtype=np.float32)
        row = {text: i for i, text in enumerate(unique)}
        return np.asarray(vectors[[row[text] for text in texts]], dtype=np.float32)

    # -- ranking --------------------------------------------------------------------------------
    def rank_batch(
        self,
        queries: Sequence[RetrievalQuery],
        top_k: int | None = None,
        show_progress: bool = False,
    ) -> list[Ranking]:
        """Rank every query's profile; all unique texts are embedded in one pass first.

        A query equal to a document shares its vector; other query vectors are written to the
        cache only with ``cache_queries``.
        """
        row: dict[str, int] = {}
        for query in queries:
            for document in query.documents:
                row.setdefault(document, len(row))
        n_documents = len(row)
        for query in queries:
            row.setdefault(query.query, len(row))
        vectors = self.embed(
            list(row),
            show_progress=show_progress,
            store_first=None if self.cache_queries else n_documents,
        )
        query_rows = np.fromiter((row[q.query] for q in queries), dtype=np.int64)
        rankings = []
        for query, query_vector in zip(queries, vectors[query_rows]):
            indices = np.fromiter((row[d] for d in query.documents), dtype=np.int64)
            rankings.append(self._rank_one(vectors[indices], query_vector, top_k))
        return rankings

    def _use_faiss(self, n_docs: int) -> bool:
        if self.faiss == "never":
            return False
        if self.faiss == "always":
            return True
        if n_docs < self.faiss_min_docs:
            return False
        if self._faiss_gpu is None:
            self._faiss_gpu = faiss_gpu_available()
        return self._faiss_gpu

    def _rank_one(self, docs: np.ndarray, query: np.ndarray, top_k: int | None) -> Ranking:
        if len(docs) == 0:
            return Ranking(np.zeros(0, dtype=np.int64), np.zeros(0))
        if top_k is not None and top_k < len(docs) and self._use_faiss(len(docs)):
            candidates = self._faiss_candidates(docs, query, top_k)
            if candidates is not None:
                candidates.sort()  # profile order, so that ties stay stable
                scores = docs[candidates] @ query
                order = candidates[stable_top_k(scores, top_k)]
                return Ranking(order, (docs[order] @ query).astype(np.float64))
        scores = docs @ query
        order = stable_top_k(scores, top_k)
        return Ranking(order, scores[order].astype(np.float64))

    def _faiss_candidates(self, docs: np.ndarray, query: np.ndarray, k: int) -> np.ndarray | None:
        """Top ``k + TIE_MARGIN`` ids from a faiss flat index; None if ties may run past them."""
        import faiss

        matrix = np.ascontiguousarray(docs, dtype=np.float32)
        index = faiss.IndexFlatIP(matrix.shape[1])
        if self._faiss_gpu is None:
            self._faiss_gpu = faiss_gpu_available()
        if self._faiss_gpu:
            index = faiss.index_cpu_to_all_gpus(index)
        index.add(matrix)
        wanted = min(len(docs), k + TIE_MARGIN)
        scores, ids = index.search(np.ascontiguousarray(query[None], dtype=np.float32), wanted)
        ids, scores = ids[0], scores[0]
        if wanted < len(docs) and scores[-1] >= scores[k - 1] - 1e-5 * max(1.0, abs(scores[k - 1])):
            return None  # the margin is all ties with the k-th: fall back to exact numpy
        return ids[ids >= 0].astype(np.int64)


@register_retriever("contriever")
class ContrieverRetriever(DenseRetriever):
    """``facebook/contriever`` with the paper's recipe: mean pooling, dot product, 512 tokens.

    Any other encoder can be run with this recipe by giving ``model``; use ``dense`` to take
    the settings saved with a model instead.
    """

    name = "contriever"
    default_model = "facebook/contriever"
    default_settings = {"pooling": "mean", "normalize": False, "max_length": 512}
