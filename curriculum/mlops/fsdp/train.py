"""Data-parallel training of the curriculum GPT on Shakespeare three ways: one process, DDP
(every rank holds everything) and FSDP2 (``torch.distributed.fsdp.fully_shard``: every rank
holds 1/N of the parameters, gradients and AdamW moments).

Run it with torchrun; the backend follows the hardware (NCCL on GPUs, gloo on CPUs):

    python -m torch.distributed.run --standalone --nproc-per-node 2 \\
        -m curriculum.mlops.fsdp.train --strategy fsdp --out fsdp.json
    python -m curriculum.mlops.fsdp.train --strategy single --out single.json

Every rank draws the same global batch and trains on its own slice of it, so N ranks and one
process see exactly the same examples and their losses can be compared step by step.
Rank 0 writes the loss curve and each rank's memory to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor
from torch.nn.parallel import DistributedDataParallel

from curriculum.llm_internals import shakespeare
from curriculum.llm_internals.gpt.model import GPT, GPTConfig
from curriculum.llm_internals.gpt.train import CharData, TrainConfig, learning_rate
from curriculum.mlops.fsdp import memory

STRATEGIES = ("single", "ddp", "fsdp")


@dataclass
class RunConfig:
    strategy: str = "fsdp"
    model: GPTConfig = field(default_factory=GPTConfig)
    global_batch: int = 16
    steps: int = 50
    lr: float = 1e-3
    warmup: int = 10
    dtype: str = "float32"
    seed: int = 1337
    max_chars: int = 0  # 0 = all 38 plays; tests train on the first few thousand characters
    init: str = ""  # a checkpoint to fine-tune from ({"model": state_dict} or a state dict)
    threads: int = 0  # 0 = leave torch's (torchrun sets 1 thread per rank)


@dataclass
class Cluster:
    rank: int
    world: int
    device: torch.device
    backend: str


def connect() -> Cluster:
    """Join the process group torchrun set up, or run alone when started without it."""
    if "RANK" not in os.environ:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return Cluster(0, 1, device, "none")
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    dist.init_process_group(backend, device_id=device if backend == "nccl" else None)
    return Cluster(dist.get_rank(), dist.get_world_size(), device, backend)


def build_model(config: RunConfig, cluster: Cluster) -> torch.nn.Module:
    """The same initial weights on every rank (same seed, or the same checkpoint), then
    wrapped for the strategy."""
    torch.manual_seed(config.seed)
    model = GPT(config.model)
    if config.init:
        state = torch.load(config.init, map_location="cpu", weights_only=False)
        model.load_state_dict(state.get("model", state))
    model = model.to(device=cluster.device, dtype=getattr(torch, config.dtype))
    if config.strategy == "ddp":
        ids = [cluster.device.index] if cluster.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)
    if config.strategy == "fsdp":
        # One FSDP unit per block: only one block's full weights exist at a time during the
        # forward and backward passes. The root unit holds the rest, including the embedding
        # and the head that shares its matrix (tied weights must sit in one unit).
        for block in model.blocks:
            fully_shard(block)
        fully_shard(model)
    return model


def global_batch(data: CharData, config: RunConfig, generator: torch.Generator):
    return data.batch("train", config.global_batch, config.model.block_size, generator)


def local_slice(tensor: torch.Tensor, cluster: Cluster) -> torch.Tensor:
    """This rank's rows of the global batch."""
    per_rank = tensor.size(0) // cluster.world
    return tensor[cluster.rank * per_rank : (cluster.rank + 1) * per_rank]


def mean_over_ranks(value: torch.Tensor, cluster: Cluster) -> float:
    """The global-batch loss: equal slices, so the mean of the ranks' means."""
    if cluster.world > 1:
        value = value.detach().clone()
        dist.all_reduce(value)
        value /= cluster.world
    return value.item()


def local_bytes(tensors) -> int:
    """Bytes this rank stores for these tensors (a DTensor's local shard only)."""
    total = 0
    for tensor in tensors:
        if tensor is None or tensor.dim() == 0:  # AdamW's step counters are scalars
            continue
        local = tensor.to_local() if isinstance(tensor, DTensor) else tensor
        total += local.numel() * local.element_size()
    return total


