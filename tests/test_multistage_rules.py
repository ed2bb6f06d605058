"""Unit tests of every rule of the multistage pipeline (snippets, cut, ranking, keywords, weak
labels, author pairs, the user split, prompts, metrics)."""

from __future__ import annotations

import numpy as np
import pytest

from ropg.core.protocols import ExampleLike, SplitLike, TaskLike
from ropg.errors import UserError
from ropg.multistage import author, metrics
from ropg.multistage.documents import (
    Document,
    PassageRules,
    build_splits,
    cut_context,
    split_users,
    user_examples,
)
from ropg.multistage.keywords import (
    IdfTable,
    KeywordRules,
    WordMatcher,
    frequent_keywords,
    keyword_label,
    words,
)
from ropg.multistage.prompts import (
    GenerationFields,
    author_input,
    fit_to_budget,
    generation_input,
)
from ropg.multistage.ranking import (
    RankedContext,
    best_snippet_order,
    concatenate,
    rank_contexts,
)
from ropg.multistage.snippets import pack_snippets, snippets, split_sentences
from ropg.multistage.summaries import greedy_select, summary_label
from ropg.multistage.task import PassageTask
from ropg.retrievers.base import BaseRetriever

# -- sentences and snippets ---------------------------------------------------------------------


def test_sentences_end_at_terminal_punctuation_before_whitespace_and_at_line_breaks():
    text = 'It works. Really?! "Yes." (Sure.) 3.5 stars\nNew line  here e.g. this'
    assert split_sentences(text) == [
        "It works.", "Really?!", '"Yes."', "(Sure.)", "3.5 stars", "New line here e.g.", "this",
    ]  # fmt: skip
    assert split_sentences("  \n\n ") == []
    assert split_sentences("no end") == ["no end"]


def test_snippets_pack_consecutive_sentences_greedily_up_to_the_limit():
    sentences = ["a" * 100 + ".", "b" * 100 + ".", "c" * 40 + ".", "d" * 10 + "."]
    packed = pack_snippets(sentences, 250)
    assert packed == [f"{sentences[0]} {sentences[1]} {sentences[2]}", sentences[3]]
    assert len(packed[0]) == 101 + 1 + 101 + 1 + 41 <= 250
    assert all(len(snippet) <= 250 for snippet in packed)


def test_a_sentence_longer_than_the_limit_is_cut_at_spaces_and_long_words_hard():
    long_sentence = " ".join(["word"] * 80)  # 399 characters
    pieces = pack_snippets(["short.", long_sentence, "end."], 250)
    assert pieces[0] == "short."
    assert all(len(p) <= 250 for p in pieces)
    assert " ".join(pieces[1:-1]) == long_sentence and pieces[-1] == "end."
    assert pack_snippets(["x" * 600], 250) == ["x" * 250, "x" * 250, "x" * 100]


def test_snippets_of_a_document_cover_its_sentences_in_order():
    text = " ".join(f"Sentence number {i} is here." for i in range(30))
    found = snippets(text, 250)
    assert " ".join(found) == " ".join(split_sentences(text))
    assert all(len(s) <= 250 for s in found) and len(found) > 1


# -- the 2,500-character cut and the ranking strategies -------------------------------------------


def test_concatenation_is_cut_at_max_chars_exactly():
    texts = ["a" * 1000, "b" * 1000, "c" * 1000, "d" * 1000]
    joined, used = concatenate(texts, 2500, " ")
    assert len(joined) == 2500
    assert joined == " ".join(texts)[:2500]
    assert used == [1000, 1000, 498]  # the fourth text is past the cut
    short, used_short = concatenate(["ab", "cd"], 2500, " | ")
    assert short == "ab | cd" and used_short == [2, 2]
    assert concatenate(texts, 0) == ("", [])
    assert concatenate(["abc", "def"], 4, " ") == ("abc ", [3])


class TableRetriever(BaseRetriever):
    """Scores each document by a fixed table (keyed by its text)."""

    name = "table"

    def __init__(self, scores):
        self.scores = scores

    def score(self, query):
        return [self.scores[document] for document in query.documents]


