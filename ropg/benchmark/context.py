"""What every stage of a benchmark run shares: paths, loaded splits, generators, retrievers.

Layout of ``results/<run-name>/``::

    config.yaml                              the resolved config
    rankings/<task>/<split>/<method>.json    rankings (ROPG ones: ropg-kd@<llm>.json)
    feedback/<llm>/<task>/<split>.<group>.jsonl   pool / candidates feedback (resumable)
    models/<llm>/<task>/<method>/            trained ROPG encoders and RSPG selectors
    selection/<llm>/<task>/<name>.json       the retriever chosen per input
    predictions/<llm>/<task>/<method>.json   official LaMP format (ropg-eval, leaderboard)
    scores/<llm>/<task>/<method>.json        metrics and per-example values
    state/<stage>/<unit>.json                done markers (fingerprint of what decided them)
    metrics.json, table3.md, selectors.md, winning_rates/, fingerprints.json
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ropg.benchmark.artifacts import Artifacts
from ropg.benchmark.config import BenchmarkConfig, LLMEntry, RetrieverEntry
from ropg.benchmark.smoke import build_model, default_build_root, resolve_model
from ropg.errors import DataError, UserError
from ropg.lamp.data import LampSplit
from ropg.retrievers.base import BatchRetriever, Ranking, RetrievalQuery
from ropg.utils.io import atomic_write_json

logger = logging.getLogger(__name__)


def method_file(name: str) -> str:
    """A method name as a file stem."""
    return name.replace("/", "_").replace(":", "_")


@dataclass
class FixedRankings(BatchRetriever):
    """A retriever that replays stored rankings by question id (stages read, never re-rank)."""

    rankings: dict[str, Ranking]
    name: str = "fixed"
    source: str = ""

    def rank_batch(
        self, queries: list[RetrievalQuery], top_k: int | None = None, show_progress: bool = False
    ) -> list[Ranking]:
        result = []
        for query in queries:
            if query.qid not in self.rankings:
                raise DataError(self.source, "no ranking for this question", record_id=query.qid)
            result.append(self.rankings[query.qid].top(top_k))
        return result


@dataclass
class Reranker(BatchRetriever):
    """Rank only the first ``top`` items of each query's stored ranking with ``retriever``."""

    retriever: Any
    initial: FixedRankings
    top: int

    def rank_batch(
        self, queries: list[RetrievalQuery], top_k: int | None = None, show_progress: bool = False
    ) -> list[Ranking]:
        subsets, positions = [], []
        for query, first in zip(queries, self.initial.rank_batch(queries, self.top)):
            indices = np.asarray(first.indices, dtype=np.int64)
            profile = [query.profile[i] for i in indices] if query.profile else ()
            documents = [query.documents[i] for i in indices]
            subsets.append(RetrievalQuery(query.qid, query.query, documents, profile, query.input))
            positions.append(indices)
        ranked = self.retriever.rank_batch(subsets, top_k, show_progress=show_progress)
        return [
            Ranking(indices[np.asarray(r.indices, dtype=np.int64)], r.scores)
            for indices, r in zip(positions, ranked)
        ]


def write_rankings(path: Path, header: dict[str, Any], rankings: dict[str, Ranking]) -> None:
    """Rankings as JSON: the header and ``{qid: {"indices": [...], "scores": [...]}}``."""
    payload = {
        **header,
        "rankings": {
            qid: {
                "indices": [int(i) for i in ranking.indices],
                "scores": [float(s) for s in ranking.scores],
            }
            for qid, ranking in rankings.items()
        },
    }
    atomic_write_json(path, payload)