def state_bytes(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, int]:
    params = list(model.parameters())  # tied weights appear once
    moments = [t for s in optimizer.state.values() for t in s.values() if torch.is_tensor(t)]
    return {
        "param_bytes": local_bytes(params),
        "grad_bytes": local_bytes(p.grad for p in params),
        "optim_bytes": local_bytes(moments),
    }


def train(config: RunConfig) -> dict | None:
    """Train; rank 0 returns the results (other ranks None)."""
    cluster = connect()
    if config.threads:
        torch.set_num_threads(config.threads)
    if config.global_batch % cluster.world:
        raise ValueError(f"global batch {config.global_batch} does not split over {cluster.world}")
    text = shakespeare.corpus()
    data = CharData(text[: config.max_chars] if config.max_chars else text)
    config.model.vocab_size = len(data.chars)
    model = build_model(config, cluster)
    inner = model.module if isinstance(model, DistributedDataParallel) else model
    optimizer = inner.configure_optimizer(config.lr, weight_decay=0.1)
    schedule = TrainConfig(lr=config.lr, min_lr=config.lr / 10, warmup=config.warmup,
                           max_steps=config.steps)  # fmt: skip
    generator = torch.Generator().manual_seed(config.seed)
    memory.reset_peak(cluster.device)
    setup_rss = memory.current_rss()
    losses, norms, seconds, states = [], [], [], {}
    for step in range(config.steps):
        start = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, schedule)
        batch = global_batch(data, config, generator)
        x, y = (local_slice(t, cluster).to(cluster.device) for t in batch)
        _, loss = model(x, y)
        loss.backward()  # DDP all-reduces gradients; FSDP reduce-scatters them to the owners
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # over all shards
        optimizer.step()
        if step == 0:  # parameters, gradients and AdamW moments all exist now
            states = state_bytes(inner, optimizer)
        optimizer.zero_grad(set_to_none=True)
        losses.append(mean_over_ranks(loss, cluster))
        norms.append(float(norm.full_tensor() if isinstance(norm, DTensor) else norm))
        seconds.append(time.perf_counter() - start)
    rank_stats = {**states, "rss_setup": setup_rss, **memory.peak(cluster.device)}
    everyone = [rank_stats]
    if cluster.world > 1:
        everyone = [None] * cluster.world
        dist.all_gather_object(everyone, rank_stats)
    if cluster.rank != 0:
        return None
    return {
        "config": {**asdict(config), "model": asdict(config.model)},
        "world_size": cluster.world,
        "backend": cluster.backend,
        "device": cluster.device.type,
        "parameters": sum(p.numel() for p in inner.parameters()),  # a DTensor's is global
        "losses": losses,
        "grad_norms": norms,  # before clipping
        "step_seconds": seconds,
        "ranks": everyone,
    }


def parse(argv: list[str] | None = None) -> tuple[RunConfig, Path]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strategy", choices=STRATEGIES, default="fsdp")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--global-batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--dtype", choices=("float32", "float64", "bfloat16"), default="float32")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--max-chars", type=int, default=0)
    parser.add_argument("--init", default="", help="checkpoint to fine-tune from")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="results JSON (rank 0)")
    args = parser.parse_args(argv)
    model = GPTConfig(block_size=args.context, n_layer=args.layers, n_head=args.heads,
                      n_embd=args.width)  # fmt: skip
    config = RunConfig(
        strategy=args.strategy, model=model, global_batch=args.global_batch, steps=args.steps,
        lr=args.lr, dtype=args.dtype, seed=args.seed, max_chars=args.max_chars, init=args.init,
        threads=args.threads,
    )  # fmt: skip
    return config, args.out


def main(argv: list[str] | None = None) -> None:
    config, out = parse(argv)
    try:
        results = train(config)
    finally:
        # After train() returned: DDP's reducer must be gone before its process group is.
        if dist.is_initialized():
            dist.destroy_process_group()
    if results is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
