"""A family of sleeping units for tests/test_benchmark_parallel.py (imported by the workers).

Stage ``par-a``: units ``a1`` and ``a2`` (independent); stage ``par-b``: ``b``, which reads
both. Each unit writes ``{run_dir}/par/<key>.json`` with its process id and start/end times;
``fail`` in the section makes ``a2`` fail (``user``: a user error, ``crash``: any error).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from functools import partial

from ropg.benchmark.family import MethodFamily, Stage
from ropg.benchmark.runner import Unit
from ropg.errors import UserError


@dataclass
class SleepSection:
    seconds: float = 0.8
    fail: str = ""


class SleepFamily(MethodFamily):
    name = "par"
    settings_class = SleepSection

    def stages(self):
        return [Stage("par-a", self.plan_a, self.name), Stage("par-b", self.plan_b, self.name)]

    def methods(self, config, llm):
        return []

    def plan_a(self, ctx):
        return [
            Unit("par-a", key, {"key": key}, partial(self.work, ctx, key)) for key in ("a1", "a2")
        ]

    def plan_b(self, ctx):
        deps = (("par-a", "a1"), ("par-a", "a2"))
        return [Unit("par-b", "b", {"key": "b"}, partial(self.work, ctx, "b"), deps)]

    def work(self, ctx, key):
        started = time.time()
        if key == "b":  # it reads what a1 and a2 wrote
            for name in ("a1", "a2"):
                json.loads((ctx.run_dir / "par" / f"{name}.json").read_text())
        time.sleep(self.settings.seconds)
        if key == "a2" and self.settings.fail == "user":
            raise UserError("a2: the settings say this unit fails")
        if key == "a2" and self.settings.fail == "crash":
            raise ValueError("a2 crashed")
        record = {"pid": os.getpid(), "start": started, "end": time.time()}
        (ctx.run_dir / "par").mkdir(exist_ok=True)
        (ctx.run_dir / "par" / f"{key}.json").write_text(json.dumps(record))
        return {"pid": os.getpid()}
