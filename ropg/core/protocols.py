"""Task, example and split protocols (structural: any object with these members qualifies),
and :class:`SplitMethods`, the shared implementation of a split's members.

A task knows how to turn an input into a retrieval query, profile items into retrieval
documents and a prompt, and how to score outputs against golds. An example is one input of
one user with the user's profile; a split is the ordered examples of one task and split name.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class TaskLike(Protocol):
    """What the retriever pipeline, the planners and the benchmark need from a task.

    Attributes:
        name: the canonical task name (``LaMP-2``, ``passage-completion``).
        metric_keys: the official metric keys, first = the table's main metric.
    """

    name: str

    @property
    def metric_keys(self) -> tuple[str, ...]: ...

    def find_query(self, input_text: str) -> str | None:
        """The retrieval query of an input, or None when it has none."""

    def documents(self, profile: Sequence[Mapping[str, Any]], use_date: bool = False) -> list[str]:
        """The retrieval text of each profile item, in profile order."""

    def prompt(
        self,
        input_text: str,
        items: Sequence[Mapping[str, Any]],
        tokenizer: Any,
        max_length: int = 512,
    ) -> str:
        """The prompt for ``input_text`` with the ranked ``items`` (none: the bare input)."""

    def example_score(self, gold: str, pred: Any) -> float:
        """Per-example feedback score, higher is better."""

    def example_scores(self, golds: Sequence[str], preds: Sequence[Any]) -> list[float]:
        """:meth:`example_score` of each pair."""

    def evaluate(
        self, golds: Sequence[str], preds: Sequence[Any], aggregate: str = "mean", seed: int = 0
    ) -> dict[str, float]:
        """The official metrics under their keys."""

    def per_example(self, golds: Sequence[str], preds: Sequence[Any]) -> Mapping[str, Any]:
        """Per-example values of each metric key (for paired significance tests)."""


@runtime_checkable
class ExampleLike(Protocol):
    """One input of one user: its id, text, the user's profile items and (if known) the gold."""

    id: str
    input: str
    profile: Sequence[Mapping[str, Any]]
    user_id: str | None
    gold: str | None


@runtime_checkable
class SplitLike(Protocol):
    """The examples of one task and split, in order.

    Attributes:
        task: the task.
        split: the split name (``train``, ``dev``, ``test``).
        examples: the examples in order.
        questions_path: where the inputs came from (for headers and messages), if a file.
    """

    task: Any
    split: str
    examples: list[Any]
    questions_path: str | None

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...

    @property
    def ids(self) -> list[str]: ...

    @property
    def has_golds(self) -> bool: ...

    def head(self, limit: int | None) -> Any:
        """The first ``limit`` examples as a split of the same kind (all when None)."""


class SplitMethods:
    """The shared behaviour of split dataclasses (``LampSplit``, ``PassageSplit``): a dataclass
    with ``examples`` (objects with ``id`` and ``gold``) gets length, iteration, lookup by id,
    ``ids``, ``has_golds`` and ``head`` (the id index is built on first lookup)."""

    examples: list[Any]

    def __len__(self) -> int:
        return len(self.examples)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.examples)

    @functools.cached_property
    def _by_id(self) -> dict[str, Any]:
        return {example.id: example for example in self.examples}

    def __getitem__(self, example_id: str) -> Any:
        return self._by_id[example_id]

    @property
    def ids(self) -> list[str]:
        return [example.id for example in self.examples]

    @property
    def has_golds(self) -> bool:
        return bool(self.examples) and all(example.gold is not None for example in self.examples)

    def head(self, limit: int | None) -> Any:
        """The first ``limit`` examples as a split of the same kind (all when None)."""
        import dataclasses

        if limit is None or limit >= len(self.examples):
            return self
        return dataclasses.replace(self, examples=self.examples[:limit])  # type: ignore[type-var]
