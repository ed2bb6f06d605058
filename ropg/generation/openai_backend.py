"""OpenAI-compatible HTTP backend (a vLLM server, TGI, llama.cpp, OpenAI itself).

Completions (``openai:http://host:8000/v1#model``) or chat (``openai-chat:...`` or
``chat=True``). Requests run in a bounded thread pool and are retried with exponential
backoff and jitter on 429, 408, 5xx, connection errors and timeouts; once retries are spent
the error says what happened. The API key comes from an environment variable
(``OPENAI_API_KEY`` unless ``api_key_env`` names another); it is sent as a Bearer token and
is never logged, never shown in ``repr``, never part of the identity or cache key, and
replaced by ``***`` in every error message (a server's error body that echoes it included). Only
the standard library is used.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any

from tqdm.auto import tqdm

from ropg.generation.base import BaseGenerator, BatchCallback, GenerationConfig, apply_stop
from ropg.generation.errors import GenerationError, GenerationTimeoutError, RemoteGenerationError

logger = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
BEAM_SEARCH_REFUSED = (
    "the openai backend does not beam-search: set num_beams=1 (a vLLM server can "
    "beam-search with extra_body={'use_beam_search': True, 'best_of': N})"
)


def _check_number(option: str, value: Any, least: float, kind: type) -> None:
    """A numeric option of the backend: a number (an integer for ``int``) >= ``least``."""
    integer = kind is int
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and (not integer or float(value).is_integer()) and value >= least
    if not ok:
        wanted = f"an integer >= {least:g}" if integer else f"a number >= {least:g}"
        if least == 1e-9:
            wanted = "a number > 0"
        raise GenerationError(f"openai backend option {option}: expected {wanted}, got {value!r}")


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` (an API key) replaced by ``***``."""
    if not secret:
        return text
    return text.replace(secret, "***")


def _redact_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


