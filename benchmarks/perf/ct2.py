"""FlanT5-shaped generation: ropg's ``ct2:`` backend (CTranslate2) against its ``hf`` backend.

Workload: a random-init T5 of flan-t5-base shape (d_model 768, 12 + 12 layers, 12 heads, d_ff
2048, gated-GELU, vocabulary 32,128; ``--shape xl|xxl`` for FlanT5-XL/XXL shapes on a GPU) and
a Unigram (sentencepiece-style) T5 tokenizer of exactly 32,128 pieces, both built here offline;
``--prompts`` prompts of ``--prompt-tokens`` tokens (synthetic words, one piece each, cut by
``max_input_length``), beam search with ``--beams`` beams, exactly ``--new-tokens`` new tokens:
the output-layer rows of ``<pad>`` and ``</s>`` are zeroed, so neither can ever be chosen
(a random T5 otherwise emits ``<pad>`` forever) and no hypothesis ends early in either backend.

Every row is a whole process through ropg's own path, as a user's command runs it:
``get_generator(spec, config=...)``, then ``CachedGenerator`` over a fresh SQLite cache,
``generate(prompts)`` with one ``GenerationConfig`` (``batch_size=--batch-size``):

- ``hf`` (the baseline): transformers ``generate`` in batches of ``--batch-size``, fp32;
- ``ct2 float32 (converts)``: the first ``ct2:`` run of a fresh ropg cache root converts the
  checkpoint (``ctranslate2.converters.TransformersConverter``) and caches it;
- ``ct2 float32`` and ``ct2 int8`` (``--compute-types``): later processes reuse the
  converted model.

Every process runs with ``OMP_WAIT_POLICY=PASSIVE`` (``--omp-wait-policy``): on a CPU that
other work shares, OpenMP threads that spin between parallel regions make torch and
CTranslate2 several times slower (and torch, once loaded, lends its OpenMP runtime to
CTranslate2). ``--spinning-rows`` adds ``hf`` and ``ct2 float32`` rows under OpenMP's default
policy, to show it.

Printed per row (medians over ``--repeats``): the whole process's wall time, its load time
(model load, and the conversion where there is one), the generation time (wall and CPU: on a
shared machine CPU time is the steadier of the two), prompts/s, the speed ratios to ``hf``
(generation wall and CPU time, whole process), and how many outputs are identical to
``hf``'s (with where the differing ones first differ). Run (a few minutes on 2 idle cores)::

    python benchmarks/perf/ct2.py --repeats 3

On a GPU, e.g. ``--shape xl --device cuda --hf-dtype bf16 --save-dtype bfloat16
--compute-types bfloat16,int8_bfloat16 --threads 0``. Other variables set on the command line
(``GLIBC_TUNABLES``, ...) reach every process alike.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

VOCAB_SIZE = 32128  # FlanT5's
SHAPES: dict[str, dict[str, int]] = {
    "base": {"d_model": 768, "d_ff": 2048, "num_layers": 12, "num_heads": 12},
    "xl": {"d_model": 2048, "d_ff": 5120, "num_layers": 24, "num_heads": 32},
    "xxl": {"d_model": 4096, "d_ff": 10240, "num_layers": 24, "num_heads": 64},
}


def synthetic_words(count: int, seed: int = 0) -> list[str]:
    """``count`` distinct pronounceable lowercase words (2-4 syllables)."""
    rng = random.Random(seed)
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + list("aeiou")
    words: dict[str, None] = {}
    while len(words) < count:
        words["".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))] = None
    return list(words)


def build_model(directory: Path, shape: str, seed: int, dtype: str = "float32") -> list[str]:
    """Save a random-init FlanT5-shaped model and its tokenizer; return the tokenizer's words."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration, T5Tokenizer

    specials = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    characters = [(c, -10.0) for c in "abcdefghijklmnopqrstuvwxyz"] + [("\u2581", -5.0)]
    words = synthetic_words(VOCAB_SIZE - len(specials) - len(characters), seed)
    pieces = [("\u2581" + word, -1.0 - index * 1e-4) for index, word in enumerate(words)]
    tokenizer = T5Tokenizer(vocab=specials + characters + pieces, extra_ids=0)
    assert len(tokenizer) == VOCAB_SIZE
    config = T5Config(
        vocab_size=VOCAB_SIZE,
        d_kv=64,
        num_decoder_layers=SHAPES[shape]["num_layers"],
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
        **SHAPES[shape],
    )
    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(config)
    with torch.no_grad():
        model.lm_head.weight[:2] = 0.0  # <pad> and </s> get logit 0, far below the top tokens
    model.to(getattr(torch, dtype)).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return words


def make_prompts(words: list[str], count: int, tokens: int, seed: int) -> list[str]:
    """Prompts of more than ``tokens`` one-piece words (``max_input_length`` cuts them)."""
    rng = random.Random(seed)
    common = words[:8000]
    return [" ".join(rng.choice(common) for _ in range(tokens + 20)) for _ in range(count)]


