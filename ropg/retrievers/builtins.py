"""Built-in retrievers; importing this module registers them.

``bm25``, ``none``, ``random``, ``recency``, ``rrf`` (:mod:`ropg.retrievers.bm25`,
:mod:`ropg.retrievers.simple`) and ``dense``, ``contriever`` (:mod:`ropg.retrievers.dense`).
"""

from __future__ import annotations

from ropg.retrievers import bm25, dense, simple  # noqa: F401  (registration side effects)
