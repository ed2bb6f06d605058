"""The package's boundaries, checked over its source with ``ast`` (every import, also the ones
inside functions): generation knows nothing of LaMP, retrievers nothing of LLMs, the LaMP task
layer no model library; no library module imports the command line or ``benchmarks/``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ropg"
MODEL_LIBRARIES = (
    "torch", "transformers", "sentence_transformers", "accelerate", "vllm", "ctranslate2",
    "peft", "trl", "faiss",
)  # fmt: skip


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base]) if base else ".".join(parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py")) if folder else sorted(PACKAGE.rglob("*.py"))


def offenders(paths: list[Path], forbidden) -> dict[str, list[str]]:
    bad = {}
    for path in paths:
        hits = sorted(name for name in imports(path) if forbidden(name))
        if hits:
            bad[str(path.relative_to(PACKAGE.parent))] = hits
    return bad


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_checker_sees_imports_inside_functions(tmp_path) -> None:
    source = PACKAGE / "benchmark" / "context.py"
    assert "ropg.lamp.load_split" in imports(source)  # imported inside a method


def test_generation_never_imports_lamp() -> None:
    assert offenders(modules("generation"), lambda n: _under(n, "ropg.lamp")) == {}


def test_retrievers_never_import_generation() -> None:
    assert offenders(modules("retrievers"), lambda n: _under(n, "ropg.generation")) == {}


def test_lamp_imports_no_model_library() -> None:
    heavy = lambda name: any(_under(name, lib) for lib in MODEL_LIBRARIES)  # noqa: E731
    assert offenders(modules("lamp"), heavy) == {}


@pytest.mark.parametrize("forbidden", ["ropg.cli", "benchmarks"])
def test_no_library_module_imports_the_cli_or_benchmarks(forbidden: str) -> None:
    library = [path for path in modules("") if "cli" not in path.relative_to(PACKAGE).parts]
    assert offenders(library, lambda n: _under(n, forbidden)) == {}
