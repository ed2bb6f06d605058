"""Hugging Face checkpoints converted to CTranslate2 once, cached on disk by the source's identity.

The converted model of a source lives in ``<ropg cache root>/ct2/<key>`` (the root is
``$ROPG_CACHE_DIR`` or ``~/.cache/ropg``, where the generation cache lives), with a
``ropg_source.json`` naming what it was converted from. ``key`` hashes the source's identity
(:func:`ropg.generation.fingerprint.model_identity`: a local directory's fingerprint or a hub
commit) and the conversion format, so a retrained directory gets a new conversion, and every
run and process on the machine reuses the old one otherwise (a copied directory too). A
conversion is written into a temporary folder next to its destination and renamed into place,
so a killed conversion leaves nothing that looks finished, and two processes converting at
once both end up reading one complete copy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from ropg.generation.base import identity_json
from ropg.generation.cache import default_cache_path
from ropg.generation.errors import GenerationError

logger = logging.getLogger(__name__)

CONVERSION_FORMAT = "ctranslate2-4/ropg-1"
"""Part of every conversion key: bump it when converted models must be rebuilt."""

# vocabulary file stems of the converted model: (source side, target side)
_SEQ2SEQ_VOCABULARIES = (("shared_vocabulary", "shared_vocabulary"),
                         ("source_vocabulary", "target_vocabulary"))  # fmt: skip
_LM_VOCABULARY = "vocabulary"


def first_line(error: BaseException) -> str:
    """An exception's message on one line (library messages often span several)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def converted_models_root() -> Path:
    """``<ropg cache root>/ct2``: where converted models are kept."""
    return default_cache_path().parent / "ct2"


def conversion_key(source_identity: dict[str, Any]) -> str:
    """The sha256 naming the converted copy of a source with this identity."""
    text = identity_json({"source": source_identity, "format": CONVERSION_FORMAT})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def conversion_dir(source_identity: dict[str, Any]) -> Path:
    """The folder that holds (or will hold) the converted copy of a source: by identity only,
    so a copied or moved model directory finds its conversion."""
    return converted_models_root() / conversion_key(source_identity)[:32]


def _converter_class() -> type:
    """CTranslate2's ``TransformersConverter``, with T5's output scaling read right.

    transformers >= 5 always ties T5's embeddings and says in ``scale_decoder_outputs``
    whether the decoder output is multiplied by ``d_model ** -0.5`` (original T5: yes;
    T5 v1.1 / FLAN-T5: no); CTranslate2 (<= 4.8) decides the scaling from
    ``tie_word_embeddings`` instead, which would scale every FLAN-T5's logits by
    ``d_model ** -0.5``: greedy outputs survive (argmax), beam search and sampling do not.
    """
    from ctranslate2.converters import TransformersConverter

    class Converter(TransformersConverter):
        def load_model(self, model_class: Any, model_name_or_path: str, **kwargs: Any) -> Any:
            model = super().load_model(model_class, model_name_or_path, **kwargs)
            scale = getattr(model.config, "scale_decoder_outputs", None)
            if isinstance(scale, bool):
                model.config.tie_word_embeddings = scale  # what CTranslate2's T5 loader reads
            return model

    return Converter


def convert_once(
    ctranslate2: Any,
    model: str,
    source_identity: dict[str, Any],
    *,
    revision: str | None = None,
    trust_remote_code: bool = False,
) -> Path:
    """The converted copy of ``model`` (an HF directory or hub id), converted if not there yet.

    Raises:
        GenerationError: the converter failed (unsupported architecture, unreadable weights,
            no tokenizer in the model directory, ...) or ``destination`` exists without a model.
    """
    destination = conversion_dir(source_identity)
    if ctranslate2.contains_model(str(destination)):
        return destination
    if destination.exists():
        raise GenerationError(
            f"{destination} exists but holds no CTranslate2 model; remove it to convert again"
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    converter_class = _converter_class()
    logger.info("converting %s to CTranslate2 (once) into %s", model, destination)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".converting-") as scratch:
        staging = Path(scratch) / "model"
        try:
            converter = converter_class(
                model, revision=revision, trust_remote_code=trust_remote_code
            )
            converter.convert(str(staging))
            note = {"source": model, "identity": source_identity, "format": CONVERSION_FORMAT}
            (staging / "ropg_source.json").write_text(json.dumps(note, indent=2), encoding="utf-8")
        except Exception as error:  # the converter raises many kinds; all mean "cannot convert"
            raise GenerationError(
                f"cannot convert {model!r} to CTranslate2: {first_line(error)}"
            ) from error
        try:
            os.rename(staging, destination)
        except OSError as error:
            if not ctranslate2.contains_model(str(destination)):
                raise GenerationError(
                    f"cannot move the converted model into {destination}: {error}"
                ) from error
            logger.info("another process converted %s first; using its copy", model)
    logger.info("converted %s in %.1f s", model, time.perf_counter() - start)
    return destination


def _read_vocabulary(directory: Path, stem: str) -> list[str] | None:
    json_file, text_file = directory / f"{stem}.json", directory / f"{stem}.txt"
    if json_file.is_file():
        return list(json.loads(json_file.read_text(encoding="utf-8")))
    if text_file.is_file():
        return text_file.read_text(encoding="utf-8").split("\n")[:-1]
    return None


def model_vocabularies(directory: Path) -> tuple[list[str], list[str], bool] | None:
    """``(source tokens, target tokens, is_seq2seq)`` of a converted model, by file names;
    ``None`` when the directory has no vocabulary file a translator or generator reads."""
    for source_stem, target_stem in _SEQ2SEQ_VOCABULARIES:
        source = _read_vocabulary(directory, source_stem)
        target = _read_vocabulary(directory, target_stem)
        if source is not None and target is not None:
            return source, target, True
    tokens = _read_vocabulary(directory, _LM_VOCABULARY)
    return (tokens, tokens, False) if tokens is not None else None


def check_vocabulary(tokens: list[str], tokenizer: Any, where: Path) -> None:
    """The converted vocabulary must spell id ``i`` as the tokenizer does, for every id the
    tokenizer has: prompts go in as token strings and outputs come back as strings.

    Raises:
        GenerationError: at the first id that differs, or a tokenizer bigger than the model.
    """
    size = len(tokenizer)
    if size > len(tokens):
        raise GenerationError(
            f"the tokenizer has {size} tokens but the CTranslate2 model in {where} only "
            f"{len(tokens)}; pass the tokenizer the model was converted with"
        )
    spelled = tokenizer.convert_ids_to_tokens(list(range(size)))
    for index, (ours, theirs) in enumerate(zip(tokens, spelled, strict=False)):
        if ours != theirs:
            raise GenerationError(
                f"the CTranslate2 vocabulary in {where} spells id {index} {ours!r} but the "
                f"tokenizer spells it {theirs!r}; pass the tokenizer the model was converted with"
            )
