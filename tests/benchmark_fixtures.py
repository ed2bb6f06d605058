"""Tiny benchmark configs for the ``test_benchmark_*`` files (imported, not a conftest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

WORDS = (
    "the a of and to in is for on with by at from this that it be are was movie film story "
    "review score product paper title abstract news article email tweet tag description which "
    "does relate following among just answer name without further explanation scale what "
    "generate headline subject paraphrase senate election ballot space galaxy orbit music "
    "guitar recipe kitchen stadium market hospital software date good great bad new old"
).split()


def save_tiny_bert(directory: Path) -> Path:
    """A random BERT (hidden 32, 2 layers) and a WordPiece tokenizer: a fast dense encoder."""
    from conftest import save_tiny_bert
    from transformers import BertTokenizer

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,'-:\"")
    vocab = specials + sorted(set(WORDS)) + chars + ["##" + c for c in chars]
    tokenizer = BertTokenizer(vocab={p: i for i, p in enumerate(vocab)}, model_max_length=64)
    return save_tiny_bert(directory, tokenizer)


def tiny_config(
    root: Path,
    name: str = "tiny",
    *,
    tasks: tuple[str, ...] = ("LaMP-2", "LaMP-3"),
    encoder: Path | None = None,
    rspg: bool = False,
    limit: int = 8,
    **extra: Any,
) -> dict[str, Any]:
    """A config that runs in seconds: the reader, lexical retrievers, optionally a tiny dense
    retriever (and then ROPG-KD/RL from it, one short epoch) and RSPG selectors on it."""
    retrievers: dict[str, Any] = {
        "none": {"label": "No pers.", "retriever": "none"},
        "bm25": {"label": "BM25", "retriever": "bm25"},
        "recency": {"label": "Recency", "retriever": "recency"},
    }
    methods = ["baselines"]
    if encoder is not None:
        retrievers["contriever"] = {
            "label": "Contriever",
            "retriever": "dense",
            "options": {"model": str(encoder), "max_length": 32, "batch_size": 64},
        }
        methods.append("ropg")
    retrievers["rrf"] = {
        "label": "RRF",
        "retriever": "rrf",
        "options": {"retrievers": ["bm25", "recency"]},
    }
    config = {
        "name": name,
        "output_root": str(root),
        "data": "sample",
        "tasks": list(tasks),
        "limit": limit,
        "k": 2,
        "candidates": 4,
        "cache_dir": "run",
        "offline": True,
        "llms": [
            {
                "name": "reader",
                "spec": "reader:profile",
                "generation": {"max_new_tokens": 32, "num_beams": 1},
                "methods": methods,
            }
        ],
        "retrievers": retrievers,
        "ropg": {
            "methods": ["rl", "kd"],
            "initial": "contriever",
            "overrides": {
                "epochs": 1,
                "max_length": 32,
                "per_device_batch_size": 4,
                "effective_batch_size": 4,
                "eval_before_training": False,
                "mixed_precision": "no",
            },
            "dev_feedback": False,
        },
        "rspg": {"modes": [], "pool": []},
    }
    if rspg and encoder is not None:
        methods.append("rspg")
        config["rspg"] = {
            "modes": ["pre", "post"],
            "pool": ["none", "bm25", "contriever", "ropg-kd"],
            "overrides": {
                "model": str(encoder),
                "epochs": 1,
                "max_length": 48,
                "per_device_batch_size": 4,
                "effective_batch_size": 4,
                "eval_before_training": False,
                "mixed_precision": "no",
            },
            "qpp": ["wig", "nqc", "sigma_max", "sigma_x"],
        }
    config.update(extra)
    return config


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path
