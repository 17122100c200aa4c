"""FSDP against DDP and one process: per-rank memory and the loss curve (``ascent learn fsdp``)."""
