"""RSPG: choose a retriever per input, before (Pre) or after (Post) generation.

``rspg-train`` (:mod:`ropg.cli.rspg_train`) is the command line; from Python::

    from ropg.selection import (SelectorConfig, train_selector, load_selector, QPP_SELECTORS,
                                select_best_single, oracle_bounds, success_rate, winning_rates,
                                plot_winning_rates, load_pool_records)

    train = load_pool_records("pool-train.jsonl", task="LaMP-3")
    dev = load_pool_records("pool-dev.jsonl", task="LaMP-3")
    config = SelectorConfig.load("rspg.yaml", {"mode": "post", "output_dir": "runs/post"})
    selector = load_selector(train_selector(config).output_dir)
    names = selector.select(dev)                       # one retriever name per input
    success_rate(dev, names), success_rate(dev, QPP_SELECTORS["wig"](dev))
    oracle_bounds(dev)                                 # {"upper": 0.61, "lower": 1.69} (MAE)
    plot_winning_rates(winning_rates(dev), "winning.png")

Names are imported lazily, so that ``import ropg.selection`` loads neither torch nor
matplotlib.
"""

from __future__ import annotations

from ropg.utils.lazy import lazy_exports

_EXPORTS = {
    "PoolRecord": "ropg.selection.records",
    "RetrieverResult": "ropg.selection.records",
    "load_pool_records": "ropg.selection.records",
    "pool_names": "ropg.selection.records",
    "SelectorConfig": "ropg.selection.config",
    "QPP_SELECTORS": "ropg.selection.baselines",
    "PREDICTORS": "ropg.selection.baselines",
    "select_best_single": "ropg.selection.baselines",
    "select_always": "ropg.selection.baselines",
    "select_by_qpp": "ropg.selection.baselines",
    "select_random": "ropg.selection.baselines",
    "wig": "ropg.selection.baselines",
    "nqc": "ropg.selection.baselines",
    "sigma_max": "ropg.selection.baselines",
    "sigma_x": "ropg.selection.baselines",
    "oracle_bounds": "ropg.selection.analysis",
    "oracle_metrics": "ropg.selection.analysis",
    "oracle_names": "ropg.selection.analysis",
    "success_rate": "ropg.selection.analysis",
    "evaluate_selection": "ropg.selection.analysis",
    "winning_rates": "ropg.selection.analysis",
    "plot_winning_rates": "ropg.selection.analysis",
    "write_report": "ropg.selection.report",
    "selector_loss": "ropg.selection.loss",
    "SelectorTrainer": "ropg.selection.trainer",
    "train_selector": "ropg.selection.trainer",
    "Selector": "ropg.selection.inference",
    "load_selector": "ropg.selection.inference",
    "pool_prompts": "ropg.selection.inference",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