class Example:
    def __init__(self, example_id, query, profile):
        self.id, self.input, self.profile = example_id, query, profile


def test_rank_doc_by_snippet_scores_each_document_by_its_best_snippet():
    owners = [(0, 0), (0, 1), (1, 0), (2, 0), (2, 1)]
    order = best_snippet_order(owners, np.array([4, 1, 2, 0, 3]), np.array([9.0, 5.0, 5.0, 1, 0]))
    assert order == [(2, 9.0), (0, 5.0), (1, 5.0)]  # equal best scores keep document order

    sentence = "x" * 244 + "."
    profile = [
        {"id": "d0", "title": "", "text": f"{sentence} low one."},
        {"id": "d1", "title": "", "text": f"{sentence} high one."},
        {"id": "d2", "title": "", "text": f"{sentence} mid one."},
    ]
    scores = {sentence: 0.0, "low one.": 1.0, "high one.": 7.0, "mid one.": 3.0}
    (by_snippet,) = rank_contexts([Example("q", "query", profile)], "RankDocBySnpt",
                                  TableRetriever(scores), max_chars=2500)  # fmt: skip
    assert [(entry.doc, entry.score) for entry in by_snippet.entries] == [(1, 7.0), (2, 3.0),
                                                                          (0, 1.0)]  # fmt: skip
    assert by_snippet.text.startswith(f"{sentence} high one. {sentence} mid one.")
    (by_unit,) = rank_contexts([Example("q", "query", profile)], "RankSnippet",
                               TableRetriever(scores), max_chars=20)  # fmt: skip
    assert [(e.doc, e.snippet, e.chars) for e in by_unit.entries] == [
        (1, 1, 9),
        (2, 1, 8),
        (0, 1, 1),
    ]
    assert by_unit.text == "high one. mid one. l" and isinstance(by_unit, RankedContext)
    assert by_unit.entry_texts() == ["high one.", "mid one.", "l"]


# -- keywords --------------------------------------------------------------------------------------


def test_words_are_lower_cased_runs_with_inner_apostrophes():
    assert words("Don't STOP, it's 2 good_ones!") == ["don't", "stop", "it's", "2", "good", "ones"]


def _idf(common=(), rare=(), n=100):
    return IdfTable(n, {**{w: 90 for w in common}, **{w: 2 for w in rare}})


def test_context_independent_keywords_filter_and_order():
    idf = IdfTable(100, {"kettle": 10, "toaster": 5, "lamp": 5, "often": 60, "zebra": 1})
    texts = ["the kettle kettle toaster lamp often often often", "kettle toaster lamp zebra the"]
    rules = KeywordRules(min_frequency=2, min_idf=1.5, max_words=20)
    found = frequent_keywords(texts, idf, frozenset({"the"}), rules)
    # 'the' is a stopword, 'zebra' occurs once, 'often' has idf ln(100/60) < 1.5
    assert found == ["kettle", "lamp", "toaster"]  # by frequency (3, 2, 2), then idf, then a-z
    idf_toaster_rarer = IdfTable(100, {"kettle": 10, "toaster": 3, "lamp": 5, "often": 60})
    assert frequent_keywords(texts, idf_toaster_rarer, frozenset({"the"}), rules)[1] == "toaster"
    capped = frequent_keywords([" ".join(f"w{i} w{i}" for i in range(30))], IdfTable(100, {}),
                               frozenset(), rules)  # fmt: skip
    assert len(capped) == 20


