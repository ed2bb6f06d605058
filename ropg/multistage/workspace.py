"""Where a multistage run keeps its artifacts, and the shared plumbing of its stages.

Layout under ``work_dir`` (each ``KEY`` is a digest of the settings the artifact depends on,
so a changed setting writes a new artifact and never clobbers an old one)::

    data/KEY/{train,dev,test}.jsonl, meta.json     passage-completion examples
    rank/STRATEGY-KEY/{split}.jsonl                 ranked contexts (resumable)
    idf/KEY.json                                    the IDF table
    keywords/ctxind-KEY/{split}.jsonl               context-independent keywords
    weak/KEY/train.jsonl                            weak labels (resumable)
    summaries/ctxind-KEY/{split}.jsonl              context-independent summaries (resumable)
    models/KIND-KEY/                                fine-tuned models (resumable training)
    predictions/KIND-KEY/{split}.jsonl              their outputs (resumable)
    base-models/tiny-t5-KEY/                        the tiny T5, when built
    cache/generations.sqlite, cache/embeddings/     every generation and embedding, once
    multistage.md, multistage.json                  the table and its numbers

Resumable files are :class:`~ropg.feedback.jsonl.ResumableJsonl` (a header line naming the
job, then one record per example, appended in chunks); atomic files are written whole.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ropg.errors import UserError
from ropg.feedback.jsonl import ResumableJsonl, dumps_record, read_feedback
from ropg.multistage.config import MultistageConfig, digest
from ropg.multistage.documents import (
    SPLITS,
    PassageRules,
    PassageSplit,
    build_splits,
    read_split,
    write_split,
)
from ropg.multistage.task import PassageTask
from ropg.utils.io import atomic_write_json

logger = logging.getLogger(__name__)


def resolve_model(name: str, build_root: Path) -> str:
    """A model alias as a directory (``minilm``: the offline all-MiniLM-L6-v2; ``minilm-l2``:
    built once under ``build_root``); anything else unchanged."""
    if name in ("minilm", "minilm-l2"):
        from ropg.benchmark.smoke import resolve_model as resolve_alias

        return str(resolve_alias(name, build_root))
    return name


def source_fingerprint(source: str) -> str:
    """What identifies the data source: file names, sizes and mtimes of a local path (contents
    for small files), the spec itself for a ``datasets`` source."""
    if source.startswith("hf:") and not Path(source[3:].split(":")[0]).exists():
        return source
    path = sample_documents() if source == "sample" else Path(source)
    if not path.exists():
        raise UserError(f"data source {source!r} does not exist")
    files = sorted(p for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())
    hasher = hashlib.sha256()
    for file in files:
        stat = file.stat()
        hasher.update(f"{file.relative_to(path.parent)}:{stat.st_size}".encode())
        if stat.st_size < (1 << 22):
            hasher.update(file.read_bytes())
        else:
            hasher.update(str(stat.st_mtime_ns).encode())
    return hasher.hexdigest()


def sample_documents() -> Path:
    from ropg.multistage.synthetic import sample_path

    return sample_path() / "documents.jsonl"


def rules_of(config: MultistageConfig) -> PassageRules:
    data = config.data
    return PassageRules(
        context_chars=data.context_chars,
        context_cut=data.context_cut,
        min_document_chars=data.min_document_chars,
        min_earlier_documents=data.min_earlier_documents,
        min_examples_per_user=data.min_examples_per_user,
        max_examples_per_user=data.max_examples_per_user,
        split_fractions=tuple(data.split_fractions),
        seed=data.seed,
    )


def detect_format(source: str, requested: str) -> str:
    if requested != "auto":
        return requested
    if source == "sample" or source.endswith(".jsonl"):
        return "documents"
    if source.startswith("hf:"):
        return "longlamp"
    path = Path(source)
    if path.is_dir() and ((path / "time").is_dir() or any(path.glob("LaMP_*"))):
        return "lamp"
    if path.is_dir():
        return "longlamp"
    raise UserError(f"cannot tell the format of data source {source!r}; set data.format")


def read_splits(config: MultistageConfig, task: PassageTask) -> dict[str, PassageSplit]:
    """Build the passage-completion splits from ``config.data`` (no caching)."""
    from ropg.multistage import longlamp, sources

    data, rules = config.data, rules_of(config)
    kind = detect_format(data.source, data.format)
    if kind == "longlamp":
        return longlamp.longlamp_splits(data.source, rules, data.longlamp_subset, task)
    if kind == "documents":
        path = sample_documents() if data.source == "sample" else Path(data.source)
        documents = sources.read_documents_jsonl(path)
    elif kind == "lamp":
        documents = sources.documents_from_lamp(data.source, data.lamp_task, data.lamp_splits)
    else:
        raise UserError(f"unknown data format {kind!r}")
    return build_splits(documents, rules, task)


class Workspace:
    """The artifacts of one :class:`MultistageConfig` (module docstring)."""

    def __init__(self, config: MultistageConfig) -> None:
        self.config = config
        self.root = Path(config.work_dir)
        self.task = PassageTask(max_chars=config.rank.max_chars, separator=config.rank.separator)
        self._splits: dict[str, PassageSplit] | None = None
        self._data_key: str | None = None

    # -- caches ---------------------------------------------------------------------------------
    @property
    def cache_dir(self) -> Path:
        value = self.config.cache_dir
        if value == "default":
            root = os.environ.get("ROPG_CACHE_DIR")
            return Path(root).expanduser() if root else Path.home() / ".cache" / "ropg"
        return Path(value) if value else self.root / "cache"

    def generation_cache(self) -> Any:
        from ropg.generation import GenerationCache

        return GenerationCache(self.cache_dir / "generations.sqlite")

    def model_path(self, name: str) -> str:
        return resolve_model(name, self.cache_dir / "models")

    def encoder(self, model: str) -> Any:
        """A dense retriever over ``model`` (its ``embed`` is cached on disk)."""
        from ropg.retrievers.dense import DenseRetriever

        return DenseRetriever(self.model_path(model), cache_dir=self.cache_dir / "embeddings")

    def retriever(self, role: str) -> Any:
        """The pool retriever of a role (``lexical``/``dense``) with model aliases resolved."""
        from ropg.retrievers.pipeline import make_retriever

        spec = dict(getattr(self.config.rank, role))
        options = dict(spec.get("options") or {})
        if "model" in options:
            options["model"] = self.model_path(str(options["model"]))
        if spec["retriever"] in ("dense", "contriever"):
            options.setdefault("cache_dir", str(self.cache_dir / "embeddings"))
        return make_retriever(str(spec["retriever"]), options)

    # -- data -----------------------------------------------------------------------------------
    @property
    def data_key(self) -> str:
        if self._data_key is None:
            self._data_key = digest(
                [self.config.to_dict()["data"], source_fingerprint(self.config.data.source)]
            )
        return self._data_key

    @property
    def data_dir(self) -> Path:
        return self.root / "data" / self.data_key

    def build_data(self) -> dict[str, Any]:
        """Write the splits once; the facts (counts, users, where)."""
        meta_path = self.data_dir / "meta.json"
        if not meta_path.is_file():
            splits = read_splits(self.config, self.task)
            counts = {name: len(splits[name]) for name in SPLITS}
            meta = {
                "key": self.data_key,
                "source": self.config.data.source,
                "counts": counts,
                "users": {name: len(splits[name].users) for name in SPLITS},
            }
            for name in SPLITS:
                write_split(self.data_dir / f"{name}.jsonl", splits[name], meta)
            atomic_write_json(meta_path, meta, indent=1)
            self._splits = splits
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return {**meta, "dir": str(self.data_dir)}

    def splits(self) -> dict[str, PassageSplit]:
        if self._splits is None:
            self.build_data()
            self._splits = {
                name: read_split(self.data_dir / f"{name}.jsonl", self.task, name)
                for name in SPLITS
            }
        return self._splits

    def split(self, name: str) -> PassageSplit:
        return self.splits()[name]

    # -- models ---------------------------------------------------------------------------------
    def base_model(self, name: str) -> str:
        """A base model's directory or Hub id; ``tiny-t5`` is built over the data's words."""
        from ropg.multistage.tiny import TINY_ALIAS, TinyT5Settings, build_tiny_t5

        if name != TINY_ALIAS:
            return self.model_path(name)
        train = self.config.train
        settings = TinyT5Settings(
            d_model=train.tiny_d_model,
            d_ff=2 * train.tiny_d_model,
            num_heads=train.tiny_heads,
            num_layers=train.tiny_layers,
        )
        key = digest([self.data_key, settings.__dict__])
        texts = (
            text
            for split in self.splits().values()
            for example in split.examples
            for text in (
                example.input,
                example.gold or "",
                *(f"{i.get('title', '')} {i['text']}" for i in example.profile),
            )
        )
        return str(
            build_tiny_t5(self.root / "base-models" / f"{TINY_ALIAS}-{key}", texts, settings)
        )

    def generator_spec(self, spec: str) -> str:
        """A generator spec with ``hf:tiny-t5`` resolved to the built tiny T5."""
        from ropg.multistage.tiny import TINY_ALIAS

        if spec == f"hf:{TINY_ALIAS}":
            return f"hf:{self.base_model(TINY_ALIAS)}"
        return spec

    def fine_tune_settings(self) -> Any:
        from ropg.multistage.training import FineTuneSettings

        train = self.config.train
        return FineTuneSettings(
            lr=train.lr,
            optimizer=train.optimizer,
            scheduler=train.scheduler,
            warmup_steps=train.warmup_steps,
            epochs=train.epochs,
            max_steps=train.max_steps,
            batch_size=train.batch_size,
            gradient_accumulation=train.gradient_accumulation,
            max_source_tokens=train.max_source_tokens,
            max_target_tokens=train.max_target_tokens,
            mixed_precision=train.mixed_precision,
            seed=self.config.seed,
            save_steps=train.save_steps,
            save_total_limit=train.save_total_limit,
            logging_steps=train.logging_steps,
        )

    def fine_tuned_generation(self, max_new_tokens: int | None = None) -> Any:
        """The decoding config of the fine-tuned models (inputs cut at ``max_source_tokens``)."""
        from ropg.generation import GenerationConfig

        section = self.config.generation
        return GenerationConfig(
            max_new_tokens=max_new_tokens or section.max_new_tokens,
            num_beams=section.num_beams,
            batch_size=section.batch_size,
            repetition_penalty=section.repetition_penalty,
            max_input_length=self.config.train.max_source_tokens,
        )

    def fine_tuned_generator(self, model_dir: str | Path, generation: Any) -> Any:
        """A cached ``hf`` generator of a fine-tuned model (raw prompts: it was trained on
        them, so no chat template)."""
        from ropg.generation import CachedGenerator, get_generator

        generator = get_generator(
            f"hf:{model_dir}", config=generation, chat=False, show_progress=False
        )
        return CachedGenerator(generator, self.generation_cache())


def resumable_records(
    path: Path,
    header: Mapping[str, Any],
    ids: Sequence[str],
    compute: Callable[[list[str]], Iterable[Mapping[str, Any]]],
    chunk: int,
) -> dict[str, dict[str, Any]]:
    """Fill ``path`` with one record per id (``compute`` called on chunks of the ids not yet
    written, appending each chunk durably), then return ``{id: record}``.

    A file that already holds every id under ``header`` is read without the writer's lock, so
    rows running at once in two processes (``jobs: N``) both read what an earlier row wrote.
    """
    finished = _finished_records(path, header, ids)
    if finished is not None:
        return finished
    with ResumableJsonl(path, header) as store:  # closed: the lock is not held past the job
        done = set(store.done)
        todo = [example_id for example_id in ids if example_id not in done]
        for start in range(0, len(todo), max(chunk, 1)):
            batch = todo[start : start + chunk]
            records = list(compute(batch))
            if [str(r["id"]) for r in records] != batch:
                raise RuntimeError(f"{path}: a stage returned records out of order")
            store.append(records)
    _, records = read_feedback(path)
    return {str(record["id"]): record for record in records}


def _finished_records(
    path: Path, header: Mapping[str, Any], ids: Sequence[str]
) -> dict[str, dict[str, Any]] | None:
    """``{id: record}`` of ``path`` when it holds every id under ``header``; else None."""
    if not path.is_file():
        return None
    try:
        found, records = read_feedback(path, complete=False)
    except UserError:  # unreadable here: the writer's path says why
        return None
    if found != json.loads(dumps_record(dict(header))):
        return None
    by_id = {str(record["id"]): record for record in records}
    return by_id if all(str(example_id) in by_id for example_id in ids) else None
