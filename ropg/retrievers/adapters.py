"""LoRA adapters (peft) for the trained encoders: train a few hundred thousand weights and
save only them.

With ``adapter: lora`` the ROPG retriever and the RSPG selector's encoder train LoRA adapters
on top of a frozen base model; ``save_pretrained`` then writes the adapter (a few hundred KB)
instead of the whole encoder, and :func:`load_adapted` (used by every loader through
:func:`ropg.retrievers.encoder.load_model_and_tokenizer`) loads the base model, applies the
adapter and merges it, so inference runs at the base model's speed. The adapter directory
records the base model's path and fingerprint (``ropg_base_model.json``), so a changed base
changes the trained model's identity (and the embeddings cached for it).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ropg.errors import UserError

logger = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"
BASE_RECORD = "ropg_base_model.json"


def apply_adapter(model: Any, config: Any) -> Any:
    """``model`` wrapped with LoRA adapters when ``config.adapter == "lora"`` (else itself);
    only the adapter weights train."""
    if getattr(config, "adapter", "none") != "lora":
        return model
    from peft import LoraConfig, get_peft_model

    options: dict[str, Any] = {
        "r": config.lora_rank,
        "lora_alpha": config.lora_alpha,
        "lora_dropout": config.lora_dropout,
    }
    if config.lora_targets:
        options["target_modules"] = list(config.lora_targets)
    try:
        adapted = get_peft_model(model, LoraConfig(**options))
    except ValueError as error:
        raise UserError(f"cannot add LoRA adapters ({error}); set lora_targets") from None
    trainable = sum(p.numel() for p in adapted.parameters() if p.requires_grad)
    total = sum(p.numel() for p in adapted.parameters())
    logger.info("LoRA: %d of %d weights train (%.2f%%)", trainable, total, 100 * trainable / total)
    return adapted


def is_adapter_dir(directory: Path) -> bool:
    return (directory / ADAPTER_CONFIG).is_file()


def record_base(model: Any, directory: Path) -> None:
    """After ``save_pretrained`` of an adapted model: the base model's path and fingerprint."""
    from ropg.utils.fingerprint import directory_fingerprint
    from ropg.utils.io import atomic_write_json

    if not is_adapter_dir(directory):
        return
    base = json.loads((directory / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    path = str(base.get("base_model_name_or_path") or "")
    fingerprint = directory_fingerprint(path) if Path(path).is_dir() else None
    atomic_write_json(directory / BASE_RECORD, {"path": path, "fingerprint": fingerprint})


def load_adapted(directory: Path, trust_remote_code: bool, options: dict[str, Any]) -> Any:
    """The base model of an adapter directory with the adapter merged into it."""
    from peft import PeftModel
    from transformers import AutoModel

    base = json.loads((directory / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    path = base.get("base_model_name_or_path")
    if not path:
        raise UserError(f"{directory / ADAPTER_CONFIG}: names no base model")
    model = AutoModel.from_pretrained(path, trust_remote_code=trust_remote_code, **options)
    return PeftModel.from_pretrained(model, str(directory)).merge_and_unload()
