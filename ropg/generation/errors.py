"""Errors raised by ``ropg.generation``: one base class, so callers can catch them all."""

from __future__ import annotations


class GenerationError(RuntimeError):
    """Something a user can fix went wrong while building or running a generator."""


class BackendUnavailableError(GenerationError, ImportError):
    """A backend's optional dependency is not installed; the message names the extra."""


class RemoteGenerationError(GenerationError):
    """A generation server failed (HTTP error, malformed answer, retries exhausted)."""


class GenerationTimeoutError(RemoteGenerationError, TimeoutError):
    """A generation server did not answer in time, on every attempt."""


class UnsupportedOperationError(GenerationError, NotImplementedError):
    """The backend cannot do this (e.g. likelihood scoring over a chat API)."""
