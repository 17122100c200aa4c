"""The review engine: what is wrong with a pull request, and exactly where to say it.

``engine.review`` is the entry point. Around it: ``diff`` (which lines GitHub accepts a
comment on), ``checkout`` (a scratch copy for linters), ``linters`` (ruff, bandit,
detect-secrets, semgrep), ``context`` (the code around a hunk), ``planner`` (what the LLM
reads within a budget), ``llm_review`` (the LLM pass and self-reflection), ``redact`` (no
secret leaves), ``output`` (text, JSON, SARIF), ``sources`` (patch files and git ranges) and
``evaluate`` (precision and recall on ``services/reviewer/evalset``).
"""