# -- one row = one process ----------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One process: a label, the generator spec and options, and environment changes
    (``None`` removes a variable)."""

    label: str
    spec: str
    options: dict[str, Any]
    env: dict[str, str | None]


def child(job_file: Path) -> None:
    """Run one job as a user's command would, and write its timings and outputs."""
    job = json.loads(job_file.read_text(encoding="utf-8"))
    start = time.perf_counter()
    import torch

    from ropg.generation import CachedGenerator, GenerationCache, GenerationConfig, get_generator

    if job["threads"]:
        torch.set_num_threads(job["threads"])
    imported = time.perf_counter()
    config = GenerationConfig.from_dict(job["config"])
    generator = get_generator(job["spec"], config=config, show_progress=False, **job["options"])
    engine = generator.engine if generator.backend == "ct2" else generator.model  # load now
    _ = generator.tokenizer
    loaded, cpu = time.perf_counter(), time.process_time()
    cached = CachedGenerator(generator, GenerationCache(job["cache"]))
    outputs = cached.generate(job["prompts"])
    done = time.perf_counter()
    result = {
        "import_s": imported - start,
        "load_s": loaded - imported,
        "generate_s": done - loaded,
        "generate_cpu_s": time.process_time() - cpu,  # all threads: less hit by a shared CPU
        "outputs": outputs,
        "generated": cached.misses,
        "compute_type": getattr(engine, "compute_type", None),
    }
    Path(job["result"]).write_text(json.dumps(result), encoding="utf-8")


