"""Keeping big, acyclic, long-lived data out of the cyclic garbage collector's way.

Python's collector walks every tracked container each time a full collection runs. A LaMP split
is hundreds of thousands of profile dicts with no cycles: building it (and what is built after
it) sets off collections that find nothing and cost a tenth of ``ropg-rank``'s time.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (for building big acyclic data); the
    collector's state is restored after it (a collector the caller disabled stays disabled)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def long_lived_data() -> Iterator[None]:
    """Load data that lives until the process ends (a command's input split) inside this block.

    The collector is paused while the block runs, and everything tracked when it ends moves to
    the collector's permanent generation (:func:`gc.freeze`), where no later collection scans
    it. Reference counting still frees those objects as usual; only cycles among them would
    never be collected, and parsed JSON has none. Without this, every full collection that
    later work sets off (importing numba, for one) walks each of the split's hundreds of
    thousands of profile dicts again: about a tenth of ``ropg-rank``'s time on a LaMP-scale
    split. Meant for commands, not for library code that loads data repeatedly.
    """
    with collector_paused():
        try:
            yield
        finally:
            gc.freeze()
