"""What BM25 needs from each profile, computed for many users at once.

For every query, :func:`index_users` returns a :class:`UserStats`: the profile's document
lengths, its number of distinct terms and the sum of their Okapi idfs (in the order rank-bm25
adds them: first occurrence), and for the query's distinct tokens their document frequencies
and their frequencies in each document. Tokens are ``str.split()``'s: whitespace-separated,
case-sensitive. Documents kept as their fields (:class:`~ropg.retrievers.documents.JoinedDocuments`,
what :func:`~ropg.retrievers.pipeline.rank_split` passes) are tokenized from the fields in place:
the joined strings are never built.

Backends: ``"numba"`` (a compiled single pass over the bytes of a whole batch, see
:mod:`ropg.retrievers._bm25_numba`; needs ``pip install numba``; ~30x faster than the LaMP
code on 2 cores) and ``"python"`` (``str.split`` and a dictionary per user, with numpy
counting; ~1.7x). ``"auto"`` takes numba when it is installed.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from ropg.errors import UserError
from ropg.retrievers.base import RetrievalQuery
from ropg.retrievers.documents import document_parts
from ropg.retrievers.whitespace import encode_batch
from ropg.utils.collector import collector_paused

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "numba", "python")
_MAX_DOCS = (1 << 24) - 1  # the kernel packs document numbers and frequencies in 24 bits
_MAX_QUERY_BYTES = 2 * ((1 << 16) - 2)  # ... and query columns in 16 bits
_MASKS = np.array([(1 << (8 * i)) - 1 for i in range(8)] + [(1 << 64) - 1], dtype=np.uint64)


class UserStats(NamedTuple):
    """BM25 statistics of one query over its profile.

    Attributes:
        doc_len: tokens per document (int64, ``N``).
        n_terms: distinct terms in the profile.
        idf_sum: the sum of the Okapi idfs ``log(N - n + 0.5) - log(n + 0.5)`` of all the
            profile's terms, added one by one in first-occurrence order (as rank-bm25 does).
        qcol: for each query token (repeats included), its column (distinct query token).
        col_df: for each column, the number of documents with that token (0: none).
        tf: ``N x columns`` occurrences of each column's token in each document (int64).
    """

    doc_len: np.ndarray
    n_terms: int
    idf_sum: float
    qcol: np.ndarray
    col_df: np.ndarray
    tf: np.ndarray


_log_half = np.zeros(0)


def log_half_table(n: int) -> np.ndarray:
    """``math.log(x + 0.5)`` for ``x`` in ``0..n`` at least (rank-bm25's own ``math.log``
    values, for bit-identical idfs; grown on demand and shared)."""
    global _log_half
    table = _log_half
    if len(table) <= n:
        size = max(n + 1, 2 * len(table), 1024)
        extra = [math.log(x + 0.5) for x in range(len(table), size)]
        table = np.concatenate([table, np.asarray(extra, dtype=np.float64)])
        _log_half = table
    return table


def numba_available() -> bool:
    return importlib.util.find_spec("numba") is not None


def resolve_backend(backend: str) -> str:
    """``"numba"`` or ``"python"`` for a backend option (``"auto"`` prefers numba)."""
    if backend not in BACKENDS:
        raise UserError(f"unknown bm25 backend {backend!r}; choose one of {BACKENDS}")
    if backend == "auto":
        return "numba" if numba_available() else "python"
    if backend == "numba" and not numba_available():
        raise UserError("bm25 backend 'numba' needs numba: pip install numba")
    return backend


AUTO_NUMBA_MIN_DOCUMENTS = 100_000
"""Under ``backend="auto"``, a job of fewer documents is indexed in Python until this process
has loaded the compiled kernel: the kernel's first load costs about 1 s (about 17 s when numba
compiles it, once per installation), the Python backend about 12 µs a document. The two
backends give identical statistics, so results never depend on the choice."""


def job_backend(requested: str, resolved: str, documents: int) -> str:
    """The backend for one job of ``documents`` documents (see
    :data:`AUTO_NUMBA_MIN_DOCUMENTS`); ``requested`` is the option, ``resolved`` its
    :func:`resolve_backend`."""
    if (
        requested == "auto"
        and resolved == "numba"
        and documents < AUTO_NUMBA_MIN_DOCUMENTS
        and not _KERNEL_LOADED.is_set()
    ):
        return "python"
    return resolved


def index_users(queries: Sequence[RetrievalQuery], backend: str) -> list[UserStats]:
    """:class:`UserStats` of every query (``backend``: ``"numba"`` or ``"python"``)."""
    if backend == "numba":
        return _index_numba(queries)
    if backend == "python":
        return [_index_python(query.documents, query.query) for query in queries]
    raise UserError(f"unknown bm25 backend {backend!r}")


# -- python backend ---------------------------------------------------------------------------
def _index_python(documents: Sequence[str], query: str) -> UserStats:
    tokenized = [document.split() for document in documents]
    n_docs = len(tokenized)
    doc_len = np.fromiter(map(len, tokenized), dtype=np.int64, count=n_docs)
    vocabulary: dict[str, int] = {}
    codes = np.fromiter(
        (vocabulary.setdefault(token, len(vocabulary)) for tokens in tokenized for token in tokens),
        dtype=np.int64,
        count=int(doc_len.sum()),
    )
    n_terms = len(vocabulary)
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), doc_len)
    if n_terms:
        pairs = np.sort(doc_of * n_terms + codes)
        first = np.ones(len(pairs), dtype=bool)
        first[1:] = pairs[1:] != pairs[:-1]
        df = np.bincount(pairs[first] % n_terms, minlength=n_terms)
    else:
        df = np.zeros(0, dtype=np.int64)
    columns: dict[str, int] = {}
    qcol = np.array([columns.setdefault(t, len(columns)) for t in query.split()], dtype=np.int64)
    col_code = np.array([vocabulary.get(token, -1) for token in columns], dtype=np.int64)
    n_cols = len(columns)
    tf = np.zeros((n_docs, n_cols), dtype=np.int64)
    present = np.flatnonzero(col_code >= 0)
    if len(present):
        column_of = np.full(n_terms, -1, dtype=np.int64)
        column_of[col_code[present]] = present
        column = column_of[codes]
        hit = column >= 0
        flat = np.bincount(doc_of[hit] * n_cols + column[hit], minlength=n_docs * n_cols)
        tf = flat.reshape(n_docs, n_cols)
    col_df = np.where(col_code >= 0, df[np.maximum(col_code, 0)] if n_terms else 0, 0)
    idf_sum = 0.0
    if n_terms:
        logs = log_half_table(n_docs)
        idf_sum = float(np.cumsum(logs[n_docs - df] - logs[df])[-1])  # sequential, like rank-bm25
    return UserStats(doc_len, n_terms, idf_sum, qcol, col_df.astype(np.int64), tf)


# -- numba backend ----------------------------------------------------------------------------
class _Scratch(threading.local):
    """Per-thread scratch arrays for the kernel, kept between calls (no page faults)."""

    def __init__(self) -> None:
        self.most = 0
        self.index = np.zeros(0, dtype=np.uint32)
        self.records = np.zeros(0, dtype=np.uint64)
        self.starts = np.zeros(0, dtype=np.int64)

    def ensure(self, most: int) -> None:
        if most <= self.most:
            return
        most = max(most, 2 * self.most)
        self.index = np.zeros(4 * most + 1024, dtype=np.uint32)
        self.records = np.zeros(2 * most, dtype=np.uint64)
        self.starts = np.zeros(most, dtype=np.int64)
        self.most = most


_scratch = _Scratch()


_KERNEL_LOADED = threading.Event()


@contextmanager
def _loading_kernel() -> Iterator[None]:
    """Until the kernel's first call has returned, the cyclic collector is paused: importing
    numba and loading compiled code build ~100k long-lived objects, and the collections they
    would set off cost a twentieth of ``ropg-rank``'s time. Nothing changes afterwards."""
    if _KERNEL_LOADED.is_set():
        yield
        return
    with collector_paused():
        yield
    _KERNEL_LOADED.set()