def run_process(job: dict[str, Any], scratch: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run ``job`` in a fresh Python process; its result plus the process's wall time."""
    job_file = scratch / f"job-{time.monotonic_ns()}.json"
    job["result"] = str(job_file.with_suffix(".result.json"))
    job["cache"] = str(job_file.with_suffix(".sqlite"))  # a fresh generation cache per row
    job_file.write_text(json.dumps(job), encoding="utf-8")
    start = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--child", str(job_file)], env=env, check=True)
    wall = time.perf_counter() - start
    return {**json.loads(Path(job["result"]).read_text(encoding="utf-8")), "wall_s": wall}


def first_difference(ours: str, theirs: str) -> str:
    a, b = ours.split(), theirs.split()
    position = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"word {position + 1} (lengths {len(b)} vs {len(a)} words)"


def plan_rows(args: argparse.Namespace, model_dir: Path) -> list[Row]:
    """Every process, in run order: the baseline first."""
    hf = {"dtype": args.hf_dtype, "device": args.device}
    ct2: dict[str, Any] = {"device": args.device}
    if args.device == "cpu":
        ct2["intra_threads"] = args.threads
    compute_types = args.compute_types.split(",")
    openmp = {"OMP_WAIT_POLICY": args.omp_wait_policy or None}
    rows = [Row("hf", f"hf:{model_dir}", hf, openmp)]
    first = {**ct2, "compute_type": compute_types[0]}
    rows.append(Row(f"ct2 {compute_types[0]} (converts)", f"ct2:{model_dir}", first, openmp))
    for compute_type in compute_types:
        options = {**ct2, "compute_type": compute_type}
        rows.append(Row(f"ct2 {compute_type}", f"ct2:{model_dir}", options, openmp))
    if args.spinning_rows:
        default = {"OMP_WAIT_POLICY": None}
        rows.append(Row("hf, spinning OpenMP", f"hf:{model_dir}", hf, default))
        fp32 = {**ct2, "compute_type": "float32"}
        rows.append(Row("ct2 float32, spinning OpenMP", f"ct2:{model_dir}", fp32, default))
    return rows


def report(rows: list[Row], runs: dict[str, list[dict]], count: int) -> dict:
    """Print the table and return it: medians over repeats; a ratio to ``hf`` is the median of
    the repeats' ratios (each repeat runs every row back to back, so a load that comes and
    goes hits a repeat's rows alike)."""

    def median(label: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[label])

    baseline = runs[rows[0].label]

    def ratio(label: str, key: str) -> float:
        pairs = zip(baseline, runs[label], strict=True)
        return statistics.median(hf[key] / ours[key] for hf, ours in pairs)

    reference = baseline[0]["outputs"]
    print(f"\n{'row':<24} {'process s':>9} {'load s':>7} {'generate s':>10} {'gen CPU s':>9} "
          f"{'prompts/s':>9} {'x hf gen':>8} {'x hf CPU':>8} {'x hf proc':>9} "
          f"{'same as hf':>10}")  # fmt: skip
    table = {}
    for label in (row.label for row in rows):
        outputs = runs[label][0]["outputs"]
        same = sum(a == b for a, b in zip(outputs, reference, strict=True))
        row = {"process_s": median(label, "wall_s"), "load_s": median(label, "load_s"),
               "generate_s": median(label, "generate_s"),
               "generate_cpu_s": median(label, "generate_cpu_s"),
               "speedup_generate": ratio(label, "generate_s"),
               "speedup_generate_cpu": ratio(label, "generate_cpu_s"),
               "speedup_process": ratio(label, "wall_s"), "identical_to_hf": same,
               "compute_type": runs[label][0]["compute_type"]}  # fmt: skip
        row["prompts_per_s"] = count / row["generate_s"]
        table[label] = row
        print(f"{label:<24} {row['process_s']:>9.1f} {row['load_s']:>7.1f} "
              f"{row['generate_s']:>10.1f} {row['generate_cpu_s']:>9.1f} "
              f"{row['prompts_per_s']:>9.2f} {row['speedup_generate']:>8.2f} "
              f"{row['speedup_generate_cpu']:>8.2f} {row['speedup_process']:>9.2f} "
              f"{same:>5}/{count}")  # fmt: skip
        stable = all(run["outputs"] == outputs for run in runs[label])
        differing = [
            f"prompt {i}: {first_difference(ours, theirs)}"
            for i, (ours, theirs) in enumerate(zip(outputs, reference, strict=True))
            if ours != theirs
        ]
        if differing or not stable:
            print(f"    differs from hf: {'; '.join(differing) or 'none'}"
                  f"{'' if stable else ' (outputs changed between repeats)'}")  # fmt: skip
    return table


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="base")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--prompt-tokens", type=int, default=200)
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--compute-types", default="float32,int8", help="ct2 rows after the first")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (both backends)")
    parser.add_argument("--hf-dtype", default="fp32", help="the hf backend's dtype")
    parser.add_argument("--save-dtype", default="float32", help="the built checkpoint's dtype")
    parser.add_argument(
        "--omp-wait-policy", default="PASSIVE", help="for every row ('' leaves it unset)"
    )
    parser.add_argument(
        "--spinning-rows", action="store_true", help="add rows under OpenMP's default policy"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="per process")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-dir", type=Path, default=None, help="reuse/keep the model here")
    parser.add_argument("--output", type=Path, default=None, help="also write results as JSON")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child)
        return {}

    from ropg.utils.environment import describe_hardware

    with tempfile.TemporaryDirectory(prefix="ropg-ct2-bench-") as scratch_name:
        scratch = Path(scratch_name)
        model_dir = args.model_dir or scratch / "model"
        start = time.perf_counter()
        if (model_dir / "config.json").is_file():
            words = synthetic_words(VOCAB_SIZE - 30, args.seed)
            print(f"model: reusing {model_dir}")
        else:
            model_dir.mkdir(parents=True, exist_ok=True)
            words = build_model(model_dir, args.shape, args.seed, args.save_dtype)
            print(f"model: built in {time.perf_counter() - start:.1f} s into {model_dir}")
        prompts = make_prompts(words, args.prompts, args.prompt_tokens, args.seed)
        config = {"num_beams": args.beams, "max_new_tokens": args.new_tokens,
                  "max_input_length": args.prompt_tokens,
                  "batch_size": args.batch_size}  # fmt: skip
        shape = SHAPES[args.shape]
        print(f"data: random-init T5 of flan-t5-{args.shape} shape ({shape}, vocabulary "
              f"{VOCAB_SIZE}); {args.prompts} prompts of {args.prompt_tokens} tokens, "
              f"beam {args.beams}, exactly {args.new_tokens} new tokens, "
              f"batch {args.batch_size}")  # fmt: skip
        print(f"hardware: {describe_hardware()}; {args.threads} threads per process")
        rows = plan_rows(args, model_dir)
        runs: dict[str, list[dict[str, Any]]] = {row.label: [] for row in rows}
        loads = []
        for repeat in range(args.repeats):
            with tempfile.TemporaryDirectory(dir=scratch, prefix="ropg-cache-") as ropg_cache:
                base_env = {**os.environ, "ROPG_CACHE_DIR": ropg_cache}  # converts per repeat
                for row in rows:
                    label = row.label
                    env = {**base_env, **{k: v for k, v in row.env.items() if v is not None}}
                    for name in (k for k, v in row.env.items() if v is None):
                        env.pop(name, None)
                    job = {"spec": row.spec, "options": row.options, "config": config,
                           "prompts": prompts, "threads": args.threads}  # fmt: skip
                    result = run_process(job, scratch, env)
                    assert result["generated"] == len(set(prompts)), "a fresh cache generates all"
                    runs[label].append(result)
                    loads.append(os.getloadavg()[0])
                    print(f"  repeat {repeat + 1} {label}: {result['wall_s']:.1f} s process, "
                          f"{result['generate_s']:.1f} s generating "
                          f"(CPU {result['generate_cpu_s']:.1f} s), "
                          f"load average {loads[-1]:.1f}", flush=True)  # fmt: skip

    table = report(rows, runs, len(prompts))
    print(f"\n(medians of {args.repeats} repeat(s); load average after each process "
          f"{min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores)")  # fmt: skip
    results = {"config": {k: str(v) for k, v in vars(args).items()}, "rows": table,
               "hardware": describe_hardware(), "load_averages": loads}  # fmt: skip
    if args.output:
        args.output.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
