"""BM25 over per-user profiles: the LaMP reference loop vs ropg's fast ``bm25``, side by side.

Workload (seeded, LaMP-scale): ``--users`` profiles (default 2,000) whose sizes are log-uniform
in [10, 1000] documents; documents of 50-200 words and one 30-word query per user, drawn from a
Zipfian vocabulary (exponent 1.07; short words frequent, ~1% of words non-ASCII); top-4.

Both sides start from raw text:

* reference, what the LaMP code does for every question::

      tokenized_corpus = [x.split() for x in corpus]
      bm25 = BM25Okapi(tokenized_corpus)
      selected = bm25.get_top_n(query.split(), corpus, n=4)

* ropg: ``get_retriever("bm25").rank_batch(queries, top_k=4)`` (built-in, fast implementation).

Each side is timed ``--repeats`` times (median reported), alternating. Agreement: the share of
users whose ranked top-4 lists are identical, and the largest relative score difference.

Usage::

    python benchmarks/perf/bm25.py [--users 2000] [--repeats 3] [--threads N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from ropg.utils.environment import hardware_info

LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))
ACCENTED = np.array(list("éèüöñçå"))


def make_vocabulary(rng: np.random.Generator, size: int) -> list[str]:
    """Distinct words; frequent (low-rank) words are short, as in natural language."""
    words: dict[str, None] = {}
    rank = 0
    while len(words) < size:
        length = int(np.clip(rng.normal(2.5 + 0.55 * np.log2(rank + 2), 1.2), 1, 16))
        word = "".join(rng.choice(LETTERS, size=length))
        if rng.random() < 0.01:
            position = rng.integers(0, length)
            word = word[:position] + rng.choice(ACCENTED) + word[position + 1 :]
        if word not in words:
            words[word] = None
            rank += 1
    return list(words)


def make_workload(
    users: int, seed: int = 0, vocabulary: int = 50_000, max_profile: int = 1000
) -> tuple[list[list[str]], list[str]]:
    """(profiles, queries): per user a list of document texts and one query text (profile
    sizes log-uniform in [10, ``max_profile``])."""
    rng = np.random.default_rng(seed)
    words = np.array(make_vocabulary(rng, vocabulary), dtype=object)
    cdf = np.cumsum(1.0 / np.arange(1, vocabulary + 1) ** 1.07)
    cdf /= cdf[-1]

    def draw(count: int) -> np.ndarray:
        return words[np.minimum(np.searchsorted(cdf, rng.random(count)), vocabulary - 1)]

    sizes = np.exp(rng.uniform(np.log(10), np.log(max_profile), size=users)).astype(int)
    profiles, queries = [], []
    for size in sizes:
        lengths = rng.integers(50, 201, size=size)
        tokens = draw(int(lengths.sum()))
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        profiles.append([" ".join(tokens[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])
        queries.append(" ".join(draw(30)))
    return profiles, queries


def run_reference(profiles, queries, k):
    """The LaMP loop; returns (top-k indices, scores) per user, captured without extra work."""
    from rank_bm25 import BM25Okapi

    class Capturing(BM25Okapi):
        def get_scores(self, query):
            self.last_scores = super().get_scores(query)
            return self.last_scores

    tops, scores = [], []
    for corpus, query in zip(profiles, queries):
        tokenized_corpus = [x.split() for x in corpus]
        bm25 = Capturing(tokenized_corpus)
        selected = bm25.get_top_n(query.split(), corpus, n=k)
        # the same order get_top_n used (it returns documents, which may repeat)
        top = np.argsort(bm25.last_scores)[::-1][:k]
        assert [corpus[i] for i in top] == selected
        tops.append(top)
        scores.append(bm25.last_scores)
    return tops, scores


def make_queries(profiles, queries):
    """ropg's input: one RetrievalQuery per user over the raw document texts."""
    from ropg.retrievers import RetrievalQuery

    return [
        RetrievalQuery(str(user), query, corpus)
        for user, (corpus, query) in enumerate(zip(profiles, queries))
    ]


