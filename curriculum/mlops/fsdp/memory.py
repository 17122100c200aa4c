"""Per-process memory: resident set size from /proc (peak since a reset), CUDA's allocator
peak on GPUs."""

from __future__ import annotations

import contextlib
import resource
from pathlib import Path

import torch

STATUS = Path("/proc/self/status")


def _status_kib(key: str) -> int | None:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def current_rss() -> int:
    """Resident bytes now."""
    kib = _status_kib("VmRSS")
    return (kib or 0) * 1024


def reset_peak(device: torch.device) -> None:
    """Start measuring the peak from here. Writing 5 to clear_refs resets the kernel's RSS
    high-water mark (VmHWM), so building the model before sharding it does not count."""
    with contextlib.suppress(OSError):  # not Linux: peak() gives the lifetime maximum
        Path("/proc/self/clear_refs").write_text("5")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak(device: torch.device) -> dict[str, int]:
    """Peak resident bytes since reset_peak (and the CUDA allocator's peak on a GPU)."""
    kib = _status_kib("VmHWM")
    if kib is None:
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stats = {"rss_peak": kib * 1024}
    if device.type == "cuda":
        stats["cuda_peak"] = torch.cuda.max_memory_allocated(device)
    return stats
