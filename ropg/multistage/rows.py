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
