"""One async LLM gateway that speaks the OpenAI protocol.

``ASCENT_LLM_BASE_URL`` set: talk to that endpoint (vLLM, OpenAI, a shared llama.cpp).
Unset: start the embedded llama.cpp server with the packaged model named by
``ASCENT_LLM_MODEL`` and talk to it. Either way callers see the same client, with streaming,
JSON-schema output, timeouts, retries, a concurrency limit and token accounting.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import openai
from openai import AsyncOpenAI
from prometheus_client import Counter, Histogram
from pydantic import BaseModel, ValidationError

from shared.config import Settings
from shared.models.llama_server import EmbeddedLLMServer, ServerOptions
from shared.models.registry import (
    LLM_ARTIFACT_FILE,
    MODELS,
    ArtifactRegistry,
    ModelNotInstalled,
    ModelRegistry,
    get_model,
)

logger = logging.getLogger(__name__)

Message = dict[str, Any]
T = TypeVar("T", bound=BaseModel)

LLM_TOKENS = Counter("ascent_llm_tokens_total", "LLM tokens", ["model", "kind"])
LLM_REQUESTS = Counter("ascent_llm_requests_total", "LLM requests", ["model", "outcome"])
LLM_LATENCY = Histogram("ascent_llm_request_seconds", "LLM request latency", ["model"])


class LLMError(RuntimeError):
    """The LLM could not produce a usable answer; the message says why."""


class LLMTruncated(LLMError):
    """The answer hit max_tokens before it finished (``finish_reason == "length"``)."""


@dataclass
class TokenUsage:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ChatResult:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


@dataclass
class _EmbeddedState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    servers: dict[str, EmbeddedLLMServer] = field(default_factory=dict)


_embedded = _EmbeddedState()  # one embedded server per model per process


def _llm_path(settings: Settings, name: str) -> Path:
    """A model published by the curriculum (e.g. the LoRA fine-tune, exported to GGUF)."""
    artifacts = ArtifactRegistry(settings.models_dir)
    if name not in artifacts.names():
        known = ", ".join(sorted([*MODELS, *artifacts.names()]))
        raise LLMError(f"unknown model {name!r}; known models: {known}")
    manifest = artifacts.manifest(name)
    if manifest["kind"] != "llm":
        raise LLMError(f"{name!r} is a {manifest['kind']} model, not an LLM")
    return artifacts.path(name) / LLM_ARTIFACT_FILE


def embedded_server_url(settings: Settings, model_name: str | None = None) -> str:
    """Start (once per process) the embedded server for ``model_name`` and return its URL."""
    name = model_name or settings.llm_model
    path = _llm_path(settings, name) if name not in MODELS else None
    if path is None and get_model(name).kind != "llm":
        raise LLMError(f"{name!r} is a {get_model(name).kind} model, not an LLM")
    with _embedded.lock:
        server = _embedded.servers.get(name)
        if server is None or server.process is None or server.process.poll() is not None:
            path = path or ModelRegistry(settings.models_dir).path(name)
            logs = settings.data_home / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            server = EmbeddedLLMServer(
                ServerOptions(
                    model_path=path,
                    port=settings.llm_port,
                    ctx=settings.llm_ctx,
                    parallel=settings.llm_parallel,
                    threads=settings.llm_threads,
                    alias=name,
                ),
                log_file=logs / f"llm-{name}.log",
            )
            server.start()
            _embedded.servers[name] = server
            logger.info("embedded llama.cpp serving %s at %s", name, server.base_url)
        return server.base_url


def stop_embedded_servers(names: Sequence[str] | None = None) -> None:
    """Stop the embedded servers of ``names`` (default: all). Code that starts a server for
    one model should stop only that one: others may be shared with the rest of the process."""
    with _embedded.lock:
        for name in list(_embedded.servers) if names is None else names:
            server = _embedded.servers.pop(name, None)
            if server is not None:
                server.stop()


class LLMGateway:
    """The async client every service uses for chat completions."""

    def __init__(self, settings: Settings, *, model: str | None = None) -> None:
        self.settings = settings
        self.model = model or settings.llm_model
        self.usage = TokenUsage()
        self._semaphore = asyncio.Semaphore(settings.llm_concurrency)
        self._client: AsyncOpenAI | None = None
        self._start_lock = asyncio.Lock()

    @property
    def is_embedded(self) -> bool:
        return not self.settings.llm_base_url

    @functools.cached_property
    def default_sampling(self) -> dict[str, float]:
        """Read once per gateway: it is merged into every request."""
        if self.model in MODELS:
            return MODELS[self.model].sampling
        # A fine-tune keeps its base model's sampling (its provenance names the base).
        try:
            base = ArtifactRegistry(self.settings.models_dir).manifest(self.model)
        except (OSError, ValueError, KeyError, ModelNotInstalled):
            return {}
        base_name = base.get("provenance", {}).get("base_model", "")
        return MODELS[base_name].sampling if base_name in MODELS else {}

    async def client(self) -> AsyncOpenAI:
        if self._client is not None:
            return self._client
        async with self._start_lock:
            if self._client is None:
                if self.is_embedded:
                    base_url = await asyncio.to_thread(
                        embedded_server_url, self.settings, self.model
                    )
                else:
                    base_url = self.settings.llm_base_url
                self._client = AsyncOpenAI(
                    base_url=base_url,
                    api_key=self.settings.llm_api_key.get_secret_value(),
                    timeout=self.settings.llm_timeout,
                    max_retries=self.settings.llm_max_retries,
                )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def health(self) -> None:
        """Raise unless the endpoint lists models (cheap; no generation)."""
        client = await self.client()
        try:
            await client.models.list(timeout=5)
        except openai.APIError as exc:
            raise LLMError(f"LLM endpoint {client.base_url} is not answering: {exc}") from exc

    def _request(self, messages: Sequence[Message], **options: Any) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        params: dict[str, Any] = {"model": self.model, "messages": list(messages)}
        if options.get("temperature") is None and options.get("response_format") is None:
            # No sampling asked for: use the model's recommended writing settings.
            options = {
                **self.default_sampling,
                **{k: v for k, v in options.items() if v is not None},
            }
        for key, value in options.items():
            if value is None:
                continue
            # llama.cpp and vLLM accept these; the OpenAI SDK passes them through extra_body.
            if key in ("top_k", "repeat_penalty"):
                extra[key] = value
            else:
                params[key] = value
        if extra:
            params["extra_body"] = extra
        return params

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 512,
        temperature: float | None = None,
        response_format: dict[str, Any] | None = None,
        timeout: float | None = None,
        **sampling: Any,
    ) -> ChatResult:
        client = await self.client()
        params = self._request(
            messages,
            max_tokens=max_tokens,
            temperature=temperature,
            response_format=response_format,
            timeout=timeout,
            **sampling,
        )
        async with self._semaphore:
            with LLM_LATENCY.labels(self.model).time():
                try:
                    response = await client.chat.completions.create(**params)
                except openai.APIError as exc:
                    LLM_REQUESTS.labels(self.model, "error").inc()
                    raise LLMError(f"LLM request failed: {exc}") from exc
        choice = response.choices[0]
        usage = response.usage
        prompt = usage.prompt_tokens if usage else 0
        completion = usage.completion_tokens if usage else 0
        self._account(prompt, completion, "ok")
        return ChatResult(
            text=choice.message.content or "",
            finish_reason=choice.finish_reason or "stop",
            prompt_tokens=prompt,
            completion_tokens=completion,
        )

    async def first_token_logprobs(
        self, messages: Sequence[Message], *, top: int = 10
    ) -> dict[str, float]:
        """Log-probabilities of the most likely first tokens (for scoring, e.g. yes/no)."""
        client = await self.client()
        async with self._semaphore:
            try:
                response = await client.chat.completions.create(
                    model=self.model, messages=list(messages), max_tokens=1, temperature=0.0,
                    logprobs=True, top_logprobs=top,
                )  # fmt: skip
            except openai.APIError as exc:
                LLM_REQUESTS.labels(self.model, "error").inc()
                raise LLMError(f"LLM request failed: {exc}") from exc
        usage = response.usage
        self._account(usage.prompt_tokens if usage else 0, 1, "ok")
        content = response.choices[0].logprobs.content if response.choices[0].logprobs else None
        if not content:
            raise LLMError("the LLM endpoint returned no logprobs; it cannot score passages")
        return {t.token: t.logprob for t in content[0].top_logprobs}

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 512,
        temperature: float | None = None,
        timeout: float | None = None,
        **sampling: Any,
    ) -> AsyncIterator[str]:
        """Yield text deltas as they are generated."""
        client = await self.client()
        params = self._request(
            messages,
            max_tokens=max_tokens,
            temperature=temperature,
            timeout=timeout,
            stream=True,
            stream_options={"include_usage": True},
            **sampling,
        )
        prompt = completion = 0
        async with self._semaphore:
            try:
                stream = await client.chat.completions.create(**params)
                async for chunk in stream:
                    if chunk.usage:
                        prompt = chunk.usage.prompt_tokens
                        completion = chunk.usage.completion_tokens
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
            except openai.APIError as exc:
                LLM_REQUESTS.labels(self.model, "error").inc()
                raise LLMError(f"LLM stream failed: {exc}") from exc
        self._account(prompt, completion, "ok")

    async def json(
        self,
        messages: Sequence[Message],
        schema: type[T],
        *,
        max_tokens: int = 512,
        timeout: float | None = None,
    ) -> T:
        """An answer constrained to ``schema``'s JSON schema, parsed and validated.

        Bound strings and arrays in the schema (max_length, max_items): small models
        otherwise run on until max_tokens.
        """
        json_schema = schema.model_json_schema()
        result = await self.chat(
            messages,
            max_tokens=max_tokens,
            temperature=0.0,
            timeout=timeout,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": schema.__name__, "schema": json_schema, "strict": True},
            },
        )
        if result.finish_reason == "length":
            raise LLMTruncated(
                f"structured answer hit max_tokens={max_tokens} before the JSON closed"
            )
        try:
            return schema.model_validate(json.loads(_strip_fences(result.text)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise LLMError(f"LLM answer does not match {schema.__name__}: {exc}") from exc

    def _account(self, prompt: int, completion: int, outcome: str) -> None:
        self.usage.requests += 1
        self.usage.prompt_tokens += prompt
        self.usage.completion_tokens += completion
        LLM_REQUESTS.labels(self.model, outcome).inc()
        LLM_TOKENS.labels(self.model, "prompt").inc(prompt)
        LLM_TOKENS.labels(self.model, "completion").inc(completion)


def _strip_fences(text: str) -> str:
    # Endpoints without grammar support wrap JSON in ```json fences.
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rsplit("```", 1)[0]
    return stripped.strip()
