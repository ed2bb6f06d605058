"""vLLM offline backend: the ``LLM`` engine with continuous batching, for generation at scale.

Needs the optional extra: ``pip install ropg[vllm]``. Prompts are tokenized and cut on the
right at ``max_input_length`` here (like the hf backend), then passed as token ids. Beam
search goes through ``LLM.beam_search`` (vLLM >= 0.6.3), greedy and sampling through
``SamplingParams``. Prompts are sent in chunks of ``chunk_size`` so a killed run keeps
everything finished before the chunk in flight.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from typing import Any

from ropg.generation.base import (
    BaseGenerator,
    BatchCallback,
    GenerationConfig,
    apply_stop,
    encode_targets,
)
from ropg.generation.chat import ChatPrompting
from ropg.generation.errors import BackendUnavailableError, GenerationError
from ropg.generation.fingerprint import model_identity

logger = logging.getLogger(__name__)

INSTALL_HINT = "the vllm backend needs vLLM: pip install 'ropg[vllm]' (a CUDA machine)"


def import_vllm() -> Any:
    """The ``vllm`` module, or a :class:`BackendUnavailableError` that names the extra."""
    try:
        return importlib.import_module("vllm")
    except ImportError as error:
        raise BackendUnavailableError(f"{INSTALL_HINT} ({error})") from error


class VLLMGenerator(ChatPrompting, BaseGenerator):
    """Generate (and score causal-LM likelihoods) with vLLM's offline engine.

    Args:
        model: a hub id or a local directory.
        revision: hub revision; for a local directory, a label replacing its fingerprint.
        config: default decoding parameters.
        dtype: ``auto``, ``bfloat16``, ``float16`` or ``float32`` (passed to vLLM).
        tensor_parallel_size, gpu_memory_utilization, max_model_len, quantization: vLLM
            engine options; ``quantization`` is part of the identity.
        trust_remote_code: allow a checkpoint's own code (off unless asked).
        chunk_size: prompts per ``LLM.generate`` call (progress is persisted per chunk).
        chat, system_prompt: chat template use, as for ``hf`` (:mod:`ropg.generation.chat`).
        engine_options: more keyword arguments for ``vllm.LLM``.
    """

    backend = "vllm"

    def __init__(
        self,
        model: str,
        *,
        revision: str | None = None,
        config: GenerationConfig | None = None,
        dtype: str = "auto",
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        quantization: str | None = None,
        trust_remote_code: bool = False,
        chunk_size: int = 1024,
        chat: str | bool = "auto",
        system_prompt: str | None = None,
        show_progress: bool = True,
        name: str | None = None,
        **engine_options: Any,
    ) -> None:
        super().__init__(config, show_progress=show_progress, name=name or f"vllm:{model}")
        self._vllm = import_vllm()
        self._init_chat(chat, system_prompt)
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.model_name = model
        self.revision = revision
        self.dtype = dtype
        self.quantization = quantization
        self.trust_remote_code = trust_remote_code
        self.chunk_size = chunk_size
        self._engine_options = {
            "tensor_parallel_size": tensor_parallel_size,
            "gpu_memory_utilization": gpu_memory_utilization,
            "max_model_len": max_model_len,
            **engine_options,
        }
        self._llm: Any = None
        self._tokenizer: Any = None

    def model_identity(self) -> dict[str, Any]:
        from transformers import AutoConfig

        hf_config = None
        try:
            hf_config = AutoConfig.from_pretrained(
                self.model_name, revision=self.revision, trust_remote_code=self.trust_remote_code
            )
        except (OSError, ValueError) as error:
            logger.warning("cannot read the config of %s: %s", self.model_name, error)
        identity = model_identity(self.model_name, self.revision, hf_config)
        identity["dtype"] = self.dtype
        if self.quantization is not None:
            identity["quantization"] = self.quantization
        return self.chat_identity(identity)

    @property
    def llm(self) -> Any:
        """The ``vllm.LLM`` engine (started on first use)."""
        if self._llm is None:
            options = {k: v for k, v in self._engine_options.items() if v is not None}
            self._llm = self._vllm.LLM(
                model=self.model_name,
                revision=self.revision,
                dtype=self.dtype,
                quantization=self.quantization,
                trust_remote_code=self.trust_remote_code,
                **options,
            )
        return self._llm

    @property
    def tokenizer(self) -> Any:
        """The model's Hugging Face tokenizer (what vLLM loads), without starting the engine:
        prompt budgets (``ropg-feedback``, ``run_all``) need it before any generation."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(
                self.model_name, revision=self.revision, trust_remote_code=self.trust_remote_code
            )
        return self._tokenizer

    def _sampling_params(self, config: GenerationConfig) -> Any:
        options: dict[str, Any] = {
            "n": 1,
            "max_tokens": config.max_new_tokens,
            "repetition_penalty": config.repetition_penalty,
            "stop": list(config.stop) or None,
        }
        if config.do_sample:
            options.update(
                temperature=config.temperature,
                top_p=config.top_p,
                top_k=config.top_k if config.top_k > 0 else -1,
                seed=config.seed,
            )
        else:
            options["temperature"] = 0.0
        return self._vllm.SamplingParams(**options)

    def _generate_chunk(self, token_ids: list[list[int]], config: GenerationConfig) -> list[str]:
        prompts = [{"prompt_token_ids": ids} for ids in token_ids]
        if config.num_beams == 1:
            results = self.llm.generate(
                prompts, self._sampling_params(config), use_tqdm=self.show_progress
            )
            return [result.outputs[0].text for result in results]
        if config.do_sample:
            raise GenerationError("the vllm backend cannot combine beam search with sampling")
        if not hasattr(self.llm, "beam_search"):
            raise GenerationError("this vLLM has no LLM.beam_search; upgrade to vllm>=0.6.3")
        from vllm.sampling_params import BeamSearchParams

        params = BeamSearchParams(
            beam_width=config.num_beams,
            max_tokens=config.max_new_tokens,
            length_penalty=config.length_penalty,
        )
        tokenizer = self.tokenizer
        results = self.llm.beam_search(prompts, params)
        # A beam's tokens include the prompt; decode only what was generated.
        return [
            tokenizer.decode(result.sequences[0].tokens[len(ids) :], skip_special_tokens=True)
            for ids, result in zip(token_ids, results, strict=True)
        ]

    def _generate(
        self, prompts: list[str], config: GenerationConfig, on_batch: BatchCallback | None
    ) -> list[str]:
        token_ids = self.encode_prompts(prompts, config.max_input_length)
        outputs: list[str] = []
        for start in range(0, len(prompts), self.chunk_size):
            texts = self._generate_chunk(token_ids[start : start + self.chunk_size], config)
            texts = [apply_stop(text, config.stop) for text in texts]
            outputs.extend(texts)
            if on_batch is not None:
                on_batch(list(range(start, start + len(texts))), texts)
        return outputs

    def score(
        self, prompts: Sequence[str], targets: Sequence[str], *, include_eos: bool = True
    ) -> list[float]:
        """Summed log-probability of each target after its prompt (causal models), read
        from vLLM's prompt log-probabilities."""
        prompts, targets = list(prompts), list(targets)
        if len(prompts) != len(targets):
            raise ValueError(f"{len(prompts)} prompts but {len(targets)} targets")
        prompt_ids = self.encode_prompts(prompts, self.config.max_input_length)
        target_ids = encode_targets(self.tokenizer, targets, include_eos, self.model_name)
        sequences = [p + t for p, t in zip(prompt_ids, target_ids, strict=True)]
        params = self._vllm.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=1)
        results = self.llm.generate(
            [{"prompt_token_ids": ids} for ids in sequences], params, use_tqdm=self.show_progress
        )
        scores = []
        for prompt, sequence, result in zip(prompt_ids, sequences, results, strict=True):
            if not prompt:
                raise GenerationError("cannot score a target after an empty prompt")
            logprobs = result.prompt_logprobs
            scores.append(
                sum(logprobs[j][sequence[j]].logprob for j in range(len(prompt), len(sequence)))
            )
        return scores
