"""LaMP's names for the project's user errors (:mod:`ropg.errors`), kept as aliases."""

from __future__ import annotations

from ropg.errors import DataError, UserError

LampError = UserError
"""A problem with user-supplied LaMP data or options (the same class as :class:`UserError`)."""

LampDataError = DataError
"""A malformed LaMP file (the same class as :class:`DataError`)."""

__all__ = ["LampDataError", "LampError"]