def _index_numba(queries: Sequence[RetrievalQuery]) -> list[UserStats]:
    if not queries:
        return []
    # every document's (and query's) first text: documents may be kept as their parts
    texts: list[str] = []
    first_text: list[np.ndarray] = []
    doc_lo = np.empty(len(queries), dtype=np.int64)
    n_segments = 0
    for user, query in enumerate(queries):
        parts, width = document_parts(query.documents)
        doc_lo[user] = n_segments
        first_text.append(np.arange(len(texts), len(texts) + len(parts) + 1, width))
        n_segments += len(parts) // width + 1
        texts.extend(parts)
        texts.append(query.query)
    first_text.append(np.array([len(texts)]))
    query_seg = np.empty_like(doc_lo)
    query_seg[:-1] = doc_lo[1:] - 1
    query_seg[-1] = n_segments - 1
    encoded = encode_batch(texts)
    seg_start = encoded.starts[np.concatenate(first_text)]
    query_bytes = seg_start[query_seg + 1] - seg_start[query_seg]
    if (query_seg - doc_lo).max() >= _MAX_DOCS or query_bytes.max() >= _MAX_QUERY_BYTES:
        # beyond the kernel's packed counters (never in LaMP): the Python backend
        return [_index_python(query.documents, query.query) for query in queries]
    user_bytes = seg_start[query_seg + 1] - seg_start[doc_lo]
    _scratch.ensure(int(user_bytes.max()) // 2 + 2)
    with _loading_kernel():
        from ropg.retrievers._bm25_numba import index_batch

        outputs = index_batch(
            encoded.data,
            encoded.words(),
            encoded.space,
            encoded.simple,
            _MASKS,
            seg_start,
            doc_lo,
            query_seg,
            _scratch.index,
            _scratch.records,
            _scratch.starts,
            log_half_table(int((query_seg - doc_lo).max())),
        )
    seg_len, n_terms, idf_sums, qcol, q_off, col_df, c_off, tf, tf_off = outputs
    stats = []
    for user in range(len(queries)):
        n_docs = query_seg[user] - doc_lo[user]
        n_cols = c_off[user + 1] - c_off[user]
        stats.append(
            UserStats(
                seg_len[doc_lo[user] : query_seg[user]],
                int(n_terms[user]),
                float(idf_sums[user]),
                qcol[q_off[user] : q_off[user + 1]],
                col_df[c_off[user] : c_off[user + 1]],
                tf[tf_off[user] : tf_off[user + 1]].reshape(n_docs, n_cols),
            )
        )
    return stats
