"""Callbacks shared by the Hugging Face / trl trainers that ropg drives (RPO, multistage)."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("ropg.training")


def stop_after_steps(steps: int | None) -> Any:
    """A callback that stops training, with a checkpoint, after ``steps`` optimizer steps
    (an interruption, as a kill between checkpoints would be); ``None``: never."""
    from transformers import TrainerCallback

    class StopAfterSteps(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            if steps is not None and state.global_step >= steps:
                control.should_training_stop = True
                control.should_save = True
            return control

    return StopAfterSteps()


def logs_to_logging(trainer: Any) -> Any:
    """``trainer`` with its log lines sent to :mod:`logging` (INFO, ``ropg.training``) instead
    of ``print``: with ``disable_tqdm`` transformers prints every log dict to stdout, which
    ``-q`` cannot silence."""
    from transformers import PrinterCallback, TrainerCallback

    class LogToLogging(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any):
            if logs and state.is_world_process_zero:
                logger.info("step %d: %s", state.global_step, dict(logs))
            return control

    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(LogToLogging())
    return trainer