def read_rankings(path: Path) -> FixedRankings:
    """A rankings file as a :class:`FixedRankings` retriever."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rankings = {
            str(qid): Ranking(
                np.asarray(entry["indices"], dtype=np.int64),
                np.asarray(entry["scores"], dtype=np.float64),
            )
            for qid, entry in data["rankings"].items()
        }
    except FileNotFoundError:
        raise DataError(path, "rankings file not found (has the rank stage run?)") from None
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(path, f"corrupt rankings file ({error})") from None
    return FixedRankings(rankings, name=str(data.get("retriever", path.stem)), source=str(path))


@dataclass
class RunContext:
    """Shared state of one run (built once; stages ask it for what they need)."""

    config: BenchmarkConfig
    show_progress: bool = True
    artifacts: Artifacts = field(default_factory=Artifacts)
    _splits: dict[tuple[str, str], LampSplit] = field(default_factory=dict)
    _endpoints: dict[str, Any] = field(default_factory=dict)
    _retrievers: dict[str, Any] = field(default_factory=dict)
    _data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    # -- paths ------------------------------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        return self.config.run_dir

    @property
    def data_source(self) -> str:
        if self.config.data == "sample":
            from ropg.lamp.synthetic import sample_path

            return str(sample_path())
        if self.config.data.startswith("hf:"):
            return self.config.data
        return str(Path(self.config.data).expanduser())

    @property
    def cache_root(self) -> Path | None:
        """The cache directory (None: the libraries' defaults)."""
        value = self.config.cache_dir
        if value == "default":
            return None
        return self.run_dir / "cache" if value == "run" else Path(value).expanduser()

    def resolve_model(self, name: str) -> str:
        """A model alias (``minilm``, ``minilm-l2``) as a directory, built once if needed."""
        root = self.cache_root
        build_root = default_build_root() if root is None else root / "models"
        return str(resolve_model(name, build_root))

    def rankings_path(self, task: str, split: str, method: str) -> Path:
        """Where a retriever's rankings of a split are stored (see the module docstring)."""
        return self.run_dir / "rankings" / task / split / f"{method_file(method)}.json"

    def feedback_path(self, llm: str, task: str, split: str, group: str) -> Path:
        return self.run_dir / "feedback" / llm / task / f"{split}.{group}.jsonl"

    def model_dir(self, llm: str, task: str, method: str) -> Path:
        return self.run_dir / "models" / llm / task / method_file(method)

    def selection_path(self, llm: str, task: str, name: str) -> Path:
        return self.run_dir / "selection" / llm / task / f"{method_file(name)}.json"

    def predictions_path(self, llm: str, task: str, method: str) -> Path:
        return self.run_dir / "predictions" / llm / task / f"{method_file(method)}.json"

    def scores_path(self, llm: str, task: str, method: str) -> Path:
        return self.run_dir / "scores" / llm / task / f"{method_file(method)}.json"

    # -- data -------------------------------------------------------------------------------
    def splits_for(self, llm: LLMEntry | None = None) -> list[str]:
        """The eval split, and the train split when a family learns from it (for ``llm``)."""
        config = self.config
        learners = [llm] if llm is not None else config.llms
        learns = any(f.learns(config, e) for e in learners for f in config.family_list())
        splits = [self.config.eval_split]
        if learns and self.config.train_split != self.config.eval_split:
            splits.insert(0, self.config.train_split)
        return splits

    def needed_rankings(self, split: str) -> set[str]:
        """Pool retrievers whose stored rankings of ``split`` some family reads."""
        config = self.config
        return {name for f in config.family_list() for name in f.needs_rankings(config, split)}

    def needed_outputs(self, llm: LLMEntry, split: str) -> set[str]:
        """Retrievers whose k-item outputs of ``llm`` on ``split`` some family it runs reads."""
        config = self.config
        return {
            name
            for family in config.family_list()
            if family.runs(config, llm)
            for name in family.needs_outputs(config, llm, split)
        }

    def split(self, task: str, split: str) -> LampSplit:
        """A loaded split, cut to ``limit`` examples (loaded once per run)."""
        key = (task, split)
        if key not in self._splits:
            from ropg.lamp import load_split

            loaded = load_split(self.data_source, task, split, layout=self.config.layout)
            loaded = loaded.head(self.config.limit)
            if not loaded.examples:
                raise UserError(f"{task} {split}: no examples")
            self._splits[key] = loaded
        return self._splits[key]

    def data_fingerprint(self, task: str, split: str) -> dict[str, Any]:
        """Digests of a split's files (found, not loaded) and the example limit."""
        key = (task, split)
        if key not in self._data:
            from ropg.lamp import find_split_files
            from ropg.utils.fingerprint import file_digest

            source = self.data_source
            info: dict[str, Any] = {"limit": self.config.limit}
            if source.startswith("hf:"):
                info["source"] = source
            else:
                questions, outputs = find_split_files(source, task, split, self.config.layout)
                info["questions"] = file_digest(questions)
                info["outputs"] = None if outputs is None else file_digest(outputs)
            self._data[key] = info
        return self._data[key]

    def require_golds(self, split: LampSplit) -> None:
        if not split.has_golds:
            raise UserError(
                f"{split.task.name} {split.split}: no gold outputs (the test split's are "
                "withheld); evaluate on a split with golds (eval_split: dev)"
            )

    # -- retrievers -------------------------------------------------------------------------
    def retriever_options(self, entry: RetrieverEntry) -> dict[str, Any]:
        """Options with model aliases resolved and the embedding cache placed."""
        from ropg.retrievers.registry import accepts_option

        options = dict(entry.options)
        if "model" in options:
            options["model"] = self.resolve_model(options["model"])
        if accepts_option(entry.retriever, "cache_dir"):  # dense retrievers: the embedding cache
            options.setdefault("cache_dir", self.embedding_cache())
        if entry.retriever == "rrf":
            options["retrievers"] = [
                self._rrf_member(member) for member in options.get("retrievers", ("bm25",))
            ]
        return options

    def _rrf_member(self, member: Any) -> Any:
        """An RRF member: a pool name (that retriever, shared) or a registry spec."""
        if isinstance(member, str) and member in self.config.retrievers:
            return self.retriever(member)
        return member

    def embedding_cache(self) -> str:
        """The dense retrievers' ``cache_dir`` option."""
        root = self.cache_root
        return "default" if root is None else str(root / "embeddings")

    def retriever(self, name: str) -> Any:
        """The pool retriever ``name`` (built once per run)."""
        if name not in self._retrievers:
            from ropg.retrievers.pipeline import make_retriever

            entry = self.config.retrievers[name]
            self._retrievers[name] = make_retriever(entry.retriever, self.retriever_options(entry))
        return self._retrievers[name]

    def dense_retriever(self, model_dir: Path) -> Any:
        """A dense retriever over a trained encoder directory (settings saved with it; built
        once per run, so the encoder loads once for every split)."""
        key = f"dense:{model_dir}"
        if key not in self._retrievers:
            from ropg.retrievers.pipeline import make_retriever

            options = {"model": str(model_dir), "cache_dir": self.embedding_cache()}
            self._retrievers[key] = make_retriever("dense", options)
        return self._retrievers[key]

    # -- generation -------------------------------------------------------------------------
    def llm_spec(self, llm: LLMEntry) -> str:
        """The generator spec, with a ``build`` model built (once) and put in place."""
        if llm.build is None:
            return llm.spec
        directory = build_model(llm.build, self.run_dir / "models" / "llm" / llm.build)
        return llm.spec.replace("{model}", str(directory))

    def endpoint(self, llm: LLMEntry) -> Any:
        """The LLM as an :class:`~ropg.generation.endpoint.LLMEndpoint` (built once per run;
        the model itself loads only when something is not in the cache)."""
        if llm.name not in self._endpoints:
            from ropg.generation.endpoint import EndpointConfig, LLMEndpoint

            root = self.cache_root
            config = EndpointConfig(
                spec=self.llm_spec(llm),
                options=dict(llm.options),
                generation=dict(llm.generation),
                max_length=llm.max_length,
                prompt_tokenizer=(
                    self.resolve_model(llm.prompt_tokenizer) if llm.prompt_tokenizer else None
                ),
                cache=None if root is None else root / "generations.sqlite",
                label=llm.name,
                show_progress=False,  # the stage bars show the progress
            )
            self._endpoints[llm.name] = LLMEndpoint(config)
        return self._endpoints[llm.name]

    def feedback_header(self, llm: LLMEntry, split: LampSplit) -> dict[str, Any]:
        """The job header of a feedback file (as ``ropg-feedback`` writes it)."""
        from ropg.feedback.collect import feedback_header

        return feedback_header(split, self.endpoint(llm))
