"""Shared helpers of the ``test_reliability_*`` files (imported, not a conftest)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from ropg.lamp.synthetic import sample_path

SAMPLE = sample_path()


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    """Generation and embedding caches of the module's own (``$ROPG_CACHE_DIR``), so that no
    output cached by an earlier run hides what a test checks, and no test writes the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ROPG_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


def copy_split(root: Path, task: str = "LaMP_3", split: str = "dev") -> Path:
    """The sample's ``task`` ``split`` files copied under ``root`` (time layout); returns the
    data directory."""
    source = Path(SAMPLE) / "time" / task / split
    target = root / "data" / "time" / task / split
    target.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        shutil.copy2(path, target / path.name)
    return root / "data"


def questions_file(data: Path, task: str = "LaMP_3", split: str = "dev") -> Path:
    return data / "time" / task / split / f"{split}_questions.json"


def outputs_file(data: Path, task: str = "LaMP_3", split: str = "dev") -> Path:
    return data / "time" / task / split / f"{split}_outputs.json"


def edit_json(path: Path, change: Callable[[Any], None]) -> None:
    """Load ``path``, apply ``change`` to the value, write it back."""
    value = json.loads(path.read_text(encoding="utf-8"))
    change(value)
    path.write_text(json.dumps(value), encoding="utf-8")


def pool_args(
    data: Path | str, out: Path | str, *extra: str, limit: int = 3, retrievers: str = "none,bm25"
) -> list[str]:
    """``ropg-feedback pool`` on LaMP-3 dev with the retrieval-only reader (no model)."""
    return [
        "pool", "--data", str(data), "--task", "LaMP-3", "--split", "dev", "--limit", str(limit),
        "--retrievers", retrievers, "--k", "2", "--llm", "reader:profile", "--out", str(out),
        "--no-progress", "--chunk-size", "1", *extra,
    ]  # fmt: skip


def run_main(main: Callable[[Sequence[str] | None], int], argv: Sequence[str], capsys) -> tuple[
    int, str
]:  # fmt: skip
    """``main(argv)`` in process: its exit code (argparse's too) and its stderr."""
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 2
    return code, capsys.readouterr().err


def one_line_error(code: int, err: str) -> bool:
    """Exit code 2 with one ``error:`` line and no traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    return (
        code == 2
        and len(lines) == 1
        and lines[0].startswith("error: ")
        and ("Traceback" not in err)
    )


def snapshot(path: Path) -> Any:
    """What is at ``path``, to compare before and after (kind, bytes or listing, link)."""
    if path.is_symlink():
        return ("link", str(path.readlink()), snapshot(path.resolve()))
    if path.is_fifo():
        return ("fifo",)
    if path.is_dir():
        return ("dir", sorted((p.name, snapshot(p)) for p in path.iterdir()))
    if path.is_file():
        return ("file", path.read_bytes())
    return ("missing",)
