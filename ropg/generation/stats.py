"""What the generation cache holds: entries per generator, lookups, hit rate, size on disk."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class GeneratorEntries:
    """How many outputs one generator identity has in the cache."""

    id: str
    label: str
    identity: dict[str, Any]
    entries: int


@dataclass(frozen=True)
class CacheStats:
    """What ``ropg cache stats`` prints."""

    path: str
    entries: int
    hits: int
    misses: int
    size_bytes: int
    generators: list[GeneratorEntries] = field(default_factory=list)

    @property
    def hit_rate(self) -> float | None:
        """Hits over lookups, ``None`` before the first lookup."""
        total = self.hits + self.misses
        return self.hits / total if total else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for ``--json``)."""
        return {
            "path": self.path,
            "entries": self.entries,
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": self.hit_rate,
            "size_bytes": self.size_bytes,
            "generators": [
                {"label": g.label, "id": g.id, "entries": g.entries, "identity": g.identity}
                for g in self.generators
            ],
        }

    def format(self) -> str:
        """Human-readable lines."""
        rate = "n/a" if self.hit_rate is None else f"{100 * self.hit_rate:.1f}%"
        lines = [
            f"cache: {self.path}",
            f"entries: {self.entries}",
            f"lookups: {self.hits + self.misses} (hits {self.hits}, misses {self.misses})",
            f"hit rate: {rate}",
            f"size on disk: {_human_size(self.size_bytes)}",
            f"generators: {len(self.generators)}",
        ]
        lines += [f"  {g.entries:>10}  {g.label}  [{g.id[:12]}]" for g in self.generators]
        return "\n".join(lines)


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
