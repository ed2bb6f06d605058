"""The whole multistage pipeline on a small synthetic set with tiny models: every row in the
table, a killed run resumed without redoing finished work, resumable training, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ropg.multistage import api, synthetic
from ropg.multistage.config import DEFAULT_ROWS, MultistageConfig
from ropg.multistage.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: tiny models train faster so on a shared CPU."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def small_config(tmp_path_factory, bert_tokenizer):
    """A config file: 16 synthetic users, a tiny BERT as the dense encoder, a tiny T5."""
    from conftest import save_tiny_bert

    root = tmp_path_factory.mktemp("multistage")
    documents = root / "documents.jsonl"
    with documents.open("w") as stream:
        for d in synthetic.generate_documents(users=16, seed=5, min_documents=7, max_documents=8):
            stream.write(json.dumps({"user_id": d.user_id, "id": d.id, "date": d.date,
                                     "title": d.title, "text": d.text}) + "\n")  # fmt: skip
    encoder = save_tiny_bert(root / "bert", bert_tokenizer, max_position_embeddings=512)
    values = {
        "work_dir": str(root / "run"),
        "rows": DEFAULT_ROWS,
        "data": {"source": str(documents), "min_examples_per_user": 3,
                 "max_examples_per_user": 3, "split_fractions": [0.5, 0.25, 0.25]},
        "rank": {"dense": {"retriever": "dense", "options": {"model": str(encoder)}},
                 "chunk": 4},
        "summary": {"generator": "hf:tiny-t5", "encoder": str(encoder),
                    "generation": {"max_new_tokens": 6, "num_beams": 1, "batch_size": 16}},
        "train": {"model": "tiny-t5", "tiny_d_model": 16, "tiny_layers": 1, "max_steps": 2,
                  "batch_size": 4, "lr": 1e-3, "optimizer": "adamw_torch", "warmup_steps": 0,
                  "scheduler": "constant", "max_source_tokens": 96, "max_target_tokens": 12,
                  "save_steps": 1, "mixed_precision": "no"},
        "generation": {"max_new_tokens": 6, "num_beams": 1, "batch_size": 4,
                       "stage_max_new_tokens": 6},
        "author": {"eval_pairs": 8, "passage_chars": 80},
    }  # fmt: skip
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def _complete_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return data[: data.rfind(b"\n") + 1].splitlines()


def _mtimes(root: Path, pattern: str) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in root.glob(pattern)}


def test_a_killed_run_resumes_without_redoing_finished_work(small_config):
    config = MultistageConfig.load(small_config)
    root = Path(config.work_dir)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "ropg.cli.multistage", "run", "--config", str(small_config), "-q"],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if len(list(root.glob("models/*/done.json"))) >= 2:
            break
        time.sleep(0.1)
    assert process.poll() is None, process.stderr.read().decode()[-2000:]
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = _mtimes(root, "models/*/done.json")
    ranked = {p: _complete_lines(Path(p)) for p in _mtimes(root, "rank/*/*.jsonl")}
    data = _mtimes(root, "data/*/*.jsonl")
    assert len(finished) >= 2 and ranked and not (root / "multistage.md").exists()

    result = api.run_pipeline(config)
    table = Path(result["table"]).read_text()
    for row in DEFAULT_ROWS:
        assert f"| {row} |" in table
    assert "author distinction accuracy" in table
    assert all(_mtimes(root, "models/*/done.json")[p] == t for p, t in finished.items())
    for path, lines in ranked.items():  # records written before the kill are kept as they were
        assert _complete_lines(Path(path))[: len(lines)] == lines
    assert _mtimes(root, "data/*/*.jsonl") == data
    recorded = json.loads((root / "multistage.json").read_text())
    assert recorded["word_matching"]["synonyms"] in ("wordnet", "none")
    assert recorded["word_matching"]["embedding"] and recorded["data"]["counts"]["test"] > 0
    rows = recorded["rows"]
    assert [row["row"] for row in rows] == DEFAULT_ROWS
    assert all(set(row["metrics"]) == {"bleu", "rouge-1", "rouge-2", "rouge-L"} for row in rows)
    assert all(len(row["per_example"]["rouge-1"]) == row["examples"] for row in rows)
    assert "p_vs_ImmedCtx" in rows[1] and "author_accuracy" in rows[-1]

    # a finished run again: every stage is reused (no training, no generation)
    cache = Workspace(config).generation_cache()
    misses = cache.stats().misses
    everything = _mtimes(root, "**/*.jsonl") | _mtimes(root, "models/*/done.json")
    assert api.table_rows(config)[-1]["metrics"] == rows[-1]["metrics"]
    assert cache.stats().misses == misses
    assert _mtimes(root, "**/*.jsonl") | _mtimes(root, "models/*/done.json") == everything


def test_training_stopped_between_checkpoints_resumes_from_the_last(
    tmp_path, small_config, capfd, caplog
):
    from ropg.multistage.training import FineTuneSettings, fine_tune

    caplog.set_level("INFO", logger="ropg.training")
    config = MultistageConfig.load(small_config, {"work_dir": str(tmp_path / "w")})
    base = Workspace(config).base_model("tiny-t5")
    pairs = [(f"passage start: review {i}", f"it is fine {i % 3}") for i in range(12)]
    settings = dict(lr=1e-3, optimizer="adamw_torch", scheduler="constant", warmup_steps=0,
                    max_steps=4, batch_size=2, save_steps=1, max_source_tokens=16,
                    max_target_tokens=8, mixed_precision="no")  # fmt: skip
    stopped = fine_tune(base, pairs, tmp_path / "m", FineTuneSettings(**settings,
                                                                      stop_after_steps=2))  # fmt: skip
    assert not stopped.completed and (tmp_path / "m" / "checkpoints" / "checkpoint-2").is_dir()
    finished = fine_tune(base, pairs, tmp_path / "m", FineTuneSettings(**settings))
    assert finished.completed and finished.facts["resumed_from"] == "checkpoint-2"
    assert finished.facts["steps"] == 4 and (finished.model_dir / "config.json").is_file()
    # the trainer's log lines go to logging, not to stdout (which -q could not silence)
    assert "train_runtime" not in capfd.readouterr().out
    assert any("train_runtime" in record.getMessage() for record in caplog.records)
    again = fine_tune(base, pairs, tmp_path / "m", FineTuneSettings(**settings))
    assert again.facts == finished.facts  # done: not trained again


def test_rank_stage_killed_mid_way_resumes_to_the_same_file(tmp_path, small_config, monkeypatch):
    from ropg.multistage import stages

    config = MultistageConfig.load(small_config, {"work_dir": str(tmp_path / "w"),
                                                  "rank.chunk": 2})  # fmt: skip
    reference = stages.rank_stage(Workspace(config), "RankDocBM25", "train")
    path = next((tmp_path / "w" / "rank").glob("RankDocBM25-*/train.jsonl"))
    expected = path.read_bytes()
    path.unlink()
    calls = []
    real = stages.rank_contexts

    class Killed(Exception):
        pass

    def interrupted(examples, *args, **kwargs):
        calls.append(len(examples))
        if len(calls) == 2 and not resumed_once:
            raise Killed
        return real(examples, *args, **kwargs)

    resumed_once = False
    monkeypatch.setattr(stages, "rank_contexts", interrupted)
    with pytest.raises(Killed):
        stages.rank_stage(Workspace(config), "RankDocBM25", "train")
    resumed_once = True
    assert len(path.read_text().splitlines()) == 1 + 2  # the header and the first chunk
    calls.clear()
    resumed = stages.rank_stage(Workspace(config), "RankDocBM25", "train")
    assert sum(calls) == len(reference) - 2  # only the unfinished examples were ranked
    assert resumed == reference and path.read_bytes() == expected


def test_cli_prints_config_builds_data_and_rejects_bad_settings(small_config, tmp_path, capsys):
    from ropg.cli.multistage import main

    work = str(tmp_path / "cli")
    assert main(["build-data", "--config", str(small_config), "--work-dir", work, "-q"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["counts"]["train"] > 0 and Path(facts["dir"]).is_dir()
    assert main(["run", "--config", str(small_config), "--rank.max-chars", "900",
                 "--print-config"]) == 0  # fmt: skip
    assert yaml.safe_load(capsys.readouterr().out)["rank"]["max_chars"] == 900
    from ropg.cli.main import main as ropg

    assert ropg(["multistage", "run", "--config", str(small_config), "--print-config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["rank"]["max_chars"] == 2500
    assert main(["run", "--config", str(small_config), "--rank.base", "RankNothing"]) == 2
    assert "unknown ranking strategy" in capsys.readouterr().err
    assert main(["run", "--config", str(small_config), "--rows", "[ImmedCtx, Nope]"]) == 2
    assert "unknown row 'Nope'" in capsys.readouterr().err
    assert main(["build-data", "--config", str(small_config), "--data.source",
                 str(tmp_path / "none.jsonl")]) == 2  # fmt: skip
    assert "does not exist" in capsys.readouterr().err


def test_the_shipped_config_loads_at_paper_scale_and_with_cpu_overrides():
    path = REPO / "benchmarks" / "configs" / "multistage.yaml"
    paper = MultistageConfig.load(path)
    assert paper.generation.num_beams == 4 and "t5" in paper.train.model
    assert paper.rank.max_chars == 2500 and paper.data.context_chars == 150
    cpu = MultistageConfig.load(path, profile="cpu")
    assert cpu.train.model == "tiny-t5" and cpu.data.source == "sample"
    assert cpu.rows == paper.rows == DEFAULT_ROWS


def test_every_strategy_ranks_and_doc_by_snippet_takes_the_best_snippet(small_config, tmp_path):
    from ropg.multistage.ranking import STRATEGIES, rank_contexts
    from ropg.multistage.stages import rank_stage

    config = MultistageConfig.load(small_config, {"work_dir": str(tmp_path / "w")})
    ws = Workspace(config)
    for strategy in STRATEGIES:
        records = rank_stage(ws, strategy, "test")
        assert set(records) == set(ws.split("test").ids)
        for record in records.values():
            assert 0 < len(record["text"]) <= config.rank.max_chars
            assert all(("snippet" in e) == (strategy == "RankSnippet") for e in record["entries"])
    examples = ws.split("test").examples[:3]
    dense = ws.retriever("dense")
    by_snippet = rank_contexts(examples, "RankSnippet", dense, max_chars=10**7)
    by_document = rank_contexts(examples, "RankDocBySnpt", dense, max_chars=10**7)
    for snippets_ranked, documents_ranked in zip(by_snippet, by_document):
        best: dict[int, float] = {}
        for entry in snippets_ranked.entries:
            best[entry.doc] = max(best.get(entry.doc, -1e30), entry.score)
        assert {e.doc: e.score for e in documents_ranked.entries} == pytest.approx(best)
        scores = [e.score for e in documents_ranked.entries]
        assert scores == sorted(scores, reverse=True)


def test_a_causal_generator_trains_with_trl_sft_and_generates(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    from ropg.generation import GenerationConfig, get_generator
    from ropg.multistage.training import FineTuneSettings, fine_tune

    vocab = ["<pad>", "</s>", "<unk>", *sorted(set("passage start the cat sat on a mat".split()))]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>",
                                        eos_token="</s>", unk_token="<unk>")  # fmt: skip
    config = GPT2Config(vocab_size=len(vocab), n_positions=64, n_embd=16, n_layer=1, n_head=2,
                        bos_token_id=1, eos_token_id=1, pad_token_id=0)  # fmt: skip
    GPT2LMHeadModel(config).save_pretrained(tmp_path / "gpt")
    tokenizer.save_pretrained(tmp_path / "gpt")
    pairs = [("passage start : the cat", "sat on a mat")] * 8
    settings = FineTuneSettings(lr=1e-2, optimizer="adamw_torch", scheduler="constant",
                                warmup_steps=0, max_steps=3, batch_size=4, save_steps=2,
                                max_source_tokens=16, max_target_tokens=8,
                                mixed_precision="no")  # fmt: skip
    result = fine_tune(str(tmp_path / "gpt"), pairs, tmp_path / "run", settings)
    assert result.completed and result.facts["steps"] == 3
    generator = get_generator(f"hf:{result.model_dir}", chat=False, show_progress=False,
                              config=GenerationConfig(max_new_tokens=3, num_beams=1))  # fmt: skip
    assert len(generator.generate(["passage start : the cat"])) == 1
