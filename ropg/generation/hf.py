"""Hugging Face transformers backend: seq2seq (T5, FLAN-T5, BART) and causal LMs.

The model config decides which kind it is (``config.is_encoder_decoder``). Prompts are
tokenized once, cut on the right at ``max_input_length``, sorted by length and padded per
batch (left padding for causal models, whose outputs are only the new tokens); outputs come
back in prompt order. The model loads lazily, so a fully cached run never loads it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from ropg.generation.base import (
    BaseGenerator,
    BatchCallback,
    GenerationConfig,
    deliver_batch,
    encode_targets,
    length_sorted_batches,
)
from ropg.generation.chat import ChatPrompting
from ropg.generation.errors import GenerationError
from ropg.generation.fingerprint import model_identity

logger = logging.getLogger(__name__)

DTYPES: dict[str, torch.dtype | None] = {
    "auto": None,
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
}


def _dtype_keyword() -> str:
    """``from_pretrained`` takes ``dtype`` since transformers 4.56, ``torch_dtype`` before."""
    import transformers
    from packaging.version import Version

    return "dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype"


class HFGenerator(ChatPrompting, BaseGenerator):
    """Generate (and score) with a transformers model, batched.

    Args:
        model: a hub id (``google/flan-t5-xxl``) or a local directory.
        revision: hub branch/tag/commit; for a local directory, a label that replaces the
            directory fingerprint in the identity.
        config: default decoding parameters.
        dtype: ``auto`` (the checkpoint's dtype on GPU, float32 on CPU), ``bf16``, ``fp16``
            or ``fp32``.
        device: ``cuda``/``cpu``/...; default: CUDA when available.
        device_map: passed to ``from_pretrained`` (e.g. ``"auto"`` to spread a big model
            over the visible GPUs); then ``device`` is not used to move the model.
        trust_remote_code: allow a checkpoint's own modelling code (off unless asked).
        tokenizer: a different tokenizer id or directory (default: the model's).
        chat: ``auto`` (the tokenizer's chat template when it has one), ``true`` (required) or
            ``false`` (raw prompts); see :mod:`ropg.generation.chat`.
        system_prompt: a system message sent before each prompt (needs a chat template).
        show_progress: show a tqdm bar per call.
        name: a human label (shown by ``ropg cache stats``); not part of the identity.
    """

    backend = "hf"
    runtime_options = frozenset({"device", "show_progress"})

    def __init__(
        self,
        model: str,
        *,
        revision: str | None = None,
        config: GenerationConfig | None = None,
        dtype: str = "auto",
        device: str | None = None,
        device_map: str | dict[str, Any] | None = None,
        trust_remote_code: bool = False,
        tokenizer: str | None = None,
        chat: str | bool = "auto",
        system_prompt: str | None = None,
        show_progress: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(config, show_progress=show_progress, name=name or f"hf:{model}")
        self._init_chat(chat, system_prompt)
        from transformers import AutoConfig

        if dtype not in DTYPES:
            raise GenerationError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
        self.model_name = model
        self.revision = revision
        self.trust_remote_code = trust_remote_code
        self.tokenizer_name = tokenizer
        self.device_map = device_map
        self.device = _device(device)
        try:
            self.hf_config = AutoConfig.from_pretrained(
                model, revision=revision, trust_remote_code=trust_remote_code
            )
        except (OSError, ValueError) as error:
            raise GenerationError(f"cannot load the model config of {model!r}: {error}") from error
        self.is_encoder_decoder = bool(getattr(self.hf_config, "is_encoder_decoder", False))
        self.torch_dtype = self._resolve_dtype(dtype)
        self._model: Any = None
        self._tokenizer: Any = None

    def _resolve_dtype(self, dtype: str) -> torch.dtype:
        chosen = DTYPES[dtype]
        if chosen is not None:
            return chosen
        if self.device.type == "cpu" and self.device_map is None:
            return torch.float32
        checkpoint = getattr(self.hf_config, "dtype", None) or getattr(
            self.hf_config, "torch_dtype", None
        )
        if isinstance(checkpoint, str):
            checkpoint = getattr(torch, checkpoint, None)
        return checkpoint if isinstance(checkpoint, torch.dtype) else torch.float32

    def model_identity(self) -> dict[str, Any]:
        identity = model_identity(self.model_name, self.revision, self.hf_config)
        identity["dtype"] = str(self.torch_dtype).removeprefix("torch.")
        identity["architecture"] = "seq2seq" if self.is_encoder_decoder else "causal"
        if self.tokenizer_name is not None:
            identity["tokenizer"] = model_identity(self.tokenizer_name)
        return self.chat_identity(identity)

    @property
    def tokenizer(self) -> Any:
        """The tokenizer (loaded on first use)."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            name = self.tokenizer_name or self.model_name
            revision = None if self.tokenizer_name else self.revision
            self._tokenizer = AutoTokenizer.from_pretrained(
                name, revision=revision, trust_remote_code=self.trust_remote_code
            )
        return self._tokenizer

    @property
    def model(self) -> Any:
        """The model in eval mode (loaded on first use)."""
        if self._model is None:
            from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

            auto = AutoModelForSeq2SeqLM if self.is_encoder_decoder else AutoModelForCausalLM
            options: dict[str, Any] = {_dtype_keyword(): self.torch_dtype}
            if self.device_map is not None:
                options["device_map"] = self.device_map
            logger.info("loading %s (%s, %s)", self.model_name, auto.__name__, self.torch_dtype)
            model = auto.from_pretrained(
                self.model_name,
                revision=self.revision,
                trust_remote_code=self.trust_remote_code,
                **options,
            )
            if self.device_map is None:
                model = model.to(self.device)
            self._model = model.eval()
        return self._model

    @property
    def pad_token_id(self) -> int:
        """The tokenizer's pad id, else its EOS id."""
        tokenizer = self.tokenizer
        for token_id in (tokenizer.pad_token_id, tokenizer.eos_token_id):
            if token_id is not None:
                return int(token_id)
        raise GenerationError(f"the tokenizer of {self.model_name!r} has no pad or EOS token")

    def _input_device(self) -> torch.device:
        return self.model.device if self.device_map is not None else self.device

    def _pad(self, sequences: list[list[int]], left: bool) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(ids) for ids in sequences)
        input_ids = torch.full((len(sequences), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for row, ids in enumerate(sequences):
            span = slice(width - len(ids), width) if left else slice(0, len(ids))
            input_ids[row, span] = torch.tensor(ids, dtype=torch.long)
            mask[row, span] = 1
        device = self._input_device()
        return input_ids.to(device), mask.to(device)

    def _generate_kwargs(self, config: GenerationConfig) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": config.max_new_tokens,
            "num_beams": config.num_beams,
            "do_sample": config.do_sample,
            "pad_token_id": self.pad_token_id,
            "repetition_penalty": config.repetition_penalty,
        }
        if config.do_sample:
            kwargs.update(temperature=config.temperature, top_p=config.top_p, top_k=config.top_k)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if config.num_beams > 1:
            kwargs["length_penalty"] = config.length_penalty
        if self.is_encoder_decoder:
            start = self.model.generation_config.decoder_start_token_id
            if start is None:
                start = getattr(self.hf_config, "decoder_start_token_id", None)
            kwargs["decoder_start_token_id"] = self.pad_token_id if start is None else start
        return kwargs

    def _generate(
        self, prompts: list[str], config: GenerationConfig, on_batch: BatchCallback | None
    ) -> list[str]:
        encoded = self.encode_prompts(prompts, config.max_input_length)
        if any(not ids for ids in encoded):
            raise GenerationError("a prompt tokenized to no tokens at all; give a non-empty prompt")
        kwargs = self._generate_kwargs(config)
        if config.do_sample:
            torch.manual_seed(config.seed)
        outputs = [""] * len(prompts)  # every slot is filled: the batches cover all prompts
        left = not self.is_encoder_decoder
        batches = length_sorted_batches([len(ids) for ids in encoded], config.batch_size)
        progress = tqdm(
            total=len(prompts), desc=f"generate:{self.name}", disable=not self.show_progress
        )
        with progress, torch.inference_mode():
            for batch in batches:
                input_ids, attention_mask = self._pad([encoded[i] for i in batch], left=left)
                generated = self.model.generate(
                    input_ids=input_ids, attention_mask=attention_mask, **kwargs
                )
                if left:
                    generated = generated[:, input_ids.shape[1] :]
                texts = self.tokenizer.batch_decode(generated, skip_special_tokens=True)
                deliver_batch(outputs, batch, texts, config.stop, on_batch)
                progress.update(len(batch))
        return outputs

    def score(
        self,
        prompts: Sequence[str],
        targets: Sequence[str],
        *,
        include_eos: bool = True,
        batch_size: int | None = None,
    ) -> list[float]:
        """Summed log-probability of each target's tokens given its prompt.

        Targets are tokenized without special tokens, plus EOS when ``include_eos`` (the
        probability of generating exactly the target). Seq2seq models score the target as
        decoder labels; causal models score it after the (right-truncated) prompt.
        """
        prompts, targets = list(prompts), list(targets)
        if len(prompts) != len(targets):
            raise ValueError(f"{len(prompts)} prompts but {len(targets)} targets")
        if not prompts:
            return []
        config = self.config
        prompt_ids = self.encode_prompts(prompts, config.max_input_length)
        target_ids = encode_targets(self.tokenizer, targets, include_eos, self.model_name)
        scorer = self._score_seq2seq if self.is_encoder_decoder else self._score_causal
        lengths = [len(p) + len(t) for p, t in zip(prompt_ids, target_ids, strict=True)]
        scores = [0.0] * len(prompts)
        with torch.inference_mode():
            for batch in length_sorted_batches(lengths, batch_size or config.batch_size):
                values = scorer([prompt_ids[i] for i in batch], [target_ids[i] for i in batch])
                for index, value in zip(batch, values, strict=True):
                    scores[index] = value
        return scores

    def _score_seq2seq(self, prompts: list[list[int]], targets: list[list[int]]) -> list[float]:
        input_ids, attention_mask = self._pad(prompts, left=False)
        labels, label_mask = self._pad(targets, left=False)
        labels = labels.masked_fill(label_mask == 0, -100)
        logits = self.model(
            input_ids=input_ids, attention_mask=attention_mask, labels=labels
        ).logits
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        picked = logprobs.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        return (picked * label_mask).sum(dim=-1).tolist()

    def _score_causal(self, prompts: list[list[int]], targets: list[list[int]]) -> list[float]:
        if any(not ids for ids in prompts):
            raise GenerationError(
                "a causal model cannot score a target after an empty prompt without a BOS token"
            )
        sequences = [p + t for p, t in zip(prompts, targets, strict=True)]
        input_ids, attention_mask = self._pad(sequences, left=True)
        position_ids = (attention_mask.cumsum(dim=-1) - 1).clamp(min=0)
        # Left padding puts every target at the end: only those logits are needed.
        keep = max(len(t) for t in targets) + 1
        options: dict[str, Any] = {}
        if "logits_to_keep" in inspect.signature(self.model.forward).parameters:
            options["logits_to_keep"] = keep
        logits = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            **options,
        ).logits[:, -keep:-1]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        following = input_ids[:, -keep + 1 :]
        picked = logprobs.gather(-1, following.unsqueeze(-1)).squeeze(-1)
        target_mask = torch.zeros_like(picked)
        for row, target in enumerate(targets):
            target_mask[row, picked.shape[1] - len(target) :] = 1
        return (picked * target_mask).sum(dim=-1).tolist()


def _device(device: str | None) -> torch.device:
    """The torch device of ``device`` (default: CUDA when available), checked: a CUDA device
    on a machine without one, or a name torch does not know, is a :class:`GenerationError`."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise GenerationError(f"unknown device {device!r} (e.g. cpu, cuda, cuda:1)") from None
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            raise GenerationError(f"device {device!r} requested but CUDA is not available")
        if chosen.index is not None and chosen.index >= torch.cuda.device_count():
            raise GenerationError(
                f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) here"
            )
    return chosen
