"""Run the LaMP benchmark: ``python benchmarks/run_all.py --config benchmarks/configs/NAME.yaml``.

A thin entry point; the pipeline lives in :mod:`ropg.benchmark`, the command line in
:mod:`ropg.cli.benchmark` (``--help`` lists the options, ``--list-stages`` the stages).
"""

from __future__ import annotations

from ropg.cli.benchmark import console_main

if __name__ == "__main__":
    raise SystemExit(console_main())
