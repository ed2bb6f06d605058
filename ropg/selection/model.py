"""The RSPG selector: an encoder and a linear head giving one score per (input, retriever).

For each input, every retriever of the pool contributes one text (docs/lamp-fidelity.md):

- ``pre``: the retriever's prompt, lowercased;
- ``post``: the lowercased prompt, the separator (the tokenizer's ``sep_token``, ``</s>`` for
  Longformer) and the LLM's output for that prompt: ``f"{prompt.lower()} {sep} {output}"``.

Texts are right-truncated to ``max_length`` tokens; with ``keep_output`` (default) a long Post
prompt is first cut so that the separator and the output still fit (the reference truncates
plainly, which drops the output of a long prompt). The encoder reads each text (Longformer-style
models with the global attention of ``global_attention``: ``first``, on the first token, or
``none``, as the reference; :data:`GLOBAL_ATTENTION_MASKS`), the pooled vector (``auto``: the
model's ``pooler_output`` when it has one, as the reference uses, else the first token; or
``cls`` / ``mean``) goes through ``Linear(hidden, 1)``, and the ``P`` scores of an input are
compared with a softmax. Any pool size and order: the pool's names are saved with the checkpoint
(``rspg_selector.json``), next to the encoder (``save_pretrained``), its tokenizer and the head
(``selector_head.safetensors``).
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ropg.errors import UserError
from ropg.selection.config import MODES, POOLINGS
from ropg.selection.records import PoolRecord

SELECTOR_FILE = "rspg_selector.json"
HEAD_FILE = "selector_head.safetensors"
FORMAT_VERSION = 1


def first_token_global(attention_mask: torch.Tensor) -> torch.Tensor:
    """Global attention on the first token of every text (Longformer's choice for
    classification: the pooled token attends to, and is attended by, the whole input)."""
    global_mask = torch.zeros_like(attention_mask)
    global_mask[:, 0] = 1
    return global_mask


# global_attention setting -> the encoder's global_attention_mask (None: none is passed, as in
# the reference, so Longformer uses its sliding window only)
GLOBAL_ATTENTION_MASKS: dict[str, Callable[[torch.Tensor], torch.Tensor] | None] = {
    "first": first_token_global,
    "none": None,
}


@dataclass
class SelectorSettings:
    """How texts are built and pooled; saved as ``rspg_selector.json`` with the checkpoint."""

    mode: str
    pool: list[str]
    max_length: int = 1024
    pooling: str = "auto"
    global_attention: str = "first"
    lowercase: bool = True
    separator: str | None = None
    keep_output: bool = True
    task: str = ""
    version: int = field(default=FORMAT_VERSION)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UserError(f"selector mode must be one of {MODES}, got {self.mode!r}")
        if self.pooling not in POOLINGS:
            raise UserError(f"selector pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if isinstance(self.global_attention, bool):  # selectors saved when it was a bool
            self.global_attention = "first" if self.global_attention else "none"
        if self.global_attention not in GLOBAL_ATTENTION_MASKS:
            raise UserError(
                f"selector global_attention must be one of {tuple(GLOBAL_ATTENTION_MASKS)}, "
                f"got {self.global_attention!r}"
            )
        if len(self.pool) < 2 or len(set(self.pool)) != len(self.pool):
            raise UserError(f"a selector needs 2+ distinct retrievers, got {self.pool}")

    def prompt_text(self, prompt: str) -> str:
        """The prompt part of an encoder input (lowercased with ``lowercase``)."""
        return prompt.lower() if self.lowercase else prompt

    def tail(self, output: str, separator: str) -> str:
        """What follows the prompt in an encoder input: ``f" {separator} {output}"`` for Post,
        nothing for Pre."""
        return f" {separator} {output}" if self.mode == "post" else ""


def resolve_separator(settings: SelectorSettings, tokenizer: Any) -> str:
    """The Post separator: the setting, else the tokenizer's ``sep_token``, else ``</s>``."""
    return settings.separator or getattr(tokenizer, "sep_token", None) or "</s>"


