"""The fast loading path (msgspec, whole-profile checks) gives what the standard-library path gave:
the same Examples on the shipped sample, the same values or the same errors on edge documents."""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path

import pytest
from test_lamp_data import questions, use_stdlib_loading, write

from ropg.lamp import LampDataError, load_split
from ropg.lamp.data import read_json
from ropg.lamp.synthetic import sample_path
from ropg.lamp.tasks import get_task


def _both(monkeypatch: pytest.MonkeyPatch, action):
    """``action()`` through the fast path, then through the standard-library path: each side is
    ``("ok", repr(value))`` (types and key order included) or ``("error", message)``."""
    results = []
    for stdlib in (False, True):
        with monkeypatch.context() as patch:
            if stdlib:
                use_stdlib_loading(patch)
            try:
                results.append(("ok", repr(action())))
            except LampDataError as error:
                results.append(("error", str(error)))
    return results


def _sample_splits() -> list[tuple[str, str]]:
    root = sample_path() / "time"
    return sorted(
        (get_task(folder.name).name, split.name)
        for folder in root.iterdir()
        for split in folder.iterdir()
    )


@pytest.mark.parametrize(("task", "split"), _sample_splits())
def test_sample_loads_identically(monkeypatch, task, split):
    def load():
        loaded = load_split(sample_path(), task, split)
        return [(e.id, e.input, e.profile, e.user_id, e.gold) for e in loaded.examples]

    fast, stdlib = _both(monkeypatch, load)
    assert fast[0] == "ok" and fast == stdlib


EDGE_DOCUMENTS = [
    b'{"a": NaN, "b": Infinity, "c": -Infinity}',  # json accepts these, msgspec does not
    b'["\\ud800", "\\udc00x", "\\ud83d\\ude00"]',  # lone surrogates; a valid pair
    b"[1e400, -1e400, 1e-400, 2.2250738585072011e-308, 4.9e-324]",
    b"[123456789012345678901234567890, -9223372036854775809, 18446744073709551616, -0, -0.0]",
    b'{"k": 1, "k": 2, "j": 3}',  # duplicate keys: the last value, the first position
    b'"\\u00e9\\u6771\\/\\b\\f\\n\\r\\t\\"\\\\"',
    '["é東😀", {"\u3000": "\x7f"}]'.encode(),
    b"[1,\r\n 2]\r\n",
    b"\xef\xbb\xbf[1]",  # a UTF-8 byte-order mark
    b'["\xff"]',  # invalid UTF-8
    b'["a\nb"]',  # a raw control character in a string
    b"[1, 2,]",
    b'{"a": 1} x',
    b"[1, 2",
    b"",
    b"  \n",
    b"[" * 40 + b"]" * 40,
]


@pytest.mark.parametrize("document", EDGE_DOCUMENTS, ids=range(len(EDGE_DOCUMENTS)))
def test_read_json_matches_the_standard_library(tmp_path, monkeypatch, document):
    path = tmp_path / "doc.json"
    path.write_bytes(document)
    fast, stdlib = _both(monkeypatch, lambda: read_json(path))
    assert fast == stdlib


def test_too_deep_documents_are_a_data_error_naming_the_file(tmp_path, monkeypatch):
    path = tmp_path / "deep.json"
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    for stdlib in (False, True):
        with monkeypatch.context() as patch:
            if stdlib:
                use_stdlib_loading(patch)
            with pytest.raises(LampDataError, match=r"deep\.json.*nested too deeply"):
                read_json(path)


def test_floats_and_integers_parse_exactly(tmp_path, monkeypatch):
    rng = random.Random(5)
    values = [struct.unpack("<d", rng.randbytes(8))[0] for _ in range(3000)]
    values = [v for v in values if v == v and abs(v) != float("inf")]
    values += [rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30) for _ in range(2000)]
    values += [rng.randint(-(2**70), 2**70) for _ in range(500)]
    path = write(tmp_path / "numbers.json", json.dumps(values))
    fast, stdlib = _both(monkeypatch, lambda: read_json(path))
    assert fast == stdlib == ("ok", repr(values))


CORRUPT_PROFILES = [
    {"id": "p", "description": "d", "tag": True},  # bool is no scalar here
    {"id": "p", "description": None, "tag": "t"},
    {"id": ["p"], "description": "d", "tag": "t"},
    {"id": "p", "description": {"x": 1}, "tag": "t"},
    {"description": "d", "tag": "t"},
    "not an item",
    ["p", "d"],
    None,
    7,
]


@pytest.mark.parametrize("item", CORRUPT_PROFILES, ids=range(len(CORRUPT_PROFILES)))
@pytest.mark.parametrize("position", [0, 3])
def test_profile_errors_are_the_same(tmp_path, monkeypatch, item, position):
    data = questions(profile_size=5)
    data[1]["profile"][position] = item
    path = write(tmp_path / "q.json", data)
    fast, stdlib = _both(monkeypatch, lambda: load_split(None, "LaMP-2", "dev", questions=path))
    assert fast[0] == "error" and fast == stdlib
    assert f"{path}, record 1, id 'q1', field 'profile[{position}]" in fast[1]


def test_plain_scalars_of_every_kind_pass(tmp_path, monkeypatch):
    data = questions(profile_size=4)
    data[0]["profile"][0].update(id=3, description=1.5, tag=-2)
    data[2]["profile"][3].update(id=10**30, description="", tag="x")
    path = write(tmp_path / "q.json", data)

    def load():
        return [e.profile for e in load_split(None, "LaMP-2", "dev", questions=path).examples]

    fast, stdlib = _both(monkeypatch, load)
    assert fast[0] == "ok" and fast == stdlib


def test_unreadable_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(LampDataError, match="file not found"):
        read_json(tmp_path / "missing.json")
    with pytest.raises(LampDataError, match="cannot read file"):
        read_json(tmp_path)
