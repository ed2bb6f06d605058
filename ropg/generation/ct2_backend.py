"""CTranslate2 backend: FlanT5-style encoder-decoders (and causal LMs) on CTranslate2's engine.

Needs the optional extra: ``pip install 'ropg[ct2]'``. ``ct2:google/flan-t5-xxl`` or
``ct2:/path/to/hf-model`` converts the Hugging Face checkpoint once (see
:mod:`ropg.generation.ct2_convert`: cached under the ropg cache root, keyed by the source's
identity) and runs it with ``ctranslate2.Translator`` (encoder-decoders: T5, FLAN-T5, BART) or
``ctranslate2.Generator`` (causal LMs); ``ct2:/path/to/converted-model`` uses an
already-converted directory. (The conversion also corrects CTranslate2's T5 loader, which
under transformers 5 would rescale every FLAN-T5's logits by ``d_model ** -0.5``: see
:func:`ropg.generation.ct2_convert._converter_class`.)

Prompts are budgeted exactly as the ``hf`` backend does
(:func:`~ropg.generation.base.encode_prompts` with the same Hugging Face tokenizer: special
tokens included, cut on the right at ``max_input_length``; CTranslate2's own input limit is
off), passed as token strings, and the outputs are decoded by that tokenizer (special tokens
skipped, then ``stop``).

Decoding maps to HF ``generate``: ``num_beams`` -> ``beam_size``, ``max_new_tokens`` ->
``max_decoding_length`` (``max_length`` for causal LMs, new tokens only), no minimum length, the
length penalty divides a finished hypothesis's log-probability by its length **counting EOS**
(as HF does: CTranslate2 counts EOS only with ``return_end_token=True``, so it is asked for and
decoding drops it), 2 x beam candidates per step of which only the top ``beam`` may finish.
Greedy search, and beam search with ``length_penalty=0``, give HF's outputs (up to float
rounding: fp32 agrees on every prompt of the tests). Remaining differences from HF:

* **Stopping of beam search.** CTranslate2 stops a prompt's search once ``num_beams``
  hypotheses have finished, which is HF's ``early_stopping=True``. HF's default
  (``early_stopping=False``) keeps searching while the best running beam, normalised at its
  current length, still beats the worst finished one, and now and then finds a better-scored
  longer hypothesis (2% of the prompts of a tiny random T5 with ``length_penalty=1``; none with
  ``length_penalty=0``, where the first finished top beam is provably the best).
* **Repetition penalty.** Both penalise tokens already generated with HF's formula, but HF's
  beam search applies it to log-probabilities (after the softmax) and also to the decoder
  start token; CTranslate2 applies it to logits, and for causal LMs only to the prompt tokens
  not forwarded at once. Outputs differ when ``repetition_penalty != 1``.
* **Sampling** follows the same distribution (temperature, top-k, top-p) from another random
  stream, so sampled outputs differ from HF's (and depend on batching, as HF's do). The seed
  is applied per call as for ``hf`` (a sampling call after another reloads the model, see
  :meth:`CT2Generator._seed_sampling`); with ``inter_threads > 1`` batches may land on
  different worker threads, so seeded outputs are reproducible with ``inter_threads=1`` only.
* ``compute_type`` other than float32 (int8, bfloat16, ...) changes the numbers and can change
  outputs; it is part of the identity. The device is not (as for ``hf``).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from tqdm.auto import tqdm

from ropg.generation.base import (
    BaseGenerator,
    BatchCallback,
    GenerationConfig,
    deliver_batch,
    encode_prompts,
    encode_targets,
    length_sorted_batches,
)
from ropg.generation.ct2_convert import (
    check_vocabulary,
    convert_once,
    first_line,
    model_vocabularies,
)
from ropg.generation.errors import BackendUnavailableError, GenerationError
from ropg.generation.fingerprint import directory_fingerprint, model_identity

logger = logging.getLogger(__name__)

INSTALL_HINT = "the ct2 backend needs CTranslate2: pip install 'ropg[ct2]'"
COMPUTE_TYPES = ("default", "float32", "float16", "bfloat16", "int8", "int8_float32",
                 "int8_float16", "int8_bfloat16", "int16")  # fmt: skip
DEVICES = ("cpu", "cuda", "auto")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "spiece.model")


# OpenMP reads these when its runtime loads (a value the user set wins): threads that sleep at
# once instead of spinning between parallel regions. On a CPU that other work shares, spinning
# threads take the cores from the working ones (measured on 2 shared cores: generation 3x
# slower in CPU time, more in wall time); on an idle CPU it changes little.
OPENMP_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}


def import_ctranslate2() -> Any:
    """The ``ctranslate2`` module, or a :class:`BackendUnavailableError` that names the extra.

    The first import loads CTranslate2's bundled OpenMP runtime under :data:`OPENMP_DEFAULTS`
    (set around the import and removed after, so child processes keep the user's
    environment). It only takes effect when torch is not loaded yet: torch's OpenMP runtime,
    loaded first, also serves CTranslate2, and it read the environment when it loaded. Set
    ``OMP_WAIT_POLICY=PASSIVE`` before the process starts for both (torch gains as much).
    """
    loaded = "ctranslate2" in sys.modules
    added = [] if loaded else [name for name in OPENMP_DEFAULTS if name not in os.environ]
    if added and "torch" in sys.modules:
        logger.info(
            "torch was loaded before CTranslate2, so its OpenMP settings apply to both; "
            "on a shared CPU start the process with OMP_WAIT_POLICY=PASSIVE"
        )
    os.environ.update({name: OPENMP_DEFAULTS[name] for name in added})
    try:
        return importlib.import_module("ctranslate2")
    except ImportError as error:
        raise BackendUnavailableError(f"{INSTALL_HINT} ({error})") from error
    finally:
        for name in added:
            os.environ.pop(name, None)


def _looks_like_path(model: str) -> bool:
    """A hub id is ``name`` or ``org/name``; anything else is meant as a directory."""
    return (
        Path(model).is_absolute() or model.startswith((".", "~")) or model.count("/") > 1
    ) or Path(model).exists()


class CT2Generator(BaseGenerator):
    """Generate (and score) with CTranslate2, batched.

    Args:
        model: a hub id, a Hugging Face model directory (converted once and cached), or an
            already-converted CTranslate2 directory.
        revision: hub revision; for a local directory, a label that replaces its fingerprint.
        config: default decoding parameters.
        compute_type: CTranslate2's compute type (``default``: the checkpoint's dtype, float32
            where the device lacks it; ``float32``, ``int8``, ``int8_float16``, ``bfloat16``,
            ...); part of the identity.
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (CUDA when CTranslate2 sees a GPU).
        inter_threads, intra_threads: CTranslate2's parallel batches and threads per batch
            (0: its default); speed only.
        tokenizer: a Hugging Face tokenizer id or directory (default: the model's; needed for
            a converted directory that holds none).
        trust_remote_code: allow a checkpoint's own code when converting (off unless asked).
        show_progress: show a tqdm bar per call.
        name: a human label (shown by ``ropg cache stats``); not part of the identity.
    """

    backend = "ct2"
    runtime_options: ClassVar[frozenset[str]] = frozenset({"device", "show_progress"})

    def __init__(
        self,
        model: str,
        *,
        revision: str | None = None,
        config: GenerationConfig | None = None,
        compute_type: str = "default",
        device: str = "auto",
        inter_threads: int = 1,
        intra_threads: int = 0,
        tokenizer: str | None = None,
        trust_remote_code: bool = False,
        show_progress: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(config, show_progress=show_progress, name=name or f"ct2:{model}")
        self._ct2 = import_ctranslate2()
        if compute_type not in COMPUTE_TYPES:
            raise GenerationError(
                f"unknown compute_type {compute_type!r}; choose one of {', '.join(COMPUTE_TYPES)}"
            )
        kind, _, index = device.partition(":")
        if kind not in DEVICES or (index and not (kind == "cuda" and index.isdigit())):
            raise GenerationError(
                f"unknown device {device!r}; choose one of {', '.join(DEVICES)} or cuda:N"
            )
        if inter_threads < 1 or intra_threads < 0:
            raise GenerationError("inter_threads must be >= 1 and intra_threads >= 0")
        self.model_name = model
        self.revision = revision
        self.compute_type = compute_type
        self.device, self.device_index = kind, int(index or 0)
        self.inter_threads = inter_threads
        self.intra_threads = intra_threads
        self.tokenizer_name = tokenizer
        self.trust_remote_code = trust_remote_code
        self.hf_config: Any = None
        self.is_converted = Path(model).is_dir() and self._ct2.contains_model(model)
        if self.is_converted:
            vocabularies = model_vocabularies(Path(model))
            if vocabularies is None:
                raise GenerationError(f"{model} holds no vocabulary a CTranslate2 model reads")
            self.is_encoder_decoder = vocabularies[2]
        else:
            self._read_hf_config()
        self._model_dir: Path | None = Path(model) if self.is_converted else None
        self._engine: Any = None
        self._engine_sampled = False  # whether the engine's threads have drawn random numbers
        self._tokenizer: Any = None
        self._vocabularies: tuple[list[str], list[str], dict[str, int]] | None = None

    def _read_hf_config(self) -> None:
        from transformers import AutoConfig

        if _looks_like_path(self.model_name) and not Path(self.model_name).is_dir():
            raise GenerationError(f"no model directory at {self.model_name}")
        try:
            self.hf_config = AutoConfig.from_pretrained(
                self.model_name, revision=self.revision, trust_remote_code=self.trust_remote_code
            )
        except (OSError, ValueError) as error:
            raise GenerationError(
                f"cannot load the model config of {self.model_name!r}: {first_line(error)}"
            ) from error
        self.is_encoder_decoder = bool(getattr(self.hf_config, "is_encoder_decoder", False))

    # -- identity -------------------------------------------------------------------------------
    def _source_identity(self) -> dict[str, Any]:
        if not self.is_converted:
            return model_identity(self.model_name, self.revision, self.hf_config)
        if self.revision is not None:
            return {"model": "local", "revision": self.revision, "format": "ctranslate2"}
        fingerprint = directory_fingerprint(self.model_name)
        return {"model": "local", "fingerprint": fingerprint, "format": "ctranslate2"}

    def resolved_compute_type(self) -> str:
        """``compute_type``, with ``default`` resolved where the weights' dtype is known
        (an HF checkpoint's config) and the device runs it, else float32."""
        if self.compute_type != "default" or self.hf_config is None:
            return self.compute_type
        config = self.hf_config
        dtype = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
        dtype = str(dtype or "float32").removeprefix("torch.")
        device = self.device
        if device == "auto":
            device = "cuda" if self._ct2.get_cuda_device_count() > 0 else "cpu"
        try:
            supported = self._ct2.get_supported_compute_types(device, self.device_index)
        except (RuntimeError, ValueError):
            supported = {"float32"}
        return dtype if dtype in supported else "float32"

    def model_identity(self) -> dict[str, Any]:
        identity = self._source_identity()
        identity["compute_type"] = self.resolved_compute_type()
        identity["architecture"] = "seq2seq" if self.is_encoder_decoder else "causal"
        if self.tokenizer_name is not None:
            identity["tokenizer"] = model_identity(self.tokenizer_name)
        return identity

    # -- lazy resources -------------------------------------------------------------------------
    @property
    def model_dir(self) -> Path:
        """The converted model's directory (converted on first use, then reused)."""
        if self._model_dir is None:
            revision = None  # a local directory is read as it is
            if not Path(self.model_name).is_dir():  # a hub id: convert the commit of the identity
                revision = self.revision or getattr(self.hf_config, "_commit_hash", None)
            self._model_dir = convert_once(
                self._ct2,
                self.model_name,
                self._source_identity(),
                revision=revision,
                trust_remote_code=self.trust_remote_code,
            )
        return self._model_dir

    @property
    def tokenizer(self) -> Any:
        """The Hugging Face tokenizer that budgets prompts and decodes outputs (no model load:
        prompt budgets need it before any generation)."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            name, revision = self.tokenizer_name, None
            if name is None:
                if self.is_converted and not any(
                    (Path(self.model_name) / file).is_file() for file in _TOKENIZER_FILES
                ):
                    raise GenerationError(
                        f"the CTranslate2 model in {self.model_name} has no tokenizer files; "
                        "pass tokenizer=<the Hugging Face tokenizer it was converted with>"
                    )
                name, revision = self.model_name, self.revision
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(
                    name, revision=revision, trust_remote_code=self.trust_remote_code
                )
            except (OSError, ValueError) as error:
                raise GenerationError(
                    f"cannot load the tokenizer {name!r}: {first_line(error)}"
                ) from error
        return self._tokenizer

    @property
    def engine(self) -> Any:
        """The ``ctranslate2.Translator`` (or ``Generator``), loaded on first use."""
        if self._engine is None:
            if self.device == "cuda":  # checked here: a fully cached run never loads the engine
                count = self._ct2.get_cuda_device_count()
                if self.device_index >= count:
                    raise GenerationError(
                        f"device cuda:{self.device_index}: CTranslate2 sees {count} CUDA "
                        "device(s) here; use device=cpu or device=auto"
                    )
            directory = self.model_dir
            kind = self._ct2.Translator if self.is_encoder_decoder else self._ct2.Generator
            try:
                self._engine = kind(
                    str(directory),
                    device=self.device,
                    device_index=self.device_index,
                    compute_type=self.compute_type,
                    inter_threads=self.inter_threads,
                    intra_threads=self.intra_threads,
                )
            except (RuntimeError, ValueError, OSError) as error:
                raise GenerationError(
                    f"cannot load the CTranslate2 model in {directory}: {first_line(error)}"
                ) from error
            self._engine_sampled = False
            wanted, actual = self.resolved_compute_type(), self._engine.compute_type
            if wanted not in ("default", actual) and not actual.startswith(f"{wanted}_"):
                logger.warning("CTranslate2 computes %s in %s, not %s as the identity says",
                               self.model_name, actual, wanted)  # fmt: skip
        return self._engine

    def _vocabulary(self) -> tuple[list[str], list[str], dict[str, int]]:
        """(source tokens by id, target tokens by id, target token -> id), checked against
        the tokenizer (CTranslate2 takes and returns token strings, ropg keeps HF ids)."""
        if self._vocabularies is None:
            found = model_vocabularies(self.model_dir)
            if found is None:
                raise GenerationError(f"{self.model_dir} holds no CTranslate2 vocabulary")
            source, target, _ = found
            check_vocabulary(source, self.tokenizer, self.model_dir)
            if target != source:
                check_vocabulary(target, self.tokenizer, self.model_dir)
            index: dict[str, int] = {}
            for token_id, token in enumerate(target):
                index.setdefault(token, token_id)
            self._vocabularies = (source, target, index)
        return self._vocabularies

    def _tokens(self, ids: list[int], side: int = 0) -> list[str]:
        """Token strings of HF ids in the source (``side=0``) or target (1) vocabulary."""
        tokens = self._vocabulary()[side]
        return [tokens[token_id] for token_id in ids]

    # -- generation -----------------------------------------------------------------------------
    def _decoding_options(self, config: GenerationConfig) -> dict[str, Any]:
        options: dict[str, Any] = {
            "beam_size": config.num_beams,
            "patience": 1.0,
            "num_hypotheses": 1,
            "length_penalty": config.length_penalty if config.num_beams > 1 else 1.0,
            "repetition_penalty": config.repetition_penalty,
            "return_end_token": True,  # the length penalty counts EOS, as HF's does
            "return_scores": False,
        }
        if config.do_sample:
            options.update(sampling_topk=config.top_k, sampling_topp=config.top_p,
                           sampling_temperature=config.temperature)  # fmt: skip
        else:
            options["sampling_topk"] = 1
        if self.is_encoder_decoder:
            options.update(max_input_length=0, max_decoding_length=config.max_new_tokens,
                           min_decoding_length=0)  # fmt: skip
        else:
            options.update(max_length=config.max_new_tokens, min_length=0,
                           include_prompt_in_result=False)  # fmt: skip
        return options

    def _run_batch(self, token_ids: list[list[int]], options: dict[str, Any]) -> list[list[int]]:
        tokens = [self._tokens(ids) for ids in token_ids]
        try:
            if self.is_encoder_decoder:
                results = self.engine.translate_batch(tokens, **options)
                index = self._vocabulary()[2]
                return [[index[token] for token in result.hypotheses[0]] for result in results]
            results = self.engine.generate_batch(tokens, **options)
        except (RuntimeError, ValueError) as error:
            raise GenerationError(f"CTranslate2 failed: {first_line(error)}") from error
        return [list(result.sequences_ids[0]) for result in results]

    def _seed_sampling(self, seed: int) -> None:
        """Make this call's samples depend on ``seed`` alone (and the prompts and batches).

        CTranslate2 seeds a worker thread's random generator once, when the thread first
        samples, from the global seed; later calls continue that stream. So a call that
        samples after another one gets a fresh engine (the model loads again).
        """
        if self._engine_sampled:
            self._engine = None  # release the old engine before loading the new one
        self._ct2.set_random_seed(seed)
        _ = self.engine  # its threads seed from the global seed when they first sample
        self._engine_sampled = True

    def _generate(
        self, prompts: list[str], config: GenerationConfig, on_batch: BatchCallback | None
    ) -> list[str]:
        encoded = encode_prompts(self.tokenizer, prompts, config.max_input_length)
        if any(not ids for ids in encoded):
            raise GenerationError("a prompt tokenized to no tokens at all; give a non-empty prompt")
        options = self._decoding_options(config)
        if config.do_sample:
            self._seed_sampling(config.seed)
        outputs = [""] * len(prompts)  # every slot is filled: the batches cover all prompts
        batches = length_sorted_batches([len(ids) for ids in encoded], config.batch_size)
        progress = tqdm(
            total=len(prompts), desc=f"generate:{self.name}", disable=not self.show_progress
        )
        with progress:
            for batch in batches:
                generated = self._run_batch([encoded[i] for i in batch], options)
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
        """Summed log-probability of each target's tokens given its prompt, as the ``hf``
        backend computes it (targets without special tokens, plus EOS when ``include_eos``)."""
        prompts, targets = list(prompts), list(targets)
        if len(prompts) != len(targets):
            raise ValueError(f"{len(prompts)} prompts but {len(targets)} targets")
        if not prompts:
            return []
        prompt_ids = encode_prompts(self.tokenizer, prompts, self.config.max_input_length)
        target_ids = encode_targets(self.tokenizer, targets, include_eos, self.model_name)
        if not self.is_encoder_decoder and any(not ids for ids in prompt_ids):
            raise GenerationError("a causal model cannot score a target after an empty prompt")
        lengths = [len(p) + len(t) for p, t in zip(prompt_ids, target_ids, strict=True)]
        scores = [0.0] * len(prompts)
        for batch in length_sorted_batches(lengths, batch_size or self.config.batch_size):
            values = self._score_batch([prompt_ids[i] for i in batch],
                                       [target_ids[i] for i in batch], include_eos)  # fmt: skip
            for index, value in zip(batch, values, strict=True):
                scores[index] = value
        return scores

    def _score_batch(
        self, prompts: list[list[int]], targets: list[list[int]], include_eos: bool
    ) -> list[float]:
        try:
            if self.is_encoder_decoder:
                # CTranslate2 appends EOS to each target itself and scores it last.
                bare = [ids[:-1] if include_eos else ids for ids in targets]
                results = self.engine.score_batch(
                    [self._tokens(p) for p in prompts],
                    [self._tokens(t, side=1) for t in bare],
                    max_input_length=0,
                )
                return [float(sum(r.log_probs if include_eos else r.log_probs[:-1]))
                        for r in results]  # fmt: skip
            sequences = [p + t for p, t in zip(prompts, targets, strict=True)]
            results = self.engine.score_batch([self._tokens(s) for s in sequences])
        except (RuntimeError, ValueError) as error:
            raise GenerationError(f"CTranslate2 failed: {first_line(error)}") from error
        return [float(sum(r.log_probs[-len(t) :])) for r, t in zip(results, targets, strict=True)]
