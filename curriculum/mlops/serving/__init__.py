"""``ascent learn serving``: latency, throughput and memory of llama.cpp serving the f16 export
of Qwen2.5-Coder-0.5B against its quantized exports and the packaged Q4_K_M."""