class SelectorModel(torch.nn.Module):
    """``score(text) = head(pool(encoder(text)))``; :func:`score_batch` gives ``(B, P)``."""

    def __init__(self, encoder: Any, settings: SelectorSettings) -> None:
        super().__init__()
        self.encoder = encoder
        self.settings = settings
        self.head = torch.nn.Linear(int(encoder.config.hidden_size), 1)
        parameters = inspect.signature(encoder.forward).parameters
        takes_global = "global_attention_mask" in parameters
        self._global_mask = (
            GLOBAL_ATTENTION_MASKS[settings.global_attention] if takes_global else None
        )

    def gradient_checkpointing_enable(self) -> None:
        self.encoder.gradient_checkpointing_enable()

    def _scores(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        extra = {}
        if self._global_mask is not None:
            extra["global_attention_mask"] = self._global_mask(attention_mask)
        output = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **extra)
        hidden = output[0]
        pooler = getattr(output, "pooler_output", None)
        pooling = self.settings.pooling
        if pooling == "pooler" or (pooling == "auto" and pooler is not None):
            if pooler is None:
                raise UserError("selector pooling 'pooler': this encoder has no pooler output")
            pooled = pooler
        elif pooling == "mean":
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        else:
            pooled = hidden[:, 0]
        return self.head(pooled.to(self.head.weight.dtype)).squeeze(-1).float()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        max_tokens: int | None = None,
    ) -> torch.Tensor:
        """Scores ``(N,)`` of a right-padded batch of texts, in length-packed groups
        (:func:`ropg.training.model.packed_apply`)."""
        from ropg.training.model import packed_apply

        return packed_apply(self._scores, input_ids, attention_mask, max_tokens)


def score_batch(model: Any, batch: dict[str, torch.Tensor], max_tokens: int | None) -> torch.Tensor:
    """Scores ``(B, P)`` of a :class:`SelectorCollator` batch (``model`` may be wrapped)."""
    flat = model(batch["input_ids"], batch["attention_mask"], max_tokens)
    return flat.view(batch["feedback"].shape)


def score_records(
    model: Any,
    records: Sequence[PoolRecord],
    collator: SelectorCollator,
    *,
    batch_size: int = 8,
    max_tokens: int | None = 16384,
    device: Any = "cpu",
    autocast: Callable[[], Any] | None = None,
) -> np.ndarray:
    """``(N, P)`` scores of ``records`` in pool order (eval mode, no gradient)."""
    from tqdm.auto import tqdm

    was_training = model.training
    model.eval()
    rows: list[np.ndarray] = []
    starts = range(0, len(records), batch_size)
    try:
        with torch.no_grad():
            for start in tqdm(starts, desc="rspg:score", unit="batch", disable=len(starts) < 50):
                items = list(enumerate(records[start : start + batch_size], start=start))
                batch = {key: value.to(device) for key, value in collator(items).items()}
                with autocast() if autocast is not None else nullcontext():
                    scores = score_batch(model, batch, max_tokens)
                rows.append(scores.float().cpu().numpy())
    finally:
        model.train(was_training)
    width = len(collator.settings.pool)
    return np.concatenate(rows) if rows else np.zeros((0, width))


