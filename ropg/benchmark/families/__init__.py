"""The built-in method families: ``baselines``, ``ropg`` and ``rspg`` (see
:mod:`ropg.benchmark.family` for the interface a new one implements)."""
