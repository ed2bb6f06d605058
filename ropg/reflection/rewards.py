"""The RL rewards: the task's feedback score of the parsed answer, and a format reward.

Both are plain trl reward functions (``fn(prompts, completions, **columns) -> [float]``) and
trl logs them separately (``rewards/task/mean``, ``rewards/format/mean``); the trainer sums
them with the weights ``[1, format_reward_weight]``.

- ``task``: ``task.example_score(gold, answer)`` (LaMP-1/2 exact label, LaMP-3 normalized
  rating score, ROUGE-1 for LaMP-4..7) of the sample's final answer; a malformed sample gets 0
  (``malformed_task_reward: zero``) or the score of g, the answer inference would fall back to
  (``generic``).
- ``format``: 1 for a well-formed sample (a reasoning block and a valid answer block), else 0.

:class:`StepLog` also records, per optimizer step, the number of items in the step's prompts
and the mean rewards (``RUN/rl/steps.jsonl``): the curriculum can be read off it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ropg.reflection.formats import answer_format
from ropg.reflection.parser import ParseSettings, parse_reflection
from ropg.reflection.prompts import count_items

RewardFunction = Callable[..., list[float]]


def completion_text(completion: Any) -> str:
    """The text of a trl completion (a string, or a list of chat messages)."""
    if isinstance(completion, str):
        return completion
    return "".join(str(message.get("content", "")) for message in completion)


def prompt_text(prompt: Any) -> str:
    """The user text of a trl prompt (a string, or chat messages)."""
    if isinstance(prompt, str):
        return prompt
    return "\n".join(str(m.get("content", "")) for m in prompt if m.get("role") == "user")


class StepLog:
    """Appends one JSON line per generation batch (main process only)."""

    def __init__(self, path: str | os.PathLike[str] | None, is_main: bool = True) -> None:
        self.path = Path(path) if path is not None else None
        self.is_main = is_main

    def write(self, record: dict[str, Any]) -> None:
        if self.path is None or not self.is_main:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(record, sort_keys=True) + "\n")

    def read(self) -> list[dict[str, Any]]:
        """The records by step (a step repeated after a resume: the last one)."""
        if self.path is None or not self.path.is_file():
            return []
        by_step: dict[int, dict[str, Any]] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                by_step[int(record["step"])] = record
        return [by_step[step] for step in sorted(by_step)]


def reward_functions(
    task: Any,
    parse: ParseSettings,
    malformed_task_reward: str = "zero",
    step_log: StepLog | None = None,
) -> list[RewardFunction]:
    """``[task, format]`` reward functions for trl (their ``__name__`` is the logged name)."""
    form = answer_format(task)

    def parsed(completions: Sequence[Any], generic: Sequence[str]) -> list[Any]:
        return [
            parse_reflection(completion_text(c), str(g), form, parse)
            for c, g in zip(completions, generic, strict=True)
        ]

    def task_reward(
        prompts: Sequence[Any],
        completions: Sequence[Any],
        gold: Sequence[str],
        generic: Sequence[str],
        **columns: Any,
    ) -> list[float]:
        results = parsed(completions, generic)
        rewards = []
        for result, gold_output in zip(results, gold, strict=True):
            if result.well_formed or malformed_task_reward == "generic":
                rewards.append(float(task.example_score(str(gold_output), result.answer)))
            else:
                rewards.append(0.0)
        if step_log is not None:
            state = columns.get("trainer_state")
            well_formed = [1.0 if r.well_formed and r.reasoning else 0.0 for r in results]
            step_log.write(
                {
                    "step": int(getattr(state, "global_step", 0)),
                    "items": sorted({count_items(prompt_text(p)) for p in prompts}),
                    "k": sorted({int(k) for k in columns.get("k", ())}),
                    "task": sum(rewards) / len(rewards),
                    "format": sum(well_formed) / len(well_formed),
                }
            )
        return rewards

    def format_reward(
        prompts: Sequence[Any], completions: Sequence[Any], generic: Sequence[str], **_: Any
    ) -> list[float]:
        return [
            1.0 if result.well_formed and result.reasoning else 0.0
            for result in parsed(completions, generic)
        ]

    task_reward.__name__ = "task"
    format_reward.__name__ = "format"
    return [task_reward, format_reward]
