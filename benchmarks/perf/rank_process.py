"""``ropg-rank --retriever bm25`` against the LaMP reference loop, both as whole processes.

Workload: a LaMP-4-shaped dev split (user layout ``LaMP_4/dev/dev_{questions,outputs}.json``)
built from the seeded workload of ``benchmarks/perf/bm25.py``: ``--users`` profiles (default
2,000) of log-uniform size in [10, 1000] (``--max-profile``; 1000 gives 419,016 documents, 700
about 321k), 50-200-word documents from a Zipfian vocabulary (~1% of words non-ASCII), one
30-word article per question. Each document becomes a profile item
``{"id", "title", "text", "date"}`` with ``title + " " + text`` equal to the document (the title
is its first 5-12 words). The split is written once into ``--cache`` and reused.

Both sides run as whole processes, side by side, ``--repeats`` times (alternating; median):

* reference: a standalone script doing what the LaMP code does for every question
  (``json.load``; ``corpus = [f'{x["title"]} {x["text"]}' for x in profile]``;
  ``BM25Okapi([x.split() for x in corpus]).get_top_n(query.split(), profile, n=4)`` with the
  query the input after ``article:``, stripped), writing ``{question id: [item ids]}`` as JSON;
* ropg: the console command ``ropg-rank --data DIR --task LaMP-4 --split dev --retriever bm25
  --top-k 4 --out FILE`` (which also loads and checks the outputs file and validates every
  record and profile item).

Both run with compiled bytecode kept under ``--cache`` (``PYTHONPYCACHEPREFIX``; one untimed
``ropg-rank`` run writes it), as an installed package has it. Reported: wall time, CPU time
(user + system) and peak RSS of each process (``os.wait4``), the
load average before each run (the machine may be shared: CPU time is the steadier measure
then), the ratios per run and of the medians, and whether the two rankings files agree
(identical top-4 ids for every question).

Usage::

    python benchmarks/perf/rank_process.py [--users 2000] [--repeats 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ropg.utils.environment import hardware_info

HERE = Path(__file__).resolve().parent
PREFIX = "Generate a headline for the following article: "
FORMAT = 1  # bump when the data written changes

REFERENCE = r'''
"""The LaMP reference's BM25 ranking (LaMP-4) as a standalone process."""
import json
import sys

from rank_bm25 import BM25Okapi

questions_path, out_path, k = sys.argv[1], sys.argv[2], int(sys.argv[3])


def extract_article(inp):
    article_idx = inp.find("article:")
    return inp[article_idx + len("article:"):].strip()


with open(questions_path) as stream:
    questions = json.load(stream)
rankings = {}
for question in questions:
    profile = question["profile"]
    corpus = [f'{x["title"]} {x["text"]}' for x in profile]
    query = extract_article(question["input"])
    tokenized_corpus = [x.split() for x in corpus]
    bm25 = BM25Okapi(tokenized_corpus)
    selected_profs = bm25.get_top_n(query.split(), profile, n=k)
    rankings[question["id"]] = [str(x["id"]) for x in selected_profs]
with open(out_path, "w") as stream:
    json.dump(rankings, stream)
