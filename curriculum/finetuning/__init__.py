"""Curriculum part 3, fine-tuning: LoRA on the served Qwen model, GGUF export, the reranker."""
