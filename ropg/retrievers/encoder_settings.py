"""Encoder settings and model files: what pooling a model uses, and who it is.

:class:`EncoderSettings` (pooling, normalization, max length, similarity) are resolved per
model by :func:`resolve_settings` from, in order: the values given, ``ropg_retriever.json``
next to the weights (written by :func:`save_encoder`), a sentence-transformers layout, and the
Contriever recipe (see :mod:`ropg.retrievers.encoder` for the file format).
:func:`model_identity` names a model for the embedding cache: a Hub id, or a fingerprint
of a local directory's files.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ropg.errors import UserError

logger = logging.getLogger(__name__)

RETRIEVER_CONFIG_NAME = "ropg_retriever.json"
POOLINGS = ("mean", "cls")
SIMILARITIES = ("dot", "cosine")
DTYPES = ("auto", "fp32", "fp16", "bf16")


@dataclass(frozen=True)
class EncoderSettings:
    """How vectors are made and compared: the content of ``ropg_retriever.json``."""

    pooling: str = "mean"
    normalize: bool = False
    max_length: int = 512
    similarity: str = "dot"

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise UserError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if self.similarity not in SIMILARITIES:
            raise UserError(f"similarity must be one of {SIMILARITIES}, got {self.similarity!r}")
        if not isinstance(self.normalize, bool):
            raise UserError(f"normalize must be true or false, got {self.normalize!r}")
        if not isinstance(self.max_length, int) or self.max_length < 1:
            raise UserError(f"max_length must be a positive integer, got {self.max_length!r}")

    @property
    def l2_normalize(self) -> bool:
        """Whether vectors are L2-normalized (``normalize`` or cosine similarity)."""
        return self.normalize or self.similarity == "cosine"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EncoderConfig:
    """Which encoder to load and how to run it.

    Attributes:
        model: a Hugging Face model id or a local directory (e.g. a ROPG checkpoint).
        pooling: ``"mean"`` or ``"cls"``; None = from the model directory, else ``"mean"``.
        normalize: L2-normalize vectors; None = from the model directory, else False.
        max_length: truncation length in tokens; None = from the model directory, else 512.
        batch_size: texts per forward pass; None = 16 on CPU (bigger does not help on few
            cores once texts are length-sorted), 128 on GPU.
        dtype: ``"auto"``, ``"fp32"``, ``"fp16"`` or ``"bf16"`` (see the module docstring).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``.
        trust_remote_code: passed to ``from_pretrained``.
    """

    model: str
    pooling: str | None = None
    normalize: bool | None = None
    max_length: int | None = None
    batch_size: int | None = None
    dtype: str = "auto"
    device: str = "auto"
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        if not self.model:
            raise UserError("an encoder needs a model name or path")
        if self.dtype not in DTYPES:
            raise UserError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.pooling is not None and self.pooling not in POOLINGS:
            raise UserError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if self.batch_size is not None and self.batch_size < 1:
            raise UserError(f"batch_size must be positive, got {self.batch_size!r}")


# -- model files ----------------------------------------------------------------------------------
def local_model_dir(model: str) -> Path | None:
    """The model's directory when ``model`` is a local path; None for a Hub id.

    Raises UserError for something that is clearly meant as a path (absolute, ``./``, ``~``) but
    is not a model directory.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        if not any((path / name).is_file() for name in ("config.json", "adapter_config.json")):
            raise UserError(f"encoder path {model!r} is not a model directory (no config.json)")
        return path
    if path.exists():
        raise UserError(f"encoder path {model!r} is a file; give the model directory")
    if model.startswith(("/", "./", "../", "~", ".\\")) or os.path.isabs(model):
        raise UserError(f"encoder path {model!r} does not exist")
    return None


def model_identity(model: str) -> str:
    """A stable identity for embedding caches: ``hub:<id>`` or ``local:<fingerprint>``.

    A local directory is named by :func:`ropg.utils.fingerprint.directory_fingerprint`
    (the fingerprint generation caches use): small files by content, big weight files by name,
    size and mtime, so a retrained checkpoint gets a new identity while a copied one keeps it.
    Hub models are identified by name: pin a version by downloading it to a directory.
    """
    directory = local_model_dir(model)
    if directory is None:
        return f"hub:{model}"
    from ropg.utils.fingerprint import directory_fingerprint

    return f"local:{directory_fingerprint(directory)}"