'''


def _workload_module() -> Any:
    spec = importlib.util.spec_from_file_location("_perf_bm25_workload", HERE / "bm25.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def build_split(root: Path, users: int, seed: int, max_profile: int) -> dict[str, Any]:
    """Write the LaMP-4-shaped dev split under ``root`` (once); return its description."""
    meta_path = root / "meta.json"
    wanted = (users, seed, max_profile)
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        found = (meta["users"], meta["seed"], meta.get("max_profile", 1000))
        if meta.get("format") == FORMAT and found == wanted:
            return meta
    if root.exists():
        shutil.rmtree(root)
    started = time.perf_counter()
    profiles, queries = _workload_module().make_workload(users, seed, max_profile=max_profile)
    rng = random.Random(seed)
    folder = root / "LaMP_4" / "dev"
    folder.mkdir(parents=True)
    questions_path = folder / "dev_questions.json"
    with questions_path.open("w", encoding="utf-8") as stream:
        stream.write("[")
        for user, (documents, query) in enumerate(zip(profiles, queries)):
            items = []
            for number, document in enumerate(documents):
                words = document.split(" ")
                cut = rng.randint(5, 12)
                items.append(
                    {
                        "text": " ".join(words[cut:]),
                        "title": " ".join(words[:cut]),
                        "id": f"{user}{number:04d}",
                        "date": f"{rng.randint(2012, 2018)}-{rng.randint(1, 12):02d}-01",
                    }
                )
            record = {"id": f"4{user:05d}", "input": PREFIX + query, "profile": items}
            stream.write(("," if user else "") + json.dumps(record))
        stream.write("]")
    golds = [{"id": f"4{user:05d}", "output": "a headline"} for user in range(users)]
    outputs = {"task": "LaMP_4", "golds": golds}
    (folder / "dev_outputs.json").write_text(json.dumps(outputs), encoding="utf-8")
    sizes = sorted(map(len, profiles))
    meta = {
        "format": FORMAT,
        "users": users,
        "seed": seed,
        "max_profile": max_profile,
        "documents": sum(sizes),
        "profile_median": sizes[len(sizes) // 2],
        "profile_max": sizes[-1],
        "questions_mb": round(questions_path.stat().st_size / 1e6, 1),
        "built_s": round(time.perf_counter() - started, 1),
    }
    meta_path.write_text(json.dumps(meta))
    return meta


def process_environment(bytecode: Path) -> dict[str, str]:
    """This environment, writing and reading compiled bytecode under ``bytecode``: as in an
    installed package, modules are not compiled from source at every start (which
    ``PYTHONDONTWRITEBYTECODE`` would do to a source checkout), and the checkout stays clean."""
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(bytecode))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_process(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one process; raises if
    it fails."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({process.returncode}): {stderr.decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def ropg_rank_command() -> list[str]:
    """The installed ``ropg-rank`` of this interpreter (else ``python -m ropg.cli.rank``)."""
    script = Path(sys.executable).parent / "ropg-rank"
    if script.is_file():
        return [str(script)]
    found = shutil.which("ropg-rank")
    return [found] if found else [sys.executable, "-m", "ropg.cli.rank"]


def agreement(reference: Path, ropg: Path) -> dict[str, Any]:
    want = json.loads(reference.read_text(encoding="utf-8"))
    got = json.loads(ropg.read_text(encoding="utf-8"))
    same = sum(got.get(qid) == ids for qid, ids in want.items())
    return {
        "questions": len(want),
        "identical_percent": 100.0 * same / max(len(want), 1),
        "same_questions": set(want) == set(got),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-profile",
        type=int,
        default=1000,
        help="profile sizes are log-uniform in [10, this] (700: about 321k documents)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--top-k", type=int, default=4)
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "ropg-perf",
        help="where the split is written once and reused",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    name = f"rank-lamp4-u{args.users}-s{args.seed}"
    if args.max_profile != 1000:
        name += f"-max{args.max_profile}"
    root = args.cache / name
    meta = build_split(root, args.users, args.seed, args.max_profile)
    print(f"data: {json.dumps(meta)}", flush=True)
    print(f"hardware: {json.dumps(hardware_info())}", flush=True)
    questions = root / "LaMP_4" / "dev" / "dev_questions.json"
    work = Path(tempfile.mkdtemp(prefix="ropg-rank-process-"))
    reference_script = work / "reference_rank.py"
    reference_script.write_text(REFERENCE, encoding="utf-8")
    k = str(args.top_k)
    reference_out, ropg_out = work / "reference.json", work / "ropg.json"
    reference = [sys.executable, str(reference_script), str(questions), str(reference_out), k]
    ropg = [*ropg_rank_command(), "--data", str(root), "--task", "LaMP-4", "--split", "dev"]
    ropg += ["--retriever", "bm25", "--top-k", k, "--out", str(ropg_out)]
    print(f"reference: python reference_rank.py; ropg: {' '.join(ropg)}", flush=True)
    env = process_environment(args.cache / "bytecode")
    runs = []
    try:
        run_process(ropg, env)  # untimed: compiles the bytecode (and numba's cache) once
        for repeat in range(args.repeats):
            load = round(os.getloadavg()[0], 2)
            ref_s, ref_cpu, ref_mb = run_process(reference, env)
            ropg_s, ropg_cpu, ropg_mb = run_process(ropg, env)
            same = agreement(reference_out, ropg_out)
            runs.append({
                "load_average_before": load, "reference_s": ref_s, "reference_cpu_s": ref_cpu,
                "reference_peak_mb": ref_mb, "ropg_s": ropg_s, "ropg_cpu_s": ropg_cpu,
                "ropg_peak_mb": ropg_mb, "ratio": ref_s / ropg_s, "cpu_ratio": ref_cpu / ropg_cpu,
                **same,
            })  # fmt: skip
            print(
                f"run {repeat + 1} (load average {load}): reference {ref_s:.2f} s "
                f"(cpu {ref_cpu:.1f} s, {ref_mb:.0f} MB), ropg-rank {ropg_s:.2f} s (cpu "
                f"{ropg_cpu:.1f} s, {ropg_mb:.0f} MB) -> {ref_s / ropg_s:.1f}x wall, "
                f"{ref_cpu / ropg_cpu:.1f}x cpu; identical top-{k}: "
                f"{same['identical_percent']:.1f}% of {same['questions']}",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    reference_s = statistics.median(run["reference_s"] for run in runs)
    ropg_s = statistics.median(run["ropg_s"] for run in runs)
    reference_cpu = statistics.median(run["reference_cpu_s"] for run in runs)
    ropg_cpu = statistics.median(run["ropg_cpu_s"] for run in runs)
    results = {
        "data": meta,
        "hardware": hardware_info(),
        "runs": runs,
        "reference_median_s": reference_s,
        "ropg_median_s": ropg_s,
        "ratio_of_medians": reference_s / ropg_s,
        "cpu_ratio_of_medians": reference_cpu / ropg_cpu,
        "reference_peak_mb": max(run["reference_peak_mb"] for run in runs),
        "ropg_peak_mb": max(run["ropg_peak_mb"] for run in runs),
        "identical_percent_min": min(run["identical_percent"] for run in runs),
    }
    per_run = ", ".join(f"{run['ratio']:.1f}x" for run in runs)
    print(
        f"median of {len(runs)}: reference {reference_s:.2f} s, ropg-rank {ropg_s:.2f} s -> "
        f"{reference_s / ropg_s:.1f}x wall (per run: {per_run}), "
        f"{reference_cpu / ropg_cpu:.1f}x cpu; peak RSS reference "
        f"{results['reference_peak_mb']:.0f} MB, ropg-rank {results['ropg_peak_mb']:.0f} MB; "
        f"identical top-{k}: {results['identical_percent_min']:.1f}%"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if results["identical_percent_min"] == 100.0 else 1


if __name__ == "__main__":
    sys.exit(main())
