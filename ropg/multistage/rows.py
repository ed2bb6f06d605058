"""The table's rows: what each generator reads and how it is trained.

============== ================== ==================== ====================== ==============
row            past passages      summary              important words        multitask
============== ================== ==================== ====================== ==============
ImmedCtx       -                  -                    -                      -
RankDocBM25    RankDocBM25        -                    -                      -
RankDocDense   RankDocDense       -                    -                      -
RankSnippet    RankSnippet        -                    -                      -
RankDocBySnpt  RankDocBySnpt      -                    -                      -
+SumCtxInd     base ranking       context-independent  -                      -
+SynCtxInd     base ranking       -                    context-independent    -
+SumCtx        base ranking       context-dependent    -                      -
+SynCtx        base ranking       context-dependent    context-dependent      -
+AuthorPred    base ranking       context-dependent    context-dependent      author pairs
============== ================== ==================== ====================== ==============

"base ranking" is ``rank.base`` (RankDocBySnpt in the paper). New rows register with
:func:`register_row`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ropg.errors import UserError

BASE = "base"
CONTEXT_INDEPENDENT = "ctxind"
CONTEXT_DEPENDENT = "ctx"


@dataclass(frozen=True)
class Row:
    """One table row: the generator's input fields and whether author pairs are mixed in."""

    name: str
    ranking: str | None = None
    summary: str | None = None
    keywords: str | None = None
    author: bool = False

    def resolved_ranking(self, base: str) -> str | None:
        return base if self.ranking == BASE else self.ranking


ROWS: dict[str, Row] = {}


def register_row(row: Row) -> Row:
    """Make a row available by its name."""
    ROWS[row.name] = row
    return row


def get_row(name: str) -> Row:
    try:
        return ROWS[name]
    except KeyError:
        raise UserError(f"unknown row {name!r}; choose from {list(ROWS)}") from None


for _row in (
    Row("ImmedCtx"),
    Row("RankDocBM25", "RankDocBM25"),
    Row("RankDocDense", "RankDocDense"),
    Row("RankSnippet", "RankSnippet"),
    Row("RankDocBySnpt", "RankDocBySnpt"),
    Row("+SumCtxInd", BASE, summary=CONTEXT_INDEPENDENT),
    Row("+SynCtxInd", BASE, keywords=CONTEXT_INDEPENDENT),
    Row("+SumCtx", BASE, summary=CONTEXT_DEPENDENT),
    Row("+SynCtx", BASE, summary=CONTEXT_DEPENDENT, keywords=CONTEXT_DEPENDENT),
    Row("+AuthorPred", BASE, CONTEXT_DEPENDENT, CONTEXT_DEPENDENT, author=True),
):
    register_row(_row)


def row_artifacts(row: Row, base: str) -> set[tuple[str, ...]]:
    """The workspace artifacts ``row`` computes that another row may reuse: its ranking, and
    for a summary or important words, the base ranking, that field's stage and, for a
    context-dependent one, the weak labels."""
    found: set[tuple[str, ...]] = set()
    ranking = row.resolved_ranking(base)
    if ranking:
        found.add(("rank", ranking))
    for field_name, kind in (("summary", row.summary), ("keywords", row.keywords)):
        if kind is None:
            continue
        found |= {("rank", base), (field_name, kind)}
        if kind == CONTEXT_DEPENDENT:
            found.add(("weak-labels",))
    return found


def row_prerequisites(names: list[str], base: str) -> dict[str, list[str]]:
    """For each row of ``names``, the earlier rows that first compute an artifact it reuses
    (every row reads the same splits, so the first row to need an artifact computes all of
    it): run after them, and two processes never compute one artifact at once (``jobs: N``)."""
    producer: dict[tuple[str, ...], str] = {}
    prerequisites: dict[str, list[str]] = {}
    for name in names:
        needed = row_artifacts(get_row(name), base)
        prerequisites[name] = sorted(
            {producer[artifact] for artifact in needed if artifact in producer},
            key=names.index,
        )
        for artifact in needed:
            producer.setdefault(artifact, name)
    return prerequisites
