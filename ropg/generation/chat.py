"""Chat templates for the local backends (``hf``, ``vllm``): instruct models get their own format.

``chat="auto"`` (the default) wraps each prompt as a user message with the tokenizer's chat
template when the tokenizer has one (instruct models do; T5 and base causal models do not),
``chat=True`` requires a template, ``chat=False`` sends the raw prompt. An optional system
prompt is sent first. Both the applied template and the system prompt are part of the
generator's identity, so the output cache never mixes templated and raw outputs.

Prompt budgets are counted on the raw prompt (as the task built it); the generator's input cut
(``max_input_length``) applies to the rendered prompt, shortening the user message only, so the
template's own tokens (the assistant header) are never cut off.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ropg.generation.errors import GenerationError

CHAT_MODES = ("auto", "true", "false")
_CHAT_ALIASES = {"yes": "true", "on": "true", "1": "true"} | {
    "no": "false",
    "off": "false",
    "0": "false",
}


def parse_chat_mode(value: Any) -> str:
    """``auto``/``true``/``false`` from a bool or a string (YAML and command-line values)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip().lower()
    text = _CHAT_ALIASES.get(text, text)
    if text not in CHAT_MODES:
        raise GenerationError(f"chat must be auto, true or false, got {value!r}")
    return text


@dataclass(frozen=True)
class ChatFormat:
    """How prompts are rendered for one tokenizer (``enabled`` is the resolved mode)."""

    enabled: bool
    system_prompt: str | None = None

    @classmethod
    def resolve(
        cls, mode: Any, tokenizer: Any, system_prompt: str | None, model: str
    ) -> ChatFormat:
        """Resolve ``auto`` against the tokenizer; ``true`` without a template is an error."""
        mode = parse_chat_mode(mode)
        has_template = bool(getattr(tokenizer, "chat_template", None))
        if mode == "true" and not has_template:
            raise GenerationError(f"chat=true but the tokenizer of {model!r} has no chat template")
        enabled = has_template if mode == "auto" else mode == "true"
        if system_prompt is not None and not enabled:
            raise GenerationError(
                f"system_prompt needs a chat template, and {model!r} is not prompted through one "
                f"(chat={mode})"
            )
        return cls(enabled, system_prompt)

    def identity(self, tokenizer: Any) -> dict[str, Any] | None:
        """What the template adds to the generator identity (None when prompts are raw)."""
        if not self.enabled:
            return None
        template = str(getattr(tokenizer, "chat_template", ""))
        digest = hashlib.sha256(template.encode("utf-8")).hexdigest()[:16]
        return {"template": digest, "system_prompt": self.system_prompt}

    def messages(self, prompt: str) -> list[dict[str, str]]:
        messages = [{"role": "user", "content": prompt}]
        if self.system_prompt is not None:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        return messages

    def render(self, tokenizer: Any, prompt: str) -> str:
        """The text the model reads for ``prompt`` (the prompt itself when chat is off)."""
        if not self.enabled:
            return prompt
        return tokenizer.apply_chat_template(
            self.messages(prompt), tokenize=False, add_generation_prompt=True
        )

    def encode(
        self, tokenizer: Any, prompts: Sequence[str], max_length: int | None
    ) -> list[list[int]]:
        """Token ids of each rendered prompt, at most ``max_length`` (None: never cut)."""
        from ropg.generation.base import encode_prompts

        if not self.enabled:
            return encode_prompts(tokenizer, prompts, max_length)
        encoded = []
        for prompt in prompts:
            ids = self._encode_rendered(tokenizer, prompt)
            if max_length is not None and len(ids) > max_length:
                ids = self._encode_shortened(tokenizer, prompt, len(ids) - max_length, max_length)
            encoded.append(ids)
        return encoded

    def _encode_rendered(self, tokenizer: Any, prompt: str) -> list[int]:
        text = self.render(tokenizer, prompt)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    def _encode_shortened(
        self, tokenizer: Any, prompt: str, excess: int, max_length: int
    ) -> list[int]:
        """Cut the user message's tokens on the right until the rendered prompt fits."""
        content = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        keep = max(0, len(content) - excess)
        while True:
            shortened = tokenizer.decode(content[:keep], skip_special_tokens=True)
            ids = self._encode_rendered(tokenizer, shortened)
            if len(ids) <= max_length or keep == 0:
                if len(ids) > max_length:
                    raise GenerationError(
                        f"the chat template alone takes {len(ids)} tokens, more than the input "
                        f"limit max_input_length={max_length}"
                    )
                return ids
            keep = max(0, keep - (len(ids) - max_length))


class ChatPrompting:
    """Mixin of the local backends: ``chat``/``system_prompt`` options resolved lazily against
    ``self.tokenizer``, and prompt encoding through :class:`ChatFormat`."""

    tokenizer: Any
    model_name: str

    def _init_chat(self, chat: str | bool, system_prompt: str | None) -> None:
        self.chat_mode = parse_chat_mode(chat)
        self.system_prompt = system_prompt
        self._chat_format: ChatFormat | None = None

    @property
    def chat_format(self) -> ChatFormat:
        """How prompts are rendered (the chat mode resolved against the tokenizer)."""
        if self._chat_format is None:
            self._chat_format = ChatFormat.resolve(
                self.chat_mode, self.tokenizer, self.system_prompt, self.model_name
            )
        return self._chat_format

    def render(self, prompt: str) -> str:
        """The text the model reads for ``prompt`` (its chat template applied, if any)."""
        return self.chat_format.render(self.tokenizer, prompt)

    def chat_identity(self, identity: dict[str, Any]) -> dict[str, Any]:
        """``identity`` with the template's part added (raw prompts keep their identity)."""
        chat = self.chat_format.identity(self.tokenizer)
        if chat is not None:
            identity["chat"] = chat
        return identity

    def encode_prompts(self, prompts: Sequence[str], max_length: int | None) -> list[list[int]]:
        """Token ids of each prompt as the model reads it, cut to ``max_length``."""
        return self.chat_format.encode(self.tokenizer, prompts, max_length)