class OpenAIGenerator(BaseGenerator):
    """Generate through an OpenAI-compatible server.

    Args:
        base_url: the API root, e.g. ``http://localhost:8000/v1``.
        model: the served model name.
        chat: use ``/chat/completions`` (one user message per prompt) instead of
            ``/completions``.
        config: default decoding parameters (greedy by default: servers rarely beam-search;
            ``num_beams > 1`` is refused).
        api_key_env: the environment variable holding the API key (unset: no header).
        max_concurrency: requests in flight at once.
        max_retries: retries after the first attempt, for retryable failures.
        retry_base_delay, retry_max_delay: backoff is ``base * 2**attempt`` seconds, capped,
            times a random factor in [0.5, 1] (a ``Retry-After`` header can lengthen it).
        timeout: seconds per request attempt.
        system_prompt: a system message for chat requests (part of the identity).
        extra_body: more request fields, e.g. vLLM's ``{"use_beam_search": true}`` (part of
            the identity).
        revision: a label for the served weights (part of the identity); the server URL is
            not, so moving a server keeps its cache.
    """

    backend = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        chat: bool = False,
        config: GenerationConfig | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        max_concurrency: int = 8,
        max_retries: int = 5,
        retry_base_delay: float = 1.0,
        retry_max_delay: float = 60.0,
        timeout: float = 120.0,
        system_prompt: str | None = None,
        extra_body: dict[str, Any] | None = None,
        revision: str | None = None,
        show_progress: bool = True,
        name: str | None = None,
    ) -> None:
        config = config if config is not None else GenerationConfig(num_beams=1)
        kind = "openai-chat" if chat else "openai"
        super().__init__(config, show_progress=show_progress, name=name or f"{kind}:{model}")
        if not base_url.startswith(("http://", "https://")):
            raise GenerationError(f"base URL must start with http:// or https://: {base_url!r}")
        if not model:
            raise GenerationError("no model name: use openai:http://host:port/v1#model-name")
        numbers = {
            "max_concurrency": (max_concurrency, 1, int),
            "max_retries": (max_retries, 0, int),
            "retry_base_delay": (retry_base_delay, 0, float),
            "retry_max_delay": (retry_max_delay, 0, float),
            "timeout": (timeout, 1e-9, float),
        }
        for option, (value, least, kind) in numbers.items():
            _check_number(option, value, least, kind)
        if config.num_beams > 1:
            raise GenerationError(BEAM_SEARCH_REFUSED)
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.chat = chat
        self.api_key_env = api_key_env
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self.timeout = timeout
        self.system_prompt = system_prompt
        self.extra_body = dict(extra_body or {})
        self.revision = revision
        self._api_key = os.environ.get(api_key_env) or None

    @classmethod
    def from_spec(cls, target: str, **options: Any) -> OpenAIGenerator:
        """Build from ``http://host:port/v1#model-name`` (or pass ``model=``)."""
        base_url, _, model = target.partition("#")
        model = model or options.pop("model", "")
        return cls(base_url, model, **options)

    @classmethod
    def chat_from_spec(cls, target: str, **options: Any) -> OpenAIGenerator:
        """Build a chat generator from ``openai-chat:http://host:port/v1#model-name``."""
        return cls.from_spec(target, chat=True, **options)

    def __repr__(self) -> str:
        key = "set" if self._api_key else "unset"
        return (
            f"{type(self).__name__}(base_url={_redact_url(self.base_url)!r}, "
            f"model={self.model!r}, chat={self.chat}, api_key_env={self.api_key_env!r} ({key}))"
        )

    def model_identity(self) -> dict[str, Any]:
        identity: dict[str, Any] = {
            "model": self.model,
            "endpoint": "chat" if self.chat else "completions",
        }
        if self.chat and self.system_prompt is not None:
            identity["system_prompt"] = self.system_prompt
        if self.extra_body:
            identity["extra_body"] = self.extra_body
        if self.revision is not None:
            identity["revision"] = self.revision
        return identity

    def _payload(self, prompt: str, config: GenerationConfig) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": self.model, "max_tokens": config.max_new_tokens, "n": 1}
        if self.chat:
            messages = [{"role": "user", "content": prompt}]
            if self.system_prompt is not None:
                messages.insert(0, {"role": "system", "content": self.system_prompt})
            payload["messages"] = messages
        else:
            payload["prompt"] = prompt
        if config.do_sample:
            payload.update(temperature=config.temperature, top_p=config.top_p, seed=config.seed)
            if config.top_k > 0:
                payload["top_k"] = config.top_k
        else:
            payload["temperature"] = 0.0
        if config.repetition_penalty != 1.0:
            payload["repetition_penalty"] = config.repetition_penalty
        if config.stop:
            payload["stop"] = list(config.stop)
        payload.update(self.extra_body)
        return payload

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        delay = min(self.retry_max_delay, self.retry_base_delay * 2**attempt)
        delay *= random.uniform(0.5, 1.0)
        if retry_after is not None:
            try:
                delay = max(delay, min(float(retry_after), self.retry_max_delay))
            except ValueError:
                pass  # an HTTP date instead of seconds: keep our own backoff
        return delay

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        shown = _redact_url(url)
        body = json.dumps(payload).encode("utf-8")
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            request = urllib.request.Request(url, data=body, headers=self._headers(), method="POST")
            retry_after = None
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    raw = response.read()
                break
            except urllib.error.HTTPError as error:
                answer = error.read(4096).decode("utf-8", "replace")
                detail = redact(answer, self._api_key).strip()[:500]  # redacted, then cut
                if error.code not in RETRY_STATUS:
                    raise RemoteGenerationError(
                        f"{shown} answered HTTP {error.code}: {detail or error.reason}"
                    ) from None
                failure = f"HTTP {error.code}"
                retry_after = error.headers.get("Retry-After") if error.headers else None
                if attempt == attempts - 1:
                    raise RemoteGenerationError(
                        f"{shown} still failing after {attempts} attempts: {failure}: {detail}"
                    ) from None
            except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as error:
                timed_out = isinstance(error, TimeoutError) or isinstance(
                    getattr(error, "reason", None), TimeoutError
                )
                failure = (
                    f"timed out after {self.timeout:g} s"
                    if timed_out
                    else redact(str(error), self._api_key)
                )
                if attempt == attempts - 1:
                    kind = GenerationTimeoutError if timed_out else RemoteGenerationError
                    raise kind(
                        f"{shown} {failure} ({attempts} attempts)"
                        if timed_out
                        else f"{shown} unreachable after {attempts} attempts: {failure}"
                    ) from None
            delay = self._backoff(attempt, retry_after)
            logger.warning(
                "request to %s failed (%s); retry %d/%d in %.2f s",
                shown,
                failure,
                attempt + 1,
                self.max_retries,
                delay,
            )
            time.sleep(delay)
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            raise RemoteGenerationError(f"{shown} answered with invalid JSON") from None

    def _complete(self, prompt: str, config: GenerationConfig) -> str:
        path = "/chat/completions" if self.chat else "/completions"
        answer = self._post(path, self._payload(prompt, config))
        try:
            choice = answer["choices"][0]
            text = choice["message"]["content"] if self.chat else choice["text"]
        except (KeyError, IndexError, TypeError):
            raise RemoteGenerationError(
                f"{_redact_url(self.base_url)}{path} answered without choices[0] text: "
                f"{redact(json.dumps(answer), self._api_key)[:300]}"
            ) from None
        return apply_stop(text or "", config.stop)

    def _generate(
        self, prompts: list[str], config: GenerationConfig, on_batch: BatchCallback | None
    ) -> list[str]:
        try:
            return self._generate_all(prompts, config, on_batch)
        except GenerationError as error:  # whatever a message says, the key is not in it
            text = str(error)
            if self._api_key and self._api_key in text:
                raise type(error)(redact(text, self._api_key)) from None
            raise

    def _generate_all(
        self, prompts: list[str], config: GenerationConfig, on_batch: BatchCallback | None
    ) -> list[str]:
        if config.num_beams > 1:
            raise GenerationError(BEAM_SEARCH_REFUSED)
        outputs = [""] * len(prompts)  # every slot is filled, or a request's error is raised
        progress = tqdm(
            total=len(prompts), desc=f"generate:{self.name}", disable=not self.show_progress
        )
        executor = ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(prompts)))
        try:
            pending: dict[Future[str], int] = {
                executor.submit(self._complete, prompt, config): index
                for index, prompt in enumerate(prompts)
            }
            while pending:
                done, _ = wait(pending, return_when=FIRST_EXCEPTION)
                for future in done:
                    index = pending.pop(future)
                    text = future.result()  # re-raises the request's error
                    outputs[index] = text
                    if on_batch is not None:
                        on_batch([index], [text])
                    progress.update(1)
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
            progress.close()
        return outputs
