"""Curriculum part 3, quantization: int8/int4 round-to-nearest and GPTQ from scratch."""
