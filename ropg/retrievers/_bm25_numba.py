"""Compiled BM25 indexing (numba): tokenize, number and count every user's terms in one pass.

Imported only when numba is installed (:mod:`ropg.retrievers.bm25_index` falls back to Python
otherwise). The kernel computes what ``rank_bm25.BM25Okapi`` builds from
``[doc.split() for doc in docs]`` (document lengths, document frequencies in the order the terms
first occur) plus the frequencies of the query's tokens in each document; the floating-point
scoring stays in numpy, shared by both backends, so that scores are bit-identical to rank-bm25's.

Tokens are compared exactly: tokens of up to 7 bytes by their bytes (the key), longer ones by a
64-bit hash and then byte by byte. Whitespace is Python's (``str.split()``): the caller blanks
multi-byte whitespace and passes a 256-entry table for single bytes.

Performance notes: the per-token loop (:func:`_index_documents`) passes no array to another
function, because numba reference-counts arrays at every such call (two atomic operations per
token cost a third of the time); a term table is a small index of uint32 slots over per-term
records (16 bytes) numbered in order of first occurrence, so frequent terms' records sit
together.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

_GOLD = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TOP = np.uint64(1 << 63)
_K21 = np.uint64(0x2121212121212121)
_K80 = np.uint64(0x8080808080808080)
_S3, _S24, _S29 = np.uint64(3), np.uint64(24), np.uint64(29)
_S32, _S48, _S56 = np.uint64(32), np.uint64(48), np.uint64(56)
_DOC = np.uint64((1 << 24) - 1)  # document numbers and frequencies: 24 bits


@njit(cache=True, nogil=True, inline="always")
def _home(key, bits):  # pragma: no cover - compiled
    """Fibonacci hashing: the top ``bits`` bits of ``key`` times the golden ratio."""
    return np.int64((key * _GOLD) >> np.uint64(64 - bits))


@njit(cache=True, nogil=True)
def _next_token(data, view, space, simple, i, end):  # pragma: no cover - compiled
    """``(start, stop)`` of the first token at or after ``i`` (``start`` -1: none before ``end``).

    ``simple``: no byte of ``data`` is in 0-8 or 14-27, so whitespace is exactly ``byte <= 32``
    and the end of a token is found 8 bytes at a time. (Same code as in the per-token loop.)
    """
    if simple:
        while i < end and data[i] <= 32:
            i += 1
        if i >= end:
            return -1, i
        p = i
        while True:
            word = view[p]
            flags = (word - _K21) & ~word & _K80  # bytes < 0x21; the lowest one is exact
            if flags:
                return i, p + np.int64(trailing_zeros(flags) >> _S3)
            p += 8
    while i < end and space[data[i]]:
        i += 1
    if i >= end:
        return -1, i
    start = i
    while not space[data[i]]:  # the buffer ends with spaces
        i += 1
    return start, i


@njit(cache=True, nogil=True)
def _token_key(view, masks, start, length):  # pragma: no cover - compiled
    """Exact key of a token of <= 7 bytes; a hash with the top bit set for a longer one."""
    if length <= 7:
        return (view[start] & masks[length]) | (np.uint64(length) << _S56)
    h = np.uint64(length) * _GOLD
    while length > 0:
        h = (h ^ (view[start] & masks[length if length < 8 else 8])) * _M1
        h ^= h >> _S32
        start += 8
        length -= 8
    h = (h ^ (h >> _S29)) * _M2
    return (h ^ (h >> _S32)) | _TOP


@njit(cache=True, nogil=True)
def _lookup(index, records, starts, bits, key, data, view, space, masks, start, length):  # noqa
    """``(slot, number)`` of a token in a table (``number`` -1 and an empty slot if absent).

    A table is ``index`` (uint32 slots: number + 1, 0 = empty) over ``records`` of 2 uint64 per
    entry: the key, and last document + 1 (bits 0-23) | document frequency (bits 24-47) | query
    column + 1 (bits 48-63, 0: none); ``starts`` holds the byte offset of each entry's first
    occurrence. (Same code as in the per-token loop.)
    """
    s = _home(key, bits)
    wrap = (1 << bits) - 1
    while True:
        entry = np.int64(index[s])
        if entry == 0:
            return s, -1
        number = entry - 1
        if records[2 * number] == key:
            if length <= 7:
                return s, number
            stored = starts[number]
            if space[data[stored + length]]:
                a, b, remaining = stored, start, length
                while remaining > 0:
                    if (view[a] ^ view[b]) & masks[remaining if remaining < 8 else 8]:
                        break
                    a += 8
                    b += 8
                    remaining -= 8
                if remaining <= 0:
                    return s, number
        s = (s + 1) & wrap


@njit(cache=True, nogil=True)
def _rehash(index, records, bits, n_terms):  # pragma: no cover - compiled
    """Double the index and re-insert every term."""
    bits += 1
    index[: 1 << bits] = 0
    wrap = (1 << bits) - 1
    for term in range(n_terms):
        s = _home(records[2 * term], bits)
        while index[s] != 0:
            s = (s + 1) & wrap
        index[s] = term + 1
    return bits


@njit(cache=True, nogil=True)
def _grow(buffer, needed):  # pragma: no cover - compiled
    if needed <= buffer.shape[0]:
        return buffer
    bigger = np.zeros(max(needed, 2 * buffer.shape[0]), buffer.dtype)
    bigger[: buffer.shape[0]] = buffer
    return bigger


@njit(cache=True, nogil=True)
def _index_documents(
    data, view, space, simple, masks, seg_start, first_seg, stop_seg, index, records, starts,
    q_index, q_records, q_starts, q_bits, codes, tf, row0, n_cols, seg_len,
):  # fmt: skip  # pragma: no cover - compiled
    """Number the terms of one user's documents (segments ``first_seg..stop_seg-1``), count
    the documents of every term in ``records`` and the query columns' hits in ``tf``; returns
    the number of terms. :func:`_next_token`, :func:`_token_key` and :func:`_lookup` are
    written out inline here (see the module's performance notes)."""
    bits = 10
    index[: 1 << bits] = 0
    n_terms = 0
    for segment in range(first_seg, stop_seg):
        doc = np.uint64(segment - first_seg + 1)
        row = row0 + (segment - first_seg) * n_cols - 1
        i = seg_start[segment]
        end = seg_start[segment + 1]
        n_tokens = 0
        while True:
            # the next token: [start, i)
            if simple:
                while i < end and data[i] <= 32:
                    i += 1
                if i >= end:
                    break
                start = i
                p = i
                while True:
                    word = view[p]
                    flags = (word - _K21) & ~word & _K80
                    if flags:
                        i = p + np.int64(trailing_zeros(flags) >> _S3)
                        break
                    p += 8
            else:
                while i < end and space[data[i]]:
                    i += 1
                if i >= end:
                    break
                start = i
                while not space[data[i]]:
                    i += 1
            length = i - start
            n_tokens += 1
            # its key
            if length <= 7:
                key = (view[start] & masks[length]) | (np.uint64(length) << _S56)
            else:
                h = np.uint64(length) * _GOLD
                p = start
                remaining = length
                while remaining > 0:
                    h = (h ^ (view[p] & masks[remaining if remaining < 8 else 8])) * _M1
                    h ^= h >> _S32
                    p += 8
                    remaining -= 8
                h = (h ^ (h >> _S29)) * _M2
                key = (h ^ (h >> _S32)) | _TOP
            # its term
            s = _home(key, bits)
            wrap = (1 << bits) - 1
            term = -1
            while True:
                entry = np.int64(index[s])
                if entry == 0:
                    break
                if records[2 * entry - 2] == key:
                    if length <= 7:
                        term = entry - 1
                        break
                    stored = starts[entry - 1]
                    if space[data[stored + length]]:
                        a, b, remaining = stored, start, length
                        while remaining > 0:
                            if (view[a] ^ view[b]) & masks[remaining if remaining < 8 else 8]:
                                break
                            a += 8
                            b += 8
                            remaining -= 8
                        if remaining <= 0:
                            term = entry - 1
                            break
                s = (s + 1) & wrap
            if term < 0:  # a new term (rare: array-passing calls are fine here)
                term = n_terms
                n_terms += 1
                index[s] = n_terms
                _, column = _lookup(
                    q_index,
                    q_records,
                    q_starts,
                    q_bits,
                    key,
                    data,
                    view,
                    space,
                    masks,
                    start,
                    length,
                )
                if column >= 0:
                    codes[column] = term
                records[2 * term] = key
                records[2 * term + 1] = np.uint64(column + 1) << _S48
                starts[term] = start
                if 2 * n_terms > (1 << bits):
                    bits = _rehash(index, records, bits, n_terms)
            counts = records[2 * term + 1]
            new_doc = np.uint64((counts & _DOC) != doc)
            counts = ((counts & ~_DOC) | doc) + (new_doc << _S24)
            records[2 * term + 1] = counts
            column = np.int64(counts >> _S48)
            if column:
                tf[row + column] += 1
        seg_len[segment] = n_tokens
    return n_terms


@njit(cache=True, nogil=True)
def index_batch(
    data,
    view,
    space,
    simple,
    masks,
    seg_start,
    doc_lo,
    query_seg,
    index,
    records,
    starts,
    log_half,
):  # pragma: no cover - compiled
    """Index the users of one batch.

    Args:
        data: the batch's UTF-8 bytes (segments separated by whitespace or NUL, then spaces);
            view: the same bytes as unaligned little-endian uint64 at every offset.
        space: whitespace flag per byte value; simple: no byte of ``data`` is in 0-8 or 14-27
            but for separators.
        masks: ``masks[n]`` keeps the low ``n`` bytes of a uint64.
        seg_start: byte offset of every segment (documents and queries), plus the end.
        doc_lo, query_seg: per user, its first document's segment and its query's segment (its
            documents are the segments in between).
        index, records, starts: scratch space reused across calls (uint32, uint64, int64), of
            at least ``4m + 1024``, ``2m`` and ``m`` entries for ``m`` = the most distinct
            tokens one user can have (its bytes // 2 + 1). A user has fewer than 2**24
            documents, a query fewer than 2**16 - 1 distinct tokens (the caller checks).
        log_half: ``math.log(x + 0.5)`` for ``x`` up to the most documents of a user.

    Returns:
        ``seg_len`` (tokens per segment); ``n_terms`` and ``idf_sum`` per user (its number of
        distinct terms, and the sum of their Okapi idfs ``log(N - n + 0.5) - log(n + 0.5)``
        added one by one in first-occurrence order, exactly as rank-bm25 sums them);
        ``qcol``, ``q_off`` (per query token, its column); ``col_df``, ``c_off`` (per column,
        i.e. distinct query token, its document frequency); ``tf``, ``tf_off`` (per user, a
        row-major documents x columns matrix of term frequencies).
    """
    n_users = doc_lo.shape[0]
    seg_len = np.zeros(seg_start.shape[0] - 1, np.int64)
    n_terms_out = np.zeros(n_users, np.int64)
    idf_sums = np.zeros(n_users, np.float64)
    qcol = np.zeros(256, np.int64)
    q_off = np.zeros(n_users + 1, np.int64)
    col_code = np.zeros(256, np.int64)
    c_off = np.zeros(n_users + 1, np.int64)
    tf = np.zeros(4096, np.int64)
    tf_off = np.zeros(n_users + 1, np.int64)
    q_index = np.zeros(64, np.uint32)
    q_records = np.zeros(2 * 64, np.uint64)
    q_starts = np.zeros(64, np.int64)
    for user in range(n_users):
        # 1. the query: its distinct tokens become the columns, in order of appearance
        segment = query_seg[user]
        i = seg_start[segment]
        end = seg_start[segment + 1]
        q_bits = 6
        while (1 << q_bits) < end - i + 2:  # tokens <= bytes / 2: load factor <= 1/2
            q_bits += 1
        q_index = _grow(q_index, 1 << q_bits)
        q_index[: 1 << q_bits] = 0
        q_records = _grow(q_records, 2 << q_bits)
        q_starts = _grow(q_starts, 1 << q_bits)
        n_cols = 0
        position = q_off[user]
        while True:
            start, i = _next_token(data, view, space, simple, i, end)
            if start < 0:
                break
            length = i - start
            key = _token_key(view, masks, start, length)
            s, column = _lookup(
                q_index, q_records, q_starts, q_bits, key, data, view, space, masks, start, length
            )
            if column < 0:
                column = n_cols
                n_cols += 1
                q_index[s] = n_cols
                q_records[2 * column] = key
                q_starts[column] = start
            qcol = _grow(qcol, position + 1)
            qcol[position] = column
            position += 1
        q_off[user + 1] = position
        seg_len[segment] = position - q_off[user]
        col_code = _grow(col_code, c_off[user] + n_cols)
        codes = col_code[c_off[user] : c_off[user] + n_cols]
        codes[:] = -1
        c_off[user + 1] = c_off[user] + n_cols
        n_docs = query_seg[user] - doc_lo[user]
        base = tf_off[user]
        tf = _grow(tf, base + n_docs * n_cols)
        tf[base : base + n_docs * n_cols] = 0
        tf_off[user + 1] = base + n_docs * n_cols
        # 2. the documents
        n_terms = _index_documents(
            data, view, space, simple, masks, seg_start, doc_lo[user], segment, index, records,
            starts, q_index, q_records, q_starts, q_bits, codes, tf, base, n_cols, seg_len,
        )  # fmt: skip
        n_terms_out[user] = n_terms
        idf_sum = 0.0
        for term in range(n_terms):  # sequential float additions, as rank-bm25's loop
            freq = np.int64((records[2 * term + 1] >> _S24) & _DOC)
            idf_sum += log_half[n_docs - freq] - log_half[freq]
        idf_sums[user] = idf_sum
        for column in range(n_cols):
            term = codes[column]
            codes[column] = 0 if term < 0 else np.int64((records[2 * term + 1] >> _S24) & _DOC)
    return (
        seg_len,
        n_terms_out,
        idf_sums,
        qcol[: q_off[n_users]],
        q_off,
        col_code[: c_off[n_users]],
        c_off,
        tf[: tf_off[n_users]],
        tf_off,
    )
