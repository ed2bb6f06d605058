"""Shared fixtures: tokenizers and tiny models built offline (nothing is downloaded)."""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

WORDS = (
    "the a an of to and in is for on with as by at from this that it be are was were movie "
    "film story love war space robot future city world life time people man woman family "
    "friend title paper abstract neural network learning retrieval model user profile review "
    "score product great bad good terrible excellent headline news article email subject tweet "
    "paraphrase write written generate tag description which does relate following among just "
    "answer name without further explanation score scale what is the of review data method "
    "results show we propose novel approach deep language large personalized generation task "
    "dark comedy action fantasy romance classic psychology violence true sci-fi dystopia twist "
    "ending based book social commentary thought-provoking reference related author who has "
    "paper with patterns given person following are by user citation meeting tomorrow please "
    "send report today happy sad new old big small quick slow"
).split()


_ROOT_LEVEL = logging.getLogger().level


@pytest.fixture(autouse=True)
def restore_root_logging():
    """CLI mains run in-process call ``logging.basicConfig(level=..., force=True)`` (also from
    module-scoped fixtures); every test starts and ends with the session's root level."""
    root = logging.getLogger()
    root.setLevel(_ROOT_LEVEL)
    yield
    root.setLevel(_ROOT_LEVEL)
    logging.disable(logging.NOTSET)


def _corpus_lines(seed: int = 0, lines: int = 2000) -> list[str]:
    rng = random.Random(seed)
    punctuation = ['"', "[1]", "[2]", ",", ".", ":", "?", "1", "2", "3", "4", "5", "-", "&"]
    return [
        " ".join(rng.choice(WORDS) for _ in range(14)) + " " + " ".join(punctuation)
        for _ in range(lines)
    ]


def build_t5_tokenizer(folder: Path):
    """A T5-style tokenizer (appends ``</s>``) from a sentencepiece model trained offline."""
    import sentencepiece as spm
    from transformers import T5Tokenizer

    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(_corpus_lines()), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(folder / "spiece"), vocab_size=400,
        model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        character_coverage=1.0, hard_vocab_limit=False, minloglevel=2,
    )  # fmt: skip
    processor = spm.SentencePieceProcessor(model_file=str(folder / "spiece.model"))
    vocab = [(processor.id_to_piece(i), processor.get_score(i)) for i in range(len(processor))]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def build_bert_tokenizer():
    """A BERT-style WordPiece tokenizer (adds ``[CLS]``/``[SEP]``, lowercases)."""
    from transformers import BertTokenizer

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    pieces = sorted(set(WORDS)) + list("abcdefghijklmnopqrstuvwxyz0123456789\"',.:;?![]-&()")
    subwords = ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    vocab = list(dict.fromkeys(specials + pieces + subwords))
    return BertTokenizer(vocab={piece: index for index, piece in enumerate(vocab)})


@pytest.fixture(scope="session")
def t5_tokenizer(tmp_path_factory: pytest.TempPathFactory):
    """A T5-style tokenizer, built offline once per session."""
    return build_t5_tokenizer(tmp_path_factory.mktemp("t5_tokenizer"))


@pytest.fixture(scope="session")
def bert_tokenizer():
    """A BERT-style tokenizer, built offline once per session."""
    return build_bert_tokenizer()


def save_tiny_bert(directory: Path, tokenizer, **settings):
    """A random-init BERT (seed 0) saved with ``tokenizer`` in ``directory``; returns it.

    Defaults: hidden 32, 2 layers, 2 heads, intermediate 37, 64 positions; ``settings``
    override any ``BertConfig`` field (e.g. ``hidden_dropout_prob=0.0``).
    """
    import torch
    from transformers import BertConfig, BertModel

    values = {
        "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 37, "max_position_embeddings": 64,
    }  # fmt: skip
    config = BertConfig(vocab_size=len(tokenizer), **{**values, **settings})
    torch.manual_seed(0)
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
