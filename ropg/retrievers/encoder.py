"""Text encoders for dense retrieval: any Hugging Face encoder + pooling (+ L2 normalization).

An :class:`Encoder` wraps ``AutoTokenizer``/``AutoModel``: texts are length-sorted and batched
(minimal padding, order restored), run under ``torch.inference_mode()`` (on the GPU when there is
one), pooled by ``"mean"`` over the attention mask (Contriever) or ``"cls"``, optionally
L2-normalized, and returned as float32 vectors.

**Where pooling settings come from.** Like sentence-transformers, the pooling mode is saved with
the model. For each of ``pooling``, ``normalize`` and ``max_length`` the first of these wins:

1. the value given in :class:`EncoderConfig` (``None`` means "not given");
2. ``ropg_retriever.json`` next to the weights (the ROPG format, below);
3. a sentence-transformers layout (``1_Pooling/config.json``, a ``Normalize`` module in
   ``modules.json``, ``max_seq_length`` in ``sentence_bert_config.json``);
4. the Contriever recipe: mean pooling, no normalization, 512 tokens.

For a Hub id these files come from the local HF cache or, once, from the Hub (set
``HF_HUB_OFFLINE=1`` on a machine without network, or give all three values).

**The ``ropg_retriever.json`` format** (version 1), written by :func:`save_encoder`::

    {"pooling": "mean", "normalize": false, "max_length": 512, "similarity": "dot"}

``pooling``: ``"mean"`` or ``"cls"``; ``normalize``: boolean; ``max_length``: truncation length in
tokens (special tokens included); ``similarity``: ``"dot"`` (score = ``doc_vec @ query_vec``) or
``"cosine"`` (implies ``normalize``). Every key is optional; unknown keys are ignored, so a
checkpoint written by a later ropg still loads.

**Precision.** ``dtype="auto"``: fp32 on CPU, bf16 (else fp16) on CUDA. On CPU, ``"bf16"`` and
``"fp16"`` use autocast only if the CPU supports them natively (AVX512-BF16/AMX, AMX-FP16);
otherwise a warning is logged and fp32 is used. The effective precision is in the cache key.

**CPU speed.** Start Python with ``GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4294967296:
glibc.malloc.trim_threshold=4294967296`` (one value, no line break): 1.1-2.3x faster torch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ropg.errors import UserError
from ropg.retrievers.encoder_settings import (  # noqa: F401  (public names, re-exported)
    DTYPES,
    POOLINGS,
    RETRIEVER_CONFIG_NAME,
    SIMILARITIES,
    EncoderConfig,
    EncoderSettings,
    local_model_dir,
    model_identity,
    resolve_settings,
    save_encoder,
)

logger = logging.getLogger(__name__)


def cpu_supports(dtype: str) -> bool:
    """Whether this CPU runs ``"bf16"``/``"fp16"`` natively (detected, never assumed)."""
    import torch

    probes = {"bf16": ("_is_avx512_bf16_supported", "_is_amx_tile_supported"),
              "fp16": ("_is_amx_fp16_supported",)}[dtype]  # fmt: skip
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def resolve_device(device: str) -> str:
    """``"auto"`` becomes ``"cuda"`` when a GPU is visible, else ``"cpu"``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {device!r} requested but CUDA is not available")
    return device


def resolve_dtype(dtype: str, device: str) -> tuple[str, bool]:
    """The effective precision and whether it runs under CPU autocast."""
    import torch

    if device.startswith("cuda"):
        if dtype in ("auto", "bf16"):
            if torch.cuda.is_bf16_supported():
                return "bf16", False
            if dtype == "bf16":
                logger.warning("this GPU has no bf16 support: using fp16")
            return "fp16", False
        return dtype, False
    if dtype in ("auto", "fp32"):
        return "fp32", False
    if device == "cpu" and cpu_supports(dtype):
        return dtype, True
    logger.warning("%s requested but %s has no native support for it: using fp32", dtype, device)
    return "fp32", False


# -- shared with training (ropg.training.model): one loader, one length cap, one pooling ---------
def load_model_and_tokenizer(
    model: str, trust_remote_code: bool = False, dtype: str | None = None
) -> tuple[Any, Any]:
    """The ``AutoModel`` and ``AutoTokenizer`` of a local model directory or a Hub id.

    ``dtype``: the weights' precision, ``"fp32"``, ``"fp16"`` or ``"bf16"``; None leaves it to
    ``from_pretrained`` (training loads this way: fp32 weights, mixed precision is autocast).
    Raises UserError when the model cannot be loaded.
    """
    from transformers import AutoModel, AutoTokenizer

    options: dict[str, Any] = {}
    if dtype is not None:
        import torch

        weights = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
        options["dtype"] = weights[dtype]
    directory = local_model_dir(model)
    source = str(directory) if directory is not None else model
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
        if directory is not None and (directory / "adapter_config.json").is_file():
            from ropg.retrievers.adapters import load_adapted  # a LoRA-trained encoder

            encoder = load_adapted(directory, trust_remote_code, options)
        else:
            encoder = AutoModel.from_pretrained(
                source, trust_remote_code=trust_remote_code, **options
            )
    except (OSError, ValueError, KeyError) as error:
        where = "model directory" if directory else "Hugging Face Hub id (offline?)"
        raise UserError(f"cannot load encoder {model!r} as a {where}: {error}") from error
    return encoder, tokenizer


def effective_max_length(tokenizer: Any, max_length: int) -> int:
    """``max_length`` capped by the tokenizer's own limit when it has a real one."""
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 100_000:
        return min(max_length, limit)
    return max_length


