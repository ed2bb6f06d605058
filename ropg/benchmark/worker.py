"""``python -m ropg.benchmark.worker``: one worker process of a run with ``jobs: N``.

Started by :mod:`ropg.benchmark.parallel`, never by hand. It reads one JSON line (the run's
config, its torch threads, log levels and the parent's ``sys.path``), plans the run as the
parent did, then reads ``[stage, key, spec digest]`` lines and answers each with one
``[status, value, seconds]`` line: ``ok`` with the unit's facts, ``user`` with a user error's
message, ``error`` with a traceback. Its standard output is the protocol only (whatever a unit
prints goes to standard error); an empty line or the end of input stops it. No pickle: JSON
both ways, and nothing of the parent's ``__main__`` is imported again.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
import traceback
from typing import Any

from ropg.errors import UserError
from ropg.utils.fingerprint import json_digest

THREADS_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
Result = tuple[str, Any, float]


def spec_digest(spec: Any) -> str:
    """A digest of a unit's spec: a worker checks it planned the unit it is sent the same way."""
    return json_digest(spec, 24)


def plan_units(setup: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """The run's units by ``(stage, key)``, planned from the setup line."""
    for variable in THREADS_VARIABLES:  # read by OpenMP when torch loads, later in this process
        os.environ.setdefault(variable, str(setup["threads"]))
    for entry in reversed(setup.get("sys_path", [])):  # plug-ins the parent could import
        if entry not in sys.path:
            sys.path.insert(0, entry)
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    for name, level in setup.get("log_levels", {}).items():
        logging.getLogger(name or None).setLevel(level)
    from ropg.benchmark.config import BenchmarkConfig
    from ropg.benchmark.context import RunContext
    from ropg.benchmark.runner import plan_run
    from ropg.benchmark.stages import all_stages

    config = BenchmarkConfig.from_dict(setup["config"], setup["config"].get("base_dir") or ".")
    ctx = RunContext(config, show_progress=False)
    return {
        unit.ref: unit
        for _, units in plan_run(ctx, all_stages(config.family_list()))
        for unit in units
    }


def run_unit(planned: dict[tuple[str, str], Any], stage: str, key: str, digest: str) -> Result:
    """Run one planned unit and say how it went (see the module docstring)."""
    unit = planned.get((stage, key))
    if unit is None or spec_digest(unit.spec) != digest:
        return "error", f"a worker planned {stage} {key} differently from the parent", 0.0
    started = time.perf_counter()
    try:
        info = unit.run() or {}
    except UserError as error:
        return "user", str(error), 0.0
    except Exception:  # the parent reports it with this traceback
        return "error", traceback.format_exc(), 0.0
    return "ok", info, time.perf_counter() - started


def not_by_hand() -> int:
    print("error: ropg.benchmark.worker reads JSON lines from the benchmark command that starts"
          " it (jobs > 1); it is not run by hand", file=sys.stderr)  # fmt: skip
    return 2


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which stops us
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # a unit's prints (Python's or a library's) go to standard error
    sys.stdout = sys.stderr
    failure: Result | None = None
    planned: dict[tuple[str, str], Any] = {}
    try:
        setup = json.loads(sys.stdin.readline())
    except ValueError:
        return not_by_hand()
    try:
        planned = plan_units(setup)
    except UserError as error:
        failure = ("user", str(error), 0.0)
    except Exception:
        failure = ("error", "a worker could not plan the run:\n" + traceback.format_exc(), 0.0)
    for line in sys.stdin:
        if not line.strip():
            break
        try:
            stage, key, digest = json.loads(line)
        except (ValueError, TypeError):
            return not_by_hand()
        result = failure or run_unit(planned, stage, key, digest)
        protocol.write(json.dumps(result, ensure_ascii=False, default=str) + "\n")
        protocol.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