def _read_json(model: str, filename: str) -> Any | None:
    """A JSON file of a local model directory or (when reachable) a Hub model; None if absent."""
    directory = local_model_dir(model)
    if directory is not None:
        path = directory / filename
        if not path.is_file():
            return None
    else:
        found = _hub_file(model, filename)
        if found is None:
            return None
        path = Path(found)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: unreadable JSON: {error}") from error


def _hub_file(model: str, filename: str) -> str | None:
    """A Hub model's file: from the local HF cache if known there, else fetched (if online)."""
    try:
        from huggingface_hub import try_to_load_from_cache
        from transformers.utils import cached_file

        cached = try_to_load_from_cache(model, filename)
        if isinstance(cached, str):
            return cached
        if cached is not None:  # the cache knows the file does not exist
            return None
        return cached_file(
            model,
            filename,
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
        )
    except Exception as error:  # noqa: BLE001 - a missing optional file is not an error
        logger.debug("no %s for %s: %s", filename, model, error)
        return None


def _saved_settings(model: str) -> dict[str, Any]:
    """Settings saved with a model: ``ropg_retriever.json``, else sentence-transformers files."""
    saved = _read_json(model, RETRIEVER_CONFIG_NAME)
    if saved is not None:
        if not isinstance(saved, dict):
            raise UserError(f"{model}/{RETRIEVER_CONFIG_NAME} must hold a JSON object")
        known = {key: saved[key] for key in EncoderSettings().to_dict() if key in saved}
        logger.debug("%s: settings from %s: %s", model, RETRIEVER_CONFIG_NAME, known)
        return known
    settings: dict[str, Any] = {}
    modules = _read_json(model, "modules.json")
    if not isinstance(modules, list):
        return settings
    pooling = _read_json(model, "1_Pooling/config.json") or {}
    if pooling.get("pooling_mode_cls_token"):
        settings["pooling"] = "cls"
    elif pooling.get("pooling_mode_mean_tokens"):
        settings["pooling"] = "mean"
    settings["normalize"] = any(
        str(module.get("type", "")).endswith("Normalize") for module in modules
    )
    bert_config = _read_json(model, "sentence_bert_config.json") or {}
    if isinstance(bert_config.get("max_seq_length"), int):
        settings["max_length"] = bert_config["max_seq_length"]
    logger.debug("%s: settings from the sentence-transformers files: %s", model, settings)
    return settings


def resolve_settings(config: EncoderConfig) -> EncoderSettings:
    """Explicit config values, then the model's saved settings, then the Contriever recipe."""
    explicit = {
        key: value
        for key, value in (
            ("pooling", config.pooling),
            ("normalize", config.normalize),
            ("max_length", config.max_length),
        )
        if value is not None
    }
    saved = {} if len(explicit) == 3 else _saved_settings(config.model)
    return EncoderSettings(**{**saved, **explicit})


def save_encoder(
    model: Any,
    tokenizer: Any,
    config: EncoderSettings | EncoderConfig | Mapping[str, Any],
    path: str | os.PathLike[str],
) -> Path:
    """Write weights, tokenizer and ``ropg_retriever.json`` so that ``Encoder`` loads them by path.

    ``config`` gives pooling/normalize/max_length/similarity: an :class:`EncoderSettings`, a
    mapping with those keys, or an :class:`EncoderConfig` (its unset values take the defaults).
    """
    from ropg.utils.io import atomic_write_json

    if isinstance(config, EncoderConfig):
        given = {k: getattr(config, k) for k in ("pooling", "normalize", "max_length")}
        config = {k: v for k, v in given.items() if v is not None}
    settings = config if isinstance(config, EncoderSettings) else EncoderSettings(**config)
    target = Path(path)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    atomic_write_json(target / RETRIEVER_CONFIG_NAME, settings.to_dict(), indent=2)
    return target
