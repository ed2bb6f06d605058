"""A small Markdown subset as HTML (text blocks, notes, titles): headings, paragraphs, ``- ``
lists, ``**bold**``, ```code```, ``[text](url)`` and ``<sup>..</sup>``. Everything else is
escaped, so a label can never inject markup into the page."""

from __future__ import annotations

import html
import re

_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_SUP = re.compile(r"&lt;sup&gt;(.*?)&lt;/sup&gt;")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def inline_html(text: str) -> str:
    """Escape ``text`` and turn its inline Markdown into HTML."""
    escaped = html.escape(text, quote=True)
    escaped = _CODE.sub(r"<code>\1</code>", escaped)
    escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
    escaped = _SUP.sub(r"<sup>\1</sup>", escaped)

    def link(match: re.Match[str]) -> str:
        target = match.group(2)
        if target.lower().startswith(("javascript:", "data:", "vbscript:")):
            return match.group(1)
        return f'<a href="{target}">{match.group(1)}</a>'

    return _LINK.sub(link, escaped)


def markdown_html(text: str, heading_offset: int = 0) -> str:
    """Block-level Markdown subset as HTML; ``heading_offset`` shifts heading levels."""
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{inline_html(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{inline_html(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for raw in text.splitlines():
        line = raw.strip()
        heading = _HEADING.match(line)
        if not line:
            flush()
        elif heading:
            flush()
            level = min(6, len(heading.group(1)) + heading_offset)
            out.append(f"<h{level}>{inline_html(heading.group(2))}</h{level}>")
        elif line.startswith(("- ", "* ")):
            if paragraph:
                flush()
            items.append(line[2:])
        else:
            if items:
                flush()
            paragraph.append(line)
    flush()
    return "\n".join(out)