def test_weak_keyword_labels_match_identical_synonym_and_embedding_words():
    idf = IdfTable(100, {})  # every word rare: idf ln(100) passes
    vectors = {"sturdy": [1.0, 0.0], "solid": [0.95, 0.05], "blue": [0.0, 1.0], "red": [0.6, 0.8]}
    matcher = WordMatcher(
        synonyms=lambda word: frozenset({"cheap"}) if word == "inexpensive" else frozenset(),
        embed=lambda items: np.array([vectors.get(w, [0.0, 0.0]) for w in items]),
        embedding_threshold=0.9,
        embedding_identity="toy",
    )
    retrieved = ["kettle kettle inexpensive solid blue red the", "kettle solid"]
    gold = "a cheap kettle that is sturdy"
    label = keyword_label(retrieved, gold, idf, frozenset({"the", "a", "that", "is"}),
                          KeywordRules(), matcher)  # fmt: skip
    # kettle: identical (3x); solid: embedding cosine to sturdy 0.998 (2x); inexpensive: synonym
    assert label == ["kettle", "solid", "inexpensive"]
    assert matcher.describe()["synonyms"] == "wordnet" and matcher.describe()["embedding"] == "toy"
    plain = WordMatcher()
    assert keyword_label(retrieved, gold, idf, frozenset(), KeywordRules(), plain) == ["kettle"]
    assert plain.describe() == {"identical": True, "synonyms": "none", "embedding": None,
                                "embedding_threshold": None}  # fmt: skip


# -- summary weak labels ---------------------------------------------------------------------------


def test_greedy_selection_takes_the_best_untaken_snippet_in_gold_order():
    similarity = np.array([[0.9, 0.8, 0.1], [0.95, 0.5, 0.2], [0.1, 0.2, 0.3], [0.5, 0.5, 0.5]])
    # row 0 takes 0; row 1's best (0) is taken: takes 1; row 2 takes 2; nothing is left for row 3
    assert greedy_select(similarity) == [0, 1, 2]
    assert greedy_select(np.array([[0.5, 0.5]])) == [0]  # ties: the earlier snippet
    assert greedy_select(np.zeros((2, 0))) == []


def test_summary_label_joins_the_selected_retrieved_snippets():
    table = {"Gold about tea.": [1, 0], "Gold about bikes.": [0, 1], "Tea is warm.": [0.9, 0.1],
             "Bikes are fast.": [0.1, 0.9], "Unrelated text.": [0.5, 0.5]}  # fmt: skip
    label = summary_label(
        "Gold about bikes. Gold about tea.", ["Unrelated text. Tea is warm.", "Bikes are fast."],
        lambda items: np.array([table[t] for t in items], dtype=np.float32), snippet_chars=17,
    )  # fmt: skip
    assert label == "Bikes are fast. Tea is warm."


# -- data rules and the user split -----------------------------------------------------------------


def _documents(users=20, per_user=8, length=400):
    return [
        Document(f"u{u:02d}", f"d{n}", f"Body {u} {n}. " + "x" * length, f"T{n}", f"2020-{n + 1:02d}",
                 u * 100 + n)
        for u in range(users) for n in range(per_user)
    ]  # fmt: skip


def test_targets_need_length_and_earlier_documents_and_profiles_are_earlier():
    documents = [
        Document("u", "late", "z" * 400, "", "2021-01-01", 0),
        Document("u", "a", "a" * 400, "", "2020-01-01", 1),
        Document("u", "short", "s" * 100, "", "2020-06-01", 2),
        Document("u", "b", "b" * 400, "", "2020-03-01", 3),
    ]
    from ropg.multistage.documents import by_user

    ordered = by_user(documents)["u"]
    assert [d.id for d in ordered] == ["a", "b", "short", "late"]
    examples = user_examples(ordered, PassageRules(min_examples_per_user=1))
    assert [e.id for e in examples] == ["u/late"]  # 'short' is too short; a, b lack 2 earlier
    assert [item["id"] for item in examples[0].profile] == ["a", "b", "short"]
    assert examples[0].input == "z" * 150 and examples[0].gold == "z" * 250


def test_immediate_context_is_the_first_150_characters():
    assert cut_context("abc def", 4) == ("abc ", "def")
    assert cut_context("abc defgh", 6, "word") == ("abc", " defgh")
    assert cut_context("abcdefgh", 3, "word") == ("abc", "defgh")


