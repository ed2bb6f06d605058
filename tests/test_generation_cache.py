"""The persistent generation cache: hits, misses, crash safety, processes, ``cache stats``."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from generation_fixtures import (
    PROMPTS,
    EchoGenerator,
    PlainGenerator,
    cache_writer,
    single_torch_thread,
    tiny_model_dir,
)

from ropg.cli.cache import cache_main, main
from ropg.generation import (
    CachedGenerator,
    GenerationCache,
    GenerationConfig,
    GenerationError,
    default_cache_path,
)
from ropg.generation.hf import HFGenerator


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> Iterator[None]:
    with single_torch_thread():
        yield


@pytest.fixture(scope="session")
def t5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_dir(tmp_path_factory, "t5")


def test_second_call_is_served_from_the_cache(tmp_path: Path) -> None:
    generator = EchoGenerator()
    cached = CachedGenerator(generator, tmp_path / "c.sqlite")
    first = cached.generate(["a", "b", "c"])
    assert first == ["128:A", "128:B", "128:C"]
    assert generator.generated == ["a", "b", "c"]
    assert cached.generate(["c", "a", "b"]) == ["128:C", "128:A", "128:B"]
    assert generator.generated == ["a", "b", "c"]  # no new model calls
    assert (cached.hits, cached.misses) == (3, 3)


def test_only_distinct_misses_are_generated(tmp_path: Path) -> None:
    generator = EchoGenerator()
    cached = CachedGenerator(generator, tmp_path / "c.sqlite")
    cached.generate(["a"])
    outputs = cached.generate(["b", "a", "b", "c", "b", ""])
    assert outputs == ["128:B", "128:A", "128:B", "128:C", "128:B", "128:"]
    assert generator.generated == ["a", "b", "c", ""]
    assert cached.generate([""]) == ["128:"]  # an empty output is a hit too
    assert generator.generated == ["a", "b", "c", ""]


def test_decoding_config_is_part_of_the_key(tmp_path: Path) -> None:
    generator = EchoGenerator()
    cached = CachedGenerator(generator, tmp_path / "c.sqlite")
    assert cached.generate(["a"]) == ["128:A"]
    short = generator.config.replace(max_new_tokens=5)
    assert cached.generate(["a"], short) == ["5:A"]
    assert cached.generate(["a"], short.replace(batch_size=7)) == ["5:A"]  # speed only
    # passing the default config explicitly is the same key as passing none
    assert cached.generate(["a"], generator.config) == ["128:A"]
    assert len(generator.generated) == 2
    other_model = CachedGenerator(EchoGenerator(model="echo-2"), cached.cache)
    other_model.generate(["a"])
    assert other_model.misses == 1


def test_finished_batches_survive_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    crashing = EchoGenerator(fail_after_batches=2)  # batch_size 2: 4 prompts done, then boom
    with pytest.raises(RuntimeError, match="simulated crash"):
        CachedGenerator(crashing, path).generate([f"p{i}" for i in range(7)])
    resumed = EchoGenerator()
    outputs = CachedGenerator(resumed, path).generate([f"p{i}" for i in range(7)])
    assert outputs == [f"128:P{i}" for i in range(7)]
    assert resumed.generated == ["p4", "p5", "p6"]


def test_generators_without_a_callback_are_chunked(tmp_path: Path) -> None:
    plain = PlainGenerator(batch_size=2)
    cached = CachedGenerator(plain, tmp_path / "c.sqlite")
    assert cached.generate(["ab", "cd", "ef", "ab"]) == ["ba", "dc", "fe", "ba"]
    assert plain.calls == [["ab", "cd"], ["ef"]]
    assert cached.generate(["ef"]) == ["fe"]
    assert len(plain.calls) == 2


def test_hf_outputs_are_identical_and_not_regenerated(t5_dir: Path, tmp_path: Path) -> None:
    config = GenerationConfig(max_new_tokens=5, num_beams=2, batch_size=3)
    generator = HFGenerator(str(t5_dir), config=config, show_progress=False)
    direct = generator.generate(PROMPTS)
    calls = []
    original = generator.model.generate

    def counting(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape[0])
        return original(*args, **kwargs)

    generator.model.generate = counting
    cached = CachedGenerator(generator, tmp_path / "c.sqlite")
    assert cached.generate(PROMPTS) == direct
    assert sum(calls) == len(PROMPTS) and len(calls) == 3  # written batch by batch
    again = CachedGenerator(
        HFGenerator(str(t5_dir), config=config, show_progress=False), tmp_path / "c.sqlite"
    )
    assert again.generate(PROMPTS) == direct
    assert again.generator._model is None  # never even loaded
    assert sum(calls) == len(PROMPTS)


def test_stats_are_persisted(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cached = CachedGenerator(EchoGenerator(), path)
    cached.generate(["a", "b", "c", "d"])
    cached.generate(["a", "b", "e"])
    cached.cache.close()
    with GenerationCache(path, create=False) as cache:
        stats = cache.stats()
    assert (stats.entries, stats.hits, stats.misses) == (5, 2, 5)
    assert stats.hit_rate == pytest.approx(2 / 7)
    assert stats.size_bytes > 0
    assert [(g.label, g.entries) for g in stats.generators] == [("echo", 5)]
    assert stats.generators[0].identity["model"] == "echo-1"


def test_prompts_are_not_stored(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cached = CachedGenerator(PlainGenerator(), path)
    cached.generate(["confidential profile text"])
    cached.cache.close()
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"confidential profile text" not in data


def test_two_processes_share_one_database(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite")
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    count = 300
    workers = [context.Process(target=cache_writer, args=(path, w, count, start)) for w in range(2)]
    for worker in workers:
        worker.start()
    start.set()  # both write at the same time: 60 transactions each, interleaved
    for worker in workers:
        worker.join(timeout=90)
    assert [worker.exitcode for worker in workers] == [0, 0]
    with GenerationCache(path, create=False) as cache:
        stats = cache.stats()
    assert stats.entries == count // 2 + 2 * (count // 2)  # shared prompts stored once
    assert stats.hits + stats.misses == 2 * count
    assert stats.misses >= stats.entries
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()


def test_default_cache_path_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROPG_CACHE_DIR", str(tmp_path / "here"))
    assert default_cache_path() == tmp_path / "here" / "generations.sqlite"
    cache = GenerationCache()
    assert cache.path.is_file()
    cache.close()
    monkeypatch.delenv("ROPG_CACHE_DIR")
    assert default_cache_path() == Path.home() / ".cache" / "ropg" / "generations.sqlite"


def test_cli_prints_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.sqlite"
    cached = CachedGenerator(EchoGenerator(), path)
    cached.generate(["a", "b"])
    cached.generate(["a"])
    cached.cache.close()
    assert main(["cache", "stats", "--cache", str(path)]) == 0
    text = capsys.readouterr().out
    assert "entries: 2" in text
    assert "hit rate: 33.3%" in text
    assert "size on disk:" in text and "echo" in text
    assert cache_main(["stats", "--cache", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["entries"] == 2 and data["hits"] == 1 and data["misses"] == 2


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.sqlite"
    assert main(["cache", "stats", "--cache", str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().count("\n") == 0
    assert "no generation cache at" in captured.err and "Traceback" not in captured.err
    assert not missing.exists()
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    assert main(["cache", "stats", "--cache", str(junk)]) == 2
    assert "cannot use" in capsys.readouterr().err
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    assert main(["cache", "stats", "--cache", str(other)]) == 2
    assert "not a ropg generation cache" in capsys.readouterr().err


def test_mismatched_output_count_is_an_error(tmp_path: Path) -> None:
    class Broken(PlainGenerator):
        def generate(self, prompts, config=None):
            return ["x"]

    with pytest.raises(GenerationError, match="returned 1 outputs for 2 prompts"):
        CachedGenerator(Broken(), tmp_path / "c.sqlite").generate(["a", "b"])
