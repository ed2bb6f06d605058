"""The writing-education multistage pipeline ("Teach LLMs to Personalize", arXiv 2308.07968).

Passage completion over a user's earlier documents, in five stages:

1. **retrieve** with the immediate context as the query, documents or snippets
   (:mod:`~ropg.multistage.snippets`), BM25 or a dense encoder of the retriever pool;
2. **rank** (:mod:`~ropg.multistage.ranking`): RankDocBM25, RankDocDense, RankSnippet,
   RankDocBySnpt; the entries concatenated and cut at 2,500 characters;
3. **summarize** (:mod:`~ropg.multistage.summaries`): context-independent (any generator) or
   context-dependent (a model trained on greedy weak labels);
4. **synthesize** (:mod:`~ropg.multistage.keywords`): the paper's frequency/IDF rules, or a
   model trained on matched-word weak labels;
5. **generate** (:mod:`~ropg.multistage.generate`): a fine-tuned seq2seq or causal model reading
   one string of prefixed fields, optionally trained together with author distinction
   (:mod:`~ropg.multistage.author`).

Data: :mod:`~ropg.multistage.documents` (the paper's rules and user split),
:mod:`~ropg.multistage.sources` (JSONL documents, LaMP profiles), :mod:`~ropg.multistage.longlamp`
(LongLaMP records), :mod:`~ropg.multistage.synthetic` (a synthetic set and the shipped sample).
:class:`~ropg.multistage.task.PassageTask` implements the project's task protocol. Runs:
:mod:`~ropg.multistage.api` (one function per stage), :mod:`~ropg.multistage.table` (the paper's
table), ``ropg-multistage`` (the command line); :mod:`~ropg.multistage.lamp_context` adds the
summary and keyword fields to LaMP prompts. Models load only when a stage needs them.
"""

from __future__ import annotations

from ropg.multistage.documents import Document, PassageExample, PassageRules, PassageSplit
from ropg.multistage.task import PassageTask

__all__ = ["Document", "PassageExample", "PassageRules", "PassageSplit", "PassageTask"]
