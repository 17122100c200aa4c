"""lm-evaluation-harness on local YAML tasks, run against models served by the LLM gateway
(``ascent learn evaluation``)."""
