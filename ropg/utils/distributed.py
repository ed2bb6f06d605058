"""Processes started by ``accelerate launch`` or ``torchrun``: on GPUs and on plain CPUs.

Accelerate joins a CPU-only process group (gloo) only when it is told the run is on the CPU;
otherwise every process of a multi-process launch on a machine without GPUs believes it is
alone (process 0 of 1) and they all do the whole job, writing the same files. These helpers
pass that flag when several processes were launched and no GPU is visible.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any


def launched_processes() -> int:
    """How many processes the launcher started (``WORLD_SIZE``; 1 when run directly)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def multi_process_on_cpu() -> bool:
    """True when several processes were launched on a machine with no CUDA device."""
    if launched_processes() <= 1:
        return False
    import torch

    return not torch.cuda.is_available()


def process_state() -> Any:
    """Accelerate's ``PartialState`` for this process, on the CPU process group when needed."""
    from accelerate import PartialState

    return PartialState(cpu=multi_process_on_cpu())


def average_gradients(parameters: Iterable[Any], bucket_elements: int = 1 << 24) -> None:
    """Average the gradients of ``parameters`` over all processes (no-op for one process).

    The trainers call the model several times per step (queries, then documents in
    length-packed groups) and the number of calls differs between processes, which
    DistributedDataParallel's forward hooks cannot follow; they run the bare module and sync
    the gradients here, once per optimizer step, in flattened buckets of at most
    ``bucket_elements`` values. A parameter that got no gradient on a process counts as zero
    there, so every process reduces the same tensors in the same order; one that got none on
    any process keeps ``grad=None``, as in a single process (the optimizer skips it: no weight
    decay or momentum step on an unused parameter, e.g. a pooler under mean pooling).
    """
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    trainable = [parameter for parameter in parameters if parameter.requires_grad]
    if not trainable:
        return
    device = trainable[0].device
    used = torch.tensor([p.grad is not None for p in trainable], dtype=torch.int32, device=device)
    dist.all_reduce(used)
    grads = []
    for parameter, count in zip(trainable, used.tolist()):
        if count == 0:
            parameter.grad = None
            continue
        if parameter.grad is None:
            parameter.grad = torch.zeros_like(parameter)
        grads.append(parameter.grad)
    world = dist.get_world_size()
    for bucket in _buckets(grads, bucket_elements):
        flat = torch.cat([grad.reshape(-1) for grad in bucket])
        dist.all_reduce(flat)
        flat /= world
        offset = 0
        for grad in bucket:
            grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
            offset += grad.numel()


def _buckets(grads: list[Any], limit: int) -> Iterator[list[Any]]:
    """Consecutive groups of same-dtype, same-device tensors of at most ``limit`` elements."""
    bucket: list[Any] = []
    size = 0
    for grad in grads:
        if bucket and (
            size + grad.numel() > limit
            or grad.dtype != bucket[0].dtype
            or grad.device != bucket[0].device
        ):
            yield bucket
            bucket, size = [], 0
        bucket.append(grad)
        size += grad.numel()
    if bucket:
        yield bucket