def test_user_rules_and_the_85_5_10_split_by_user():
    rules = PassageRules(max_examples_per_user=4, seed=3)
    splits = build_splits(_documents(), rules)
    users = {name: set(split.users) for name, split in splits.items()}
    assert [len(users[n]) for n in ("train", "dev", "test")] == [17, 1, 2]
    assert not users["train"] & users["test"] and not users["train"] & users["dev"]
    assert all(len(split) == 4 * len(users[name]) for name, split in splits.items())
    again = build_splits(_documents(), rules)
    assert {n: s.ids for n, s in again.items()} == {n: s.ids for n, s in splits.items()}
    other = build_splits(_documents(), PassageRules(max_examples_per_user=4, seed=4))
    assert set(other["test"].users) != users["test"] or set(other["dev"].users) != users["dev"]
    few = [d for d in _documents() if not (d.user_id == "u00" and d.id >= "d5")]
    assert "u00" not in {u for s in build_splits(few, rules).values() for u in s.users}
    assignment = split_users([f"u{i}" for i in range(100)], (0.85, 0.05, 0.10), 0)
    assert sorted(assignment.values()).count("train") == 85
    with pytest.raises(UserError, match="min_examples_per_user"):
        build_splits(_documents(users=2, per_user=3), PassageRules())


# -- author distinction pairs ----------------------------------------------------------------------


def test_author_pairs_never_use_a_validation_or_test_user():
    splits = build_splits(_documents(users=30), PassageRules(max_examples_per_user=3))
    moved = splits["test"].examples[0]  # a test user who also has a training example
    splits["train"].examples.append(moved)
    eligible = author.eligible_users(splits)
    held_out = set(splits["dev"].users) | set(splits["test"].users)
    assert held_out and not held_out & set(eligible)
    documents = author.user_documents(splits["train"], eligible)
    pairs = author.sample_author_pairs(documents, 200, seed=0)
    assert {p.first_user for p in pairs} | {p.second_user for p in pairs} <= set(eligible)
    assert sum(p.label == "true" for p in pairs) == 100
    assert all((p.first_user == p.second_user) == (p.label == "true") for p in pairs)
    assert all(p.first != p.second for p in pairs if p.label == "true")
    assert pairs == author.sample_author_pairs(documents, 200, seed=0)
    examples = author.pair_examples(pairs[:2], passage_chars=10)
    assert examples[0][0] == author_input(pairs[0].first[:10], pairs[0].second[:10])
    assert examples[0][0].startswith("Predict whether two passages are from the same author.")
    mixed = author.mix_tasks([("g", "x")] * 4, examples, seed=1)
    assert sorted(mixed) == sorted([("g", "x")] * 4 + examples)
    assert author.author_accuracy(["true", "False ", "maybe"], [pairs[0]] * 3) == pytest.approx(
        (pairs[0].label == "true") / 3 + (pairs[0].label == "false") / 3)  # fmt: skip


# -- prompts, task and metrics ---------------------------------------------------------------------


def test_generation_input_has_the_prefixed_fields_in_order_and_drops_empty_ones():
    fields = GenerationFields("Once upon", summary="a tale", important_words="", past_passages="x")
    assert generation_input(fields) == (
        "Finish the passage in the user voice. passage start: Once upon summary: a tale "
        "past passages: x"
    )
    assert generation_input(GenerationFields("a\n b")) == (
        "Finish the passage in the user voice. passage start: a b"
    )


def test_prompt_budget_shortens_the_past_passages_only(bert_tokenizer):
    fields = GenerationFields("the movie", past_passages=" ".join(["film"] * 200))
    fitted = fit_to_budget(fields, bert_tokenizer, 40, "write")
    assert len(bert_tokenizer(fitted)["input_ids"]) <= 40
    assert fitted.startswith("write passage start: the movie past passages: film")
    task = PassageTask()
    prompt = task.prompt("the movie", [{"id": "1", "title": "big", "text": "film"}], None)
    assert prompt.endswith("past passages: big film")


