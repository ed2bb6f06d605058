"""``ropg-rank`` end to end on a small LaMP-format dataset, with built-in and plug-in retrievers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from ropg.cli.rank import main
from ropg.retrievers import BaseRetriever, RetrievalQuery, get_retriever


class LongestFirst(BaseRetriever):
    """The ten-line plug-in of the README: longest documents first (or shortest)."""

    name = "longest"

    def __init__(self, shortest: bool = False) -> None:
        self.sign = -1 if shortest else 1

    def score(self, query: RetrievalQuery) -> list[float]:
        return [self.sign * len(document) for document in query.documents]


DESCRIPTIONS = [
    "a robot falls in love in space",
    "war story of a robot army",
    "a quiet family drama",
    "love and war in a small town, a long and winding story of love",
    "space pirates",
]


def _question(number: int) -> dict:
    profile = [
        {"id": f"{number}{i}", "description": text, "tag": "sci-fi", "date": f"201{i}-0{i + 1}"}
        for i, text in enumerate(DESCRIPTIONS[number % 2 :])
    ]
    query = ["robot love story", "war in space"][number % 2]
    return {
        "id": f"q{number}",
        "input": f"Which tag does this movie relate to among the following tags? Just answer "
        f"with the tag name without further explanation. tags: [sci-fi, comedy] "
        f"description: {query}",
        "profile": profile,
    }


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data" / "time" / "LaMP_2" / "dev"
    folder.mkdir(parents=True)
    questions = [_question(n) for n in range(4)]
    (folder / "dev_questions.json").write_text(json.dumps(questions), encoding="utf-8")
    golds = {"task": "LaMP_2", "golds": [{"id": q["id"], "output": "sci-fi"} for q in questions]}
    (folder / "dev_outputs.json").write_text(json.dumps(golds), encoding="utf-8")
    return tmp_path / "data"


def _run(data_dir: Path, out: Path, *extra: str) -> int:
    base = ["--data", str(data_dir), "--task", "LaMP-2", "--split", "dev", "--out", str(out)]
    return main([*base, "--no-progress", *extra])


def test_bm25_end_to_end_with_merged(data_dir: Path, tmp_path: Path) -> None:
    out, merged = tmp_path / "out" / "rankings.json", tmp_path / "merged.json"
    code = _run(data_dir, out, "--retriever", "bm25", "--top-k", "3", "--merged", str(merged))
    assert code == 0
    rankings = json.loads(out.read_text(encoding="utf-8"))
    assert list(rankings) == ["q0", "q1", "q2", "q3"]
    for number in range(4):
        question = _question(number)
        docs = [item["description"] for item in question["profile"]]
        query = question["input"].split("description:")[1].strip()
        scores = BM25Okapi([d.split() for d in docs]).get_scores(query.split())
        expected = [question["profile"][i]["id"] for i in np.argsort(scores)[::-1][:3]]
        assert rankings[f"q{number}"] == expected
    records = json.loads(merged.read_text(encoding="utf-8"))
    assert [r["id"] for r in records] == ["q0", "q1", "q2", "q3"]
    for record in records:
        assert [item["id"] for item in record["profile"]] == rankings[record["id"]]
        assert record["input"].startswith("Which tag")


def test_options_reference_and_rrf(data_dir: Path, tmp_path: Path) -> None:
    fast, ref = tmp_path / "fast.json", tmp_path / "ref.json"
    assert _run(data_dir, fast, "--retriever", "bm25", "--use-date") == 0
    options = ["--option", "implementation=reference", "--option", "k1=1.5"]
    assert _run(data_dir, ref, "--retriever", "bm25", "--use-date", *options) == 0
    assert json.loads(fast.read_text()) == json.loads(ref.read_text())
    rrf = tmp_path / "rrf.json"
    rrf_options = ["--option", "retrievers=[bm25, recency]", "--option", "k=60"]
    assert _run(data_dir, rrf, "--retriever", "rrf", *rrf_options, "--top-k", "2") == 0
    assert all(len(ids) == 2 for ids in json.loads(rrf.read_text()).values())


def _expected_longest(shortest: bool = False) -> dict[str, list[str]]:
    result = {}
    for number in range(4):
        profile = _question(number)["profile"]
        order = sorted(
            range(len(profile)),
            key=lambda i: (len(profile[i]["description"]) * (1 if shortest else -1), i),
        )
        result[f"q{number}"] = [profile[i]["id"] for i in order[:2]]
    return result


def test_plugin_by_module_path(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "plugin.json"
    spec = f"{__name__}:LongestFirst"
    assert isinstance(get_retriever(spec), LongestFirst)
    code = _run(data_dir, out, "--retriever", spec, "--option", "shortest=true", "--top-k", "2")
    assert code == 0
    assert json.loads(out.read_text()) == _expected_longest(shortest=True)


def test_plugin_by_entry_point(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    dist_info = site / "ropg_test_plugin-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ropg-test-plugin\nVersion: 0.1\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(
        f"[ropg.retrievers]\nlongest-test = {__name__}:LongestFirst\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(site))
    out = tmp_path / "entry.json"
    assert _run(data_dir, out, "--retriever", "longest-test", "--top-k", "2") == 0
    assert json.loads(out.read_text()) == _expected_longest()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--retriever", "no-such-retriever"], "unknown retriever 'no-such-retriever'"),
        (["--retriever", "no_such_module:Thing"], "cannot import retriever module"),
        (["--retriever", "bm25", "--option", "k9=1"], "rejected its options"),
        (["--retriever", "bm25", "--option", "idf=bm11"], "unknown idf"),
        (["--retriever", "bm25", "--retriever-option", "k1"], "KEY=VALUE"),
    ],
)
def test_user_errors_exit_2_without_output(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    out = tmp_path / "never.json"
    assert _run(data_dir, out, *arguments) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1 and message in error
    assert not out.exists()


def test_missing_data_and_bad_dates_exit_2(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never.json"
    assert _run(tmp_path / "missing", out, "--retriever", "bm25") == 2
    assert "data directory not found" in capsys.readouterr().err
    questions = data_dir / "time" / "LaMP_2" / "dev" / "dev_questions.json"
    records = json.loads(questions.read_text())
    del records[2]["profile"][1]["date"]
    questions.write_text(json.dumps(records))
    assert _run(data_dir, out, "--retriever", "recency") == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "'q2'" in error and "'21'" in error
    assert not out.exists()
