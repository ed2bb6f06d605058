"""The neutral task core: what every task set (LaMP, passage completion, LongLaMP) provides.

The collector, the retriever pipeline, the planners and the benchmark are typed against these
protocols, not against LaMP, so any task set that implements them flows through the same
machinery. :mod:`ropg.lamp` is one implementation (``Task``, ``Example``, ``LampSplit``).
"""

from __future__ import annotations

from ropg.core.protocols import ExampleLike, SplitLike, TaskLike

__all__ = ["ExampleLike", "SplitLike", "TaskLike"]
