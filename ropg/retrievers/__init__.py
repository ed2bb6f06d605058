"""The retriever pool: protocol, registry and built-in retrievers."""

from __future__ import annotations

from ropg.retrievers.base import (
    BaseRetriever,
    BatchRetriever,
    Ranking,
    RetrievalQuery,
    Retriever,
)
from ropg.retrievers.registry import (
    get_retriever,
    register_retriever,
    resolve_retriever_factory,
    retriever_names,
)

__all__ = [
    "BaseRetriever",
    "BatchRetriever",
    "Ranking",
    "RetrievalQuery",
    "Retriever",
    "get_retriever",
    "register_retriever",
    "resolve_retriever_factory",
    "retriever_names",
]
