"""Loading LaMP splits from Hugging Face ``datasets`` sources (hub names or Dataset objects)."""

from __future__ import annotations

from typing import Any

from ropg.lamp.data import LampSplit, examples_from_records
from ropg.lamp.errors import LampError
from ropg.lamp.tasks import Task
from ropg.lamp.validation import check_golds


def _is_dataset_dict(source: Any) -> bool:
    import datasets

    return isinstance(source, (datasets.DatasetDict, datasets.IterableDatasetDict))


def load_hf_split(
    source: Any,
    task: Task,
    split: str,
    *,
    validate_profiles: bool = True,
    require_golds: bool = False,
) -> LampSplit:
    """Load ``source`` (``"hf:NAME[:CONFIG]"``, a Dataset or a DatasetDict) as a LampSplit.

    Records need ``id``, ``input`` and ``profile``; an ``output`` column gives the golds.
    """
    origin = str(source)
    if isinstance(source, str):
        import datasets

        name, _, config = source[len("hf:") :].partition(":")
        try:
            dataset = datasets.load_dataset(name, config or None, split=split)
        except Exception as error:  # datasets raises many types; report them as one
            raise LampError(
                f"cannot load datasets source {source!r} split {split!r}: {error}"
            ) from None
        origin = f"{source}[{split}]"
    elif _is_dataset_dict(source):
        if split not in source:
            raise LampError(f"datasets source has no split {split!r} (has {list(source)})")
        dataset = source[split]
        origin = f"<DatasetDict>[{split}]"
    else:
        dataset = source
        origin = "<Dataset>"
    examples = examples_from_records(dataset, task, origin, validate_profiles)
    golds = {example.id: example.gold for example in examples if example.gold is not None}
    check_golds(task, golds, origin)
    if require_golds and not all(example.gold is not None for example in examples):
        raise LampError(f"{origin}: no 'output' column with gold outputs")
    return LampSplit(
        task, split, examples, origin, origin if examples and examples[0].gold is not None else None
    )