def run_fast(retriever, batch, k):
    return [ranking.indices for ranking in retriever.rank_batch(batch, top_k=k)]


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("numpy", "rank-bm25", "numba"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--top-k", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=None, help="n_threads of ropg's bm25 (default: one per core)"
    )
    parser.add_argument("--backend", default="auto", help="auto, numba or python")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    from ropg.retrievers import get_retriever

    started = time.perf_counter()
    profiles, queries = make_workload(args.users, args.seed)
    n_docs = sum(map(len, profiles))
    n_tokens = sum(len(doc.split()) for corpus in profiles for doc in corpus)
    sizes = [len(p) for p in profiles]
    data = {
        "users": args.users,
        "documents": n_docs,
        "tokens": n_tokens,
        "characters": sum(len(doc) for corpus in profiles for doc in corpus),
        "profile_median": float(np.median(sizes)),
        "profile_mean": round(float(np.mean(sizes)), 1),
        "query_words": 30,
        "top_k": args.top_k,
        "seed": args.seed,
    }
    print(f"data: {json.dumps(data)} (generated in {time.perf_counter() - started:.1f} s)")
    hardware, packages = hardware_info(), versions()  # the load average before the run
    print(f"hardware: {json.dumps(hardware)}; versions: {json.dumps(packages)}")

    options = {"backend": args.backend}
    if args.threads is not None:
        options["n_threads"] = args.threads
    retriever = get_retriever("bm25", **options)
    batch = make_queries(profiles, queries)
    started = time.perf_counter()
    run_fast(retriever, batch[:2], args.top_k)
    warmup = time.perf_counter() - started
    threads = retriever.config.n_threads
    print(f"ropg bm25 backend={retriever.backend} threads={threads}; first call {warmup:.2f} s")

    reference_times, fast_times = [], []
    for repeat in range(args.repeats):
        started = time.perf_counter()
        ref_tops, ref_scores = run_reference(profiles, queries, args.top_k)
        reference_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        fast_tops = run_fast(retriever, batch, args.top_k)
        fast_times.append(time.perf_counter() - started)
        print(
            f"repeat {repeat + 1}: reference {reference_times[-1]:.2f} s, "
            f"ropg {fast_times[-1]:.3f} s",
            flush=True,
        )

    fast_scores = retriever.score_batch(batch)
    identical = sum(np.array_equal(a, b) for a, b in zip(ref_tops, fast_tops))
    worst = 0.0
    for ref, fast in zip(ref_scores, fast_scores):
        scale = np.maximum(np.abs(ref), np.finfo(float).tiny)
        worst = max(worst, float(np.max(np.abs(fast - ref) / scale, initial=0.0)))
    reference_s = statistics.median(reference_times)
    fast_s = statistics.median(fast_times)
    results = {
        "data": data,
        "hardware": hardware,
        "versions": packages,
        "ropg": {"backend": retriever.backend, "threads": threads, "first_call_s": warmup},
        "reference_s": reference_times,
        "ropg_s": fast_times,
        "reference_median_s": reference_s,
        "ropg_median_s": fast_s,
        "speedup": reference_s / fast_s,
        "queries_per_s": {"reference": args.users / reference_s, "ropg": args.users / fast_s},
        "identical_top_k_percent": 100.0 * identical / args.users,
        "max_relative_score_difference": worst,
    }
    print(
        f"median of {args.repeats}: reference {reference_s:.2f} s "
        f"({args.users / reference_s:.0f} q/s), ropg {fast_s:.3f} s ({args.users / fast_s:.0f} q/s)"
        f" -> {reference_s / fast_s:.1f}x faster; identical top-{args.top_k}: "
        f"{results['identical_top_k_percent']:.1f}%; max relative score difference: {worst:.3g}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