def test_passage_task_implements_the_task_protocols():
    task = PassageTask()
    splits = build_splits(_documents(), PassageRules(max_examples_per_user=2), task)
    assert isinstance(task, TaskLike) and isinstance(splits["train"], SplitLike)
    assert isinstance(splits["train"].examples[0], ExampleLike)
    example = splits["train"].examples[0]
    assert task.find_query(example.input) == example.input
    assert task.documents(example.profile)[0] == "T0 Body " + example.profile[0]["text"][5:]
    assert task.metric_keys == ("bleu", "rouge-1", "rouge-2", "rouge-L")
    assert splits["train"].head(3).ids == splits["train"].ids[:3]


def test_metrics_match_sacrebleu_and_rouge_score():
    import sacrebleu
    from rouge_score import rouge_scorer

    golds = ["the cat sat on the mat today", "a dog ran in the park"]
    preds = ["the cat sat on a mat", "the dog ran far"]
    found = metrics.evaluate(golds, preds)
    assert found["bleu"] == pytest.approx(sacrebleu.corpus_bleu(preds, [golds]).score)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])
    expected = [scorer.score(g, p) for g, p in zip(golds, preds)]
    assert found["rouge-2"] == pytest.approx(np.mean([e["rouge2"].fmeasure for e in expected]))
    per = metrics.per_example(golds, preds)
    assert per["bleu"][0] == pytest.approx(sacrebleu.sentence_bleu(preds[0], [golds[0]]).score)
    assert PassageTask().example_score(golds[0], preds[0]) == pytest.approx(
        expected[0]["rouge1"].fmeasure)  # fmt: skip
    better = metrics.per_example(golds * 5, golds * 5)
    worse = metrics.per_example(golds * 5, preds * 5)
    assert metrics.significance(better, worse)["rouge-1"] < 0.05


def test_synonyms_come_from_wordnet_only_when_it_is_installed():
    from ropg.multistage.keywords import resolve_synonyms, wordnet_synonyms

    assert resolve_synonyms("none") is None
    installed = wordnet_synonyms() is not None
    assert (resolve_synonyms("auto") is not None) == installed
    if installed:
        assert "automobile" in resolve_synonyms("wordnet")("car")
    else:
        with pytest.raises(UserError, match="WordNet"):
            resolve_synonyms("wordnet")
    with pytest.raises(UserError, match="synonyms must be one of"):
        resolve_synonyms("thesaurus")


def test_wordnet_synonyms_read_lemmas_of_every_synset(monkeypatch):
    """The WordNet path without WordNet's data: NLTK's corpus reader replaced by one with the
    same interface (synsets -> lemmas -> name), as it answers when the data is installed."""
    import nltk.corpus

    from ropg.multistage.keywords import WordMatcher, resolve_synonyms, wordnet_synonyms

    class Lemma:
        def __init__(self, name):
            self._name = name

        def name(self):
            return self._name

    class Synset:
        def __init__(self, *names):
            self._lemmas = [Lemma(name) for name in names]

        def lemmas(self):
            return self._lemmas

    table = {
        "good": [Synset("good", "Beneficial")],
        "car": [Synset("car", "auto", "automobile", "motor_car"), Synset("car", "railcar")],
        "automobile": [Synset("car", "auto", "automobile", "motor_car")],
    }

    class FakeWordNet:
        def synsets(self, word):
            return table.get(word, [])

    monkeypatch.setattr(nltk.corpus, "wordnet", FakeWordNet())
    wordnet_synonyms.cache_clear()
    try:
        synonyms = resolve_synonyms("wordnet")
        assert synonyms("car") == frozenset({"auto", "automobile", "railcar"})  # no multiword
        assert synonyms("good") == frozenset({"beneficial"})  # lower-cased, not itself
        assert synonyms("zebra") == frozenset()
        assert resolve_synonyms("auto") is synonyms
        matcher = WordMatcher(synonyms=synonyms)
        assert matcher.describe()["synonyms"] == "wordnet"
        # a retrieved "automobile" matches a gold "car": the weak label keeps it
        assert matcher.matched(["automobile", "zebra"], ["car"]) == {"automobile"}
    finally:
        wordnet_synonyms.cache_clear()
