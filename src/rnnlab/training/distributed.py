"""Data-parallel training under torchrun (`torchrun --nproc_per_node=N -m rnnlab train ...`).

Every process builds the same model from the same seed and draws the same global batches; process r
takes the poems r, r+N, r+2N, ... of each batch. The loss of a step is the sum of its cross entropies
over the global number of target tokens, so summing the processes' gradients (one all-reduce) gives
exactly the gradient of the whole batch; every process then takes the same optimizer step. Global batch
= --batch-size, split over N processes. Validation is split the same way and summed. Rank 0 alone
writes the run directory (metrics, checkpoints, training state) and prints; the others wait at a
barrier where they must read what it wrote. Stopping (time budget, a signal) is agreed on every step.

Backend: gloo on CPUs, nccl on GPUs (one per process, cuda:LOCAL_RANK). Multi-node runs use torchrun's
usual rendezvous flags; nothing here depends on the number of machines.
"""
import os

import torch
import torch.distributed as dist


class Single:
    """The one-process case: every collective is the identity."""
    rank, world, is_main = 0, 1, True

    def all_sum(self, values):
        return values

    def any(self, *flags):
        return [bool(f) for f in flags]

    def sync_gradients(self, params):
        pass

    def gather(self, tensor):
        """Every process's `tensor` (of one shape in all), in rank order."""
        return [tensor]

    def barrier(self):
        pass

    def finish(self):
        pass


class DataParallel(Single):
    def __init__(self, device):
        self.device = device
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        self.is_main = self.rank == 0

    def all_sum(self, values):
        """Sum a list of numbers over the processes (float64, so token counts stay exact)."""
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def any(self, *flags):
        """For each flag: is it set in any process?"""
        t = torch.tensor([float(bool(f)) for f in flags], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return [bool(v) for v in t.tolist()]

    def gather(self, tensor):
        parts = [torch.empty_like(tensor, device=self.device) for _ in range(self.world)]
        dist.all_gather(parts, tensor.to(self.device))
        return [t.cpu() for t in parts]

    def sync_gradients(self, params):
        """grad <- sum of grad over the processes, in one all-reduce of all gradients."""
        grads = [p.grad for p in params if p.grad is not None]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def barrier(self):
        dist.barrier()

    def finish(self):
        if dist.is_initialized():
            dist.destroy_process_group()


def launched_by_torchrun():
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def start(device):
    """Join the process group torchrun set up (if any); returns (Single or DataParallel, device)."""
    if not launched_by_torchrun():
        return Single(), device
    if device.startswith("cuda"):
        device = f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return DataParallel(device), device