def pool(hidden: Any, mask: Any, settings: EncoderSettings) -> Any:
    """Pooled float32 vectors of a right-padded batch: the last hidden states ``(B, T, H)``
    averaged over the attention mask ``(B, T)`` (``mean``) or at the first token (``cls``),
    then L2-normalized when the settings say so. Training and inference both pool here, so a
    checkpoint ranks with the scores it was trained with."""
    import torch

    hidden = hidden.float()
    if settings.pooling == "mean":
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
    else:
        pooled = hidden[:, 0]
    if settings.l2_normalize:
        pooled = torch.nn.functional.normalize(pooled, p=2, dim=-1)
    return pooled


# -- the encoder --------------------------------------------------------------------------------
class Encoder:
    """Encode texts with a Hugging Face encoder; the model is loaded on first use.

    Attributes:
        config: the :class:`EncoderConfig`.
        settings: the resolved :class:`EncoderSettings` (pooling, normalize, max_length).
        device, dtype: the effective device and precision (``"fp32"``, ``"fp16"``, ``"bf16"``).
        texts_encoded: how many texts went through the model (e.g. to check that a cache was
            hit).
    """

    def __init__(self, config: EncoderConfig | str, **options: Any) -> None:
        self.config = EncoderConfig(config, **options) if isinstance(config, str) else config
        local_model_dir(self.config.model)  # fail early on a bad path
        self.settings = resolve_settings(self.config)
        self.device = resolve_device(self.config.device)
        self.dtype, self._autocast = resolve_dtype(self.config.dtype, self.device)
        default_batch = 16 if self.device == "cpu" else 128
        self.batch_size = self.config.batch_size or default_batch
        self.texts_encoded = 0
        self._model: Any = None
        self._tokenizer: Any = None
        self._identity: str | None = None

    def __repr__(self) -> str:
        return (
            f"Encoder({self.config.model!r}, {self.settings}, device={self.device!r}, "
            f"dtype={self.dtype!r})"
        )

    @property
    def identity(self) -> dict[str, Any]:
        """Everything that determines a text's vector: the embedding-cache namespace."""
        if self._identity is None:
            self._identity = model_identity(self.config.model)
        return {
            "model": self._identity,
            "pooling": self.settings.pooling,
            "normalize": self.settings.l2_normalize,
            "max_length": self.settings.max_length,
            "dtype": self.dtype,
        }

    @property
    def is_loaded(self) -> bool:
        return self._model is not None

    @property
    def model(self) -> Any:
        """The ``AutoModel`` (loaded on first access)."""
        self._load()
        return self._model

    @property
    def tokenizer(self) -> Any:
        """The ``AutoTokenizer`` (loaded on first access)."""
        self._load()
        return self._tokenizer

    def _load(self) -> None:
        if self._model is not None:
            return
        model, tokenizer = load_model_and_tokenizer(
            self.config.model,
            self.config.trust_remote_code,
            dtype="fp32" if self._autocast else self.dtype,
        )
        self._tokenizer = tokenizer
        self._model = model.to(self.device).eval()
        logger.info("loaded encoder %s", self)

    @property
    def max_length(self) -> int:
        """The truncation length, capped by the tokenizer's own limit when it has a real one."""
        return effective_max_length(self.tokenizer, self.settings.max_length)

    def iter_encode(
        self,
        texts: Sequence[str],
        chunk_size: int = 4096,
        show_progress: bool = False,
        desc: str = "encode",
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Encode in chunks, longest texts first; yield ``(positions, vectors)`` per chunk.

        Texts are ordered by character length, cut into chunks of ``chunk_size`` (so a caller
        can store each chunk as soon as it is done, and memory stays bounded), and inside a
        chunk re-sorted by token length before batching, which removes nearly all padding.
        """
        from tqdm.auto import tqdm

        order = np.argsort([-len(text) for text in texts], kind="stable")
        with tqdm(total=len(texts), desc=desc, unit="text", disable=not show_progress) as bar:
            for start in range(0, len(order), chunk_size):
                positions = order[start : start + chunk_size]
                yield positions, self._encode_chunk([texts[i] for i in positions], bar)

    def _encode_chunk(self, texts: list[str], bar: Any) -> np.ndarray:
        encoded = self.tokenizer(
            texts,
            truncation=True,
            max_length=self.max_length,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        order = np.argsort([-len(ids) for ids in encoded], kind="stable")
        vectors: np.ndarray | None = None
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            pooled = self._forward([encoded[i] for i in batch])
            if vectors is None:
                vectors = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
            vectors[batch] = pooled
            bar.update(len(batch))
        assert vectors is not None
        return vectors

    def _forward(self, sequences: list[list[int]]) -> np.ndarray:
        """One padded batch through the model; pooled (and normalized) float32 vectors."""
        import torch

        pad_id = self.tokenizer.pad_token_id or 0
        width = max(len(ids) for ids in sequences)
        input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for row, ids in enumerate(sequences):  # right padding: CLS stays at position 0
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            mask[row, : len(ids)] = 1
        input_ids, mask = input_ids.to(self.device), mask.to(self.device)
        autocast = torch.autocast(
            "cpu", dtype=torch.bfloat16 if self.dtype == "bf16" else torch.float16,
            enabled=self._autocast,
        )  # fmt: skip
        with torch.inference_mode():
            with autocast:
                hidden = self.model(input_ids=input_ids, attention_mask=mask)[0]
            pooled = pool(hidden, mask, self.settings)
        self.texts_encoded += len(sequences)
        return pooled.cpu().numpy().astype(np.float32, copy=False)