@dataclass
class SelectorCollator:
    """Batches records: ``input_ids``/``attention_mask`` ``(B*P, T)``, ``feedback`` ``(B, P)``,
    ``mask`` ``(B, P)`` and ``positions`` ``(B,)`` (record indices).

    Texts are truncated to ``settings.max_length`` tokens.
    """

    tokenizer: Any
    settings: SelectorSettings

    def __post_init__(self) -> None:
        self.separator = resolve_separator(self.settings, self.tokenizer)

    @property
    def max_length(self) -> int:
        return self.settings.max_length

    def texts(self, record: PoolRecord) -> list[str]:
        """The encoder inputs of one record, in pool order (Post prompts fitted, see
        :meth:`fit`)."""
        settings = self.settings
        results = [record.retrievers[name] for name in settings.pool]
        prompts = [settings.prompt_text(r.prompt) for r in results]
        tails = [settings.tail(r.output, self.separator) for r in results]
        if settings.mode == "post" and settings.keep_output:
            prompts = self.fit(prompts, tails)
        return [prompt + tail for prompt, tail in zip(prompts, tails)]

    def fit(self, prompts: list[str], tails: list[str]) -> list[str]:
        """Cut each prompt after the last token that leaves room for its tail (the separator
        and the output), so that truncation never drops a Post output. Needs a fast tokenizer
        (character offsets); others keep plain right truncation."""
        tokenizer = self.tokenizer
        if not getattr(tokenizer, "is_fast", False):
            return prompts
        room = self.max_length - tokenizer.num_special_tokens_to_add()
        plain = {"add_special_tokens": False, "verbose": False}  # no "longer than" warnings
        tail_lengths = [len(ids) for ids in tokenizer(tails, **plain).input_ids]
        encoded = tokenizer(prompts, return_offsets_mapping=True, **plain)
        fitted = []
        for prompt, offsets, tail in zip(prompts, encoded["offset_mapping"], tail_lengths):
            budget = room - tail
            if len(offsets) <= budget:
                fitted.append(prompt)
            else:
                fitted.append(prompt[: offsets[budget - 1][1]] if budget > 0 else "")
        return fitted

    def __call__(self, items: Sequence[tuple[int, PoolRecord]]) -> dict[str, torch.Tensor]:
        texts = [text for _, record in items for text in self.texts(record)]
        encoded = self.tokenizer(
            texts,
            max_length=self.max_length,
            truncation=True,
            padding=True,
            return_tensors="pt",
        )
        feedback = torch.tensor(
            [[record.retrievers[n].score for n in self.settings.pool] for _, record in items],
            dtype=torch.float32,
        ).view(len(items), len(self.settings.pool))
        return {
            "input_ids": encoded["input_ids"],
            "attention_mask": encoded["attention_mask"],
            "feedback": feedback,
            "mask": torch.ones_like(feedback, dtype=torch.bool),
            "positions": torch.tensor([position for position, _ in items], dtype=torch.long),
        }


def build_selector(
    model: str, settings: SelectorSettings, trust_remote_code: bool = False
) -> tuple[SelectorModel, Any]:
    """A fresh selector (pretrained encoder, new head) and its tokenizer."""
    from ropg.training.model import load_model_and_tokenizer

    encoder, tokenizer = load_model_and_tokenizer(model, trust_remote_code)
    return SelectorModel(encoder, settings), tokenizer


def save_selector(model: SelectorModel, tokenizer: Any, path: str | os.PathLike[str]) -> Path:
    """Write encoder, tokenizer, head and settings into ``path`` (settings file last)."""
    from safetensors.torch import save_file

    from ropg.utils.io import atomic_write_json

    target = Path(path)
    target.mkdir(parents=True, exist_ok=True)
    model.encoder.save_pretrained(target)
    tokenizer.save_pretrained(target)
    head = {
        name: tensor.detach().cpu().contiguous() for name, tensor in model.head.state_dict().items()
    }
    save_file(head, str(target / HEAD_FILE))
    atomic_write_json(target / SELECTOR_FILE, asdict(model.settings), indent=2)
    return target


def read_settings(path: str | os.PathLike[str]) -> SelectorSettings:
    """The settings of a saved selector (UserError when ``path`` is not one)."""
    file = Path(path) / SELECTOR_FILE
    try:
        values = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: not an RSPG selector (no {SELECTOR_FILE})") from None
    except (OSError, ValueError) as error:
        raise UserError(f"{file}: unreadable ({error})") from None
    if not isinstance(values, dict) or values.get("version") != FORMAT_VERSION:
        raise UserError(f"{file}: unsupported selector format")
    try:
        return SelectorSettings(**values)
    except TypeError as error:
        raise UserError(f"{file}: bad settings ({error})") from None


def load_selector_model(
    path: str | os.PathLike[str], trust_remote_code: bool = False
) -> tuple[SelectorModel, Any]:
    """A saved selector (eval mode) and its tokenizer."""
    from safetensors.torch import load_file

    settings = read_settings(path)
    model, tokenizer = build_selector(str(path), settings, trust_remote_code)
    model.head.load_state_dict(load_file(str(Path(path) / HEAD_FILE)))
    return model.eval(), tokenizer
