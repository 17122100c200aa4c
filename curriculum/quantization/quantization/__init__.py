"""``ascent learn quantization``: int8/int4 round-to-nearest, packing, QuantLinear and GPTQ."""
