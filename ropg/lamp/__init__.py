"""The LaMP task layer: tasks, data, queries, prompts and official metrics.

Knows nothing of models: prompts take any tokenizer-like callable.
"""

from __future__ import annotations

from ropg.lamp.data import (
    Example,
    LampSplit,
    find_split_files,
    load_split,
    parse_outputs,
    write_predictions,
)
from ropg.lamp.errors import LampDataError, LampError
from ropg.lamp.tasks import Task, get_task, register_task, task_names

__all__ = [
    "Example",
    "LampDataError",
    "LampError",
    "LampSplit",
    "Task",
    "find_split_files",
    "get_task",
    "load_split",
    "parse_outputs",
    "register_task",
    "task_names",
    "write_predictions",
]
