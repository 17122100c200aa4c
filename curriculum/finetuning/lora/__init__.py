"""LoRA by hand, an instruction set from the suite's own tasks, and the Qwen fine-tune."""
