"""Retrieval-query extraction, character-exact with the LaMP reference.

See docs/lamp-fidelity.md (Queries and documents).
"""

from __future__ import annotations


def strings_between_quotes(text: str) -> list[str]:
    """Return the strings between double quotes, toggling quote state character by character.

    An unterminated trailing quote contributes nothing (as in the reference).
    """
    found: list[str] = []
    inside = False
    current: list[str] = []
    for char in text:
        if char == '"':
            if inside:
                found.append("".join(current))
                current = []
            inside = not inside
        elif inside:
            current.append(char)
    return found


def text_after_marker(text: str, marker: str) -> str | None:
    """Return the stripped text after the first occurrence of ``marker``, or None if absent."""
    index = text.find(marker)
    if index == -1:
        return None
    return text[index + len(marker) :].strip()


def citation_query(text: str) -> str | None:
    """LaMP-1: the 2nd and 3rd quoted strings (the two candidate titles) joined by a space."""
    quoted = strings_between_quotes(text)
    if len(quoted) < 3:
        return None
    return f"{quoted[1]} {quoted[2]}"
