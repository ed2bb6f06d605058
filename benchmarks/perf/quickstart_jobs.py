"""The whole quick start as a user runs it: one process (``jobs=1``) against two worker
processes (``jobs=2``, the quick start's setting), side by side in one run.

Each row is ``python benchmarks/run_all.py --config benchmarks/configs/quickstart.yaml
jobs=N`` from scratch (a fresh ``output_root``, so nothing is cached: models built, every unit
run), as a whole process measured from outside: wall time, CPU time (user + system of the
process and its workers) and peak memory (the largest process: ``ru_maxrss`` of the children).
Both rows run under the command's own start-up settings (glibc malloc tunables, OpenMP passive
waiting). Printed: the numbers per row, the ratio of wall times, the disk each run wrote, and
whether the tables are the same (one process uses every core's torch threads, a worker
``cpu_count // 2``: floating-point sums in another order can move a tiny model's output, see
the README). Run (about 6 minutes on 2 idle cores)::

    python benchmarks/perf/quickstart_jobs.py [--jobs 1,2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "benchmarks" / "configs" / "quickstart.yaml"
TABLES = ("table3.md", "selectors.md", "rpo.md", "multistage.md")


def disk_bytes(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def run(jobs: int, root: Path) -> dict[str, object]:
    command = [sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--config", str(CONFIG),
               f"jobs={jobs}", f"output_root={root}", "--no-progress", "-q"]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"jobs={jobs} failed:\n{done.stderr[-3000:]}")
    run_dir = root / "quickstart"
    return {
        "jobs": jobs,
        "wall_s": round(wall, 1),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
        "peak_rss_gb": round(after.ru_maxrss / 1024**2, 2),
        "disk_mb": round(disk_bytes(run_dir) / 1e6),
        "units": len(list((run_dir / "state").rglob("*.json"))),
        "tables": {name: (run_dir / name).read_text(encoding="utf-8") for name in TABLES},
    }


def jobs_list(text: str) -> list[int]:
    try:
        values = [int(value) for value in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 1,2; got {text!r}")
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--jobs", type=jobs_list, default=[1, 2], help="comma-separated jobs values (default 1,2)"
    )
    parser.add_argument("--keep", help="keep the runs under this directory")
    args = parser.parse_args()
    if args.keep and Path(args.keep).exists() and any(Path(args.keep).iterdir()):
        parser.error(f"--keep {args.keep}: exists and is not empty (the runs must start fresh)")
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ropg-qs-jobs-"))
    rows = []
    try:
        for jobs in args.jobs:
            rows.append(run(jobs, base / f"jobs{jobs}"))
            print(f"jobs={jobs}: {rows[-1]['wall_s']} s wall", file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    from ropg.utils.environment import describe_hardware

    print(f"quick start (7 LaMP tasks, every family); {describe_hardware()}")
    print("| jobs | wall s | CPU s | largest process RSS GB | disk MB | units | speed vs row 1 |")
    print("|---|---|---|---|---|---|---|")
    first = rows[0]
    for row in rows:
        ratio = first["wall_s"] / row["wall_s"]
        print(f"| {row['jobs']} | {row['wall_s']} | {row['cpu_s']} | {row['peak_rss_gb']} | "
              f"{row['disk_mb']} | {row['units']} | {ratio:.2f}x |")  # fmt: skip
    for row in rows[1:]:
        same = [name for name in TABLES if row["tables"][name].split("\n", 1)[1]
                == first["tables"][name].split("\n", 1)[1]]  # fmt: skip
        print(f"jobs={row['jobs']}: tables identical to jobs={first['jobs']}: {same or 'none'}")
    print(json.dumps([{k: v for k, v in row.items() if k != "tables"} for row in rows]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
