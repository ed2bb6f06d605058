"""Run the LaMP benchmark: ``python benchmarks/run_all.py --config benchmarks/configs/NAME.yaml``.

A thin entry point; the pipeline lives in :mod:`ropg.benchmark`, the command line in
:mod:`ropg.cli.benchmark` (``--help`` lists the options, ``--list-stages`` the stages).
"""

from __future__ import annotations

from ropg.cli.benchmark import main, reexec_with_malloc_tunables

if __name__ == "__main__":
    reexec_with_malloc_tunables()  # faster torch on CPU; a no-op when already set
    raise SystemExit(main())
