"""Offline pieces for the RPO tests: synthetic tagging data whose user preference is visible
only in the profile, a stub base model, a scripted reflection model, and the tiny chat causal
LM of :mod:`ropg.reflection.tiny` (a word-level tokenizer over the words the prompts use).

Imported by ``test_reflection_*.py`` (``from reflection_fixtures import ...``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ropg.generation import BaseGenerator, GenerationConfig
from ropg.generation.base import BatchCallback
from ropg.reflection.tiny import save_tiny_chat_lm

TAGS = ("comedy", "action", "classic", "fantasy", "romance", "violence", "dystopia", "psychology")
TOPICS = {
    "space": "rocket orbit planet comet galaxy lunar",
    "ocean": "whale reef coral tide harbor sailor",
    "music": "guitar melody concert drummer chorus piano",
    "kitchen": "recipe baking pastry spice noodle oven",
    "sports": "stadium striker league coach trophy derby",
    "money": "market investor stock budget banking loan",
}
DEFAULT_TAG = dict(zip(TOPICS, TAGS))  # what the generic base model says for a topic
PROMPT = "Which tag does this movie relate to? description: "  # short: tiny models on 2 cores
COMPACT_TEMPLATE = (
    "{items}\nInput: {input}\nGeneric answer: {generic}\n"
    "Reason in <{reasoning_tag}>, answer in <{answer_tag}>."
)
"""A short reflection prompt (a ``prompt_template``) that keeps tiny-model RL cheap."""


def _description(rng: random.Random, topic: str, words: int = 4) -> str:
    return " ".join(rng.sample(TOPICS[topic].split(), words))


def write_tag_data(
    root: Path,
    users: dict[str, tuple[int, int]],
    seed: int = 0,
    topics_per_user: int = 3,
    items_per_topic: int = 3,
) -> Path:
    """LaMP-2 time layout under ``root``; ``users``: ``{split: (users, questions each)}``.

    Each user favours one tag per topic (drawn from :data:`TAGS`); their profile holds
    ``items_per_topic`` items per topic tagged with it, and each question is on one of their
    topics with that tag as its gold. Users differ between splits, so dev is held out.
    """
    rng = random.Random(seed)
    next_id = 1
    for split, per_user in users.items():
        questions, golds = [], []
        n_users, per = per_user
        for user_index in range(n_users):
            topics = rng.sample(sorted(TOPICS), topics_per_user)
            favourite = {topic: rng.choice(TAGS) for topic in topics}
            profile = []
            for topic in topics:
                for _ in range(items_per_topic):
                    profile.append(
                        {
                            "id": f"{split}-{user_index}-{len(profile)}",
                            "description": _description(rng, topic),
                            "tag": favourite[topic],
                        }
                    )
            rng.shuffle(profile)
            for _ in range(per):
                topic = rng.choice(topics)
                qid = str(next_id)
                next_id += 1
                questions.append(
                    {
                        "id": qid,
                        "input": PROMPT + _description(rng, topic),
                        "profile": profile,
                        "user_id": f"{split}-{user_index}",
                    }
                )
                golds.append({"id": qid, "output": favourite[topic]})
        folder = root / "time" / "LaMP_2" / split
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{split}_questions.json").write_text(json.dumps(questions), encoding="utf-8")
        outputs = {"task": "LaMP_2", "golds": golds}
        (folder / f"{split}_outputs.json").write_text(json.dumps(outputs), encoding="utf-8")
    return root


class GenericTagger(BaseGenerator):
    """A stub black-box base model: the topic's popular tag, blind to the user."""

    backend = "generic-tagger"

    def __init__(self, target: str = "", config: GenerationConfig | None = None, **_: Any) -> None:
        super().__init__(config or GenerationConfig(num_beams=1), name="generic-tagger")
        self.calls = 0

    def model_identity(self) -> dict[str, Any]:
        return {"model": "generic-tagger-1"}

    def _generate(
        self, prompts: list[str], config: GenerationConfig, on_batch: BatchCallback | None
    ) -> list[str]:
        self.calls += len(prompts)
        outputs = []
        for prompt in prompts:
            words = set(prompt.split("description:")[-1].split())
            topic = max(TOPICS, key=lambda t: len(words & set(TOPICS[t].split())))
            outputs.append(DEFAULT_TAG[topic])
        if on_batch is not None:
            on_batch(list(range(len(prompts))), outputs)
        return outputs


class ScriptedReflector(BaseGenerator):
    """A stub reflection model: answers with the tag of the first item in the prompt, well
    formed; records every prompt it generates for; can crash after ``fail_after`` prompts."""

    backend = "scripted-reflector"

    def __init__(
        self,
        target: str = "",
        config: GenerationConfig | None = None,
        fail_after: int | None = None,
        **_: Any,
    ) -> None:
        super().__init__(config or GenerationConfig(num_beams=1, batch_size=4), name="scripted")
        self.fail_after = fail_after
        self.prompts: list[str] = []

    def model_identity(self) -> dict[str, Any]:
        return {"model": "scripted-reflector-1"}

    def _generate(
        self, prompts: list[str], config: GenerationConfig, on_batch: BatchCallback | None
    ) -> list[str]:
        outputs = []
        for start in range(0, len(prompts), config.batch_size):
            batch = prompts[start : start + config.batch_size]
            if self.fail_after is not None and len(self.prompts) + len(batch) > self.fail_after:
                raise RuntimeError("simulated crash")
            self.prompts.extend(batch)
            texts = [reflection_for(prompt) for prompt in batch]
            outputs.extend(texts)
            if on_batch is not None:
                on_batch(list(range(start, start + len(batch))), texts)
        return outputs


def reflection_for(prompt: str) -> str:
    """A well-formed reflection copying the tag of item [1] (g when there is no item)."""
    for line in prompt.splitlines():
        if line.startswith("[1] ") and "tag: " in line:
            tag = line.split("tag: ")[-1].strip()
            return f"<reasoning>\n[1] {tag}\n</reasoning>\n<answer>\n{tag}\n</answer>"
    generic = prompt.split("Generic answer: ")[-1].splitlines()[0]
    return f"<reasoning>\nno items\n</reasoning>\n<answer>\n{generic}\n</answer>"


def save_tiny_lm(
    directory: Path, texts: Sequence[str], hidden: int = 64, layers: int = 2, seed: int = 0
) -> Path:
    """A random-init tiny chat Llama whose tokenizer knows every word of ``texts``."""
    return save_tiny_chat_lm(directory, texts, hidden=hidden, layers=layers, seed=seed)
