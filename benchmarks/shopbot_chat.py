"""Shopbot chat: time to first token with the embedded 0.5B model, and 50 concurrent sessions.

Data: the demo store (Vendure's packaged catalogue). The service runs as a real uvicorn
process; the embedded llama.cpp server (Qwen2.5-Coder 0.5B, 2 slots) is started here and
shared. Clients speak the widget's WebSocket protocol (``websockets``).

- ``chat_ttft``: 10 free-form shopper questions (answered by the model, not by the exact SQL
  path), each in a fresh session, one at a time: seconds from sending the message to the first
  ``delta`` event (verified text). Product cards arrive before that (``cards_s`` context).
  Baseline: the first streamed token of the same question asked straight to the llama.cpp
  server with the same system prompt (no retrieval, tools or verification).
- ``chat_concurrent_errors``: 50 sessions (10 with ``--quick``) each send one question at
  once; errors = error events, dropped sockets or no ``done`` within 10 minutes. Answers that
  fell back to search results are counted separately (``fallbacks``). Time to ``done`` p50/p95
  as context: with 2 LLM slots, messages queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid

from benchmarks._common import main, p50, percentile, result, settings
from benchmarks._service import free_port, scratch_database, serve

logger = logging.getLogger("benchmarks.shopbot_chat")
DATABASE = "bench_shopchat"
MODEL = "qwen2.5-coder-0.5b"
FACTORY = "services.shopbot.app:create_shopbot_app"
QUESTIONS = [
    "I need a tent for a weekend of camping",
    "something comfortable to sit on in my reading corner",
    "a gift for someone who loves running",
    "which camera would suit a beginner photographer?",
    "I want a plant that is hard to kill",
    "a good keyboard for typing all day",
    "what would you recommend for a small home office desk?",
    "do you have anything for playing basketball outdoors?",
    "I'm looking for a cheap cable for my laptop",
    "shoes for a marathon under 150 dollars",
]


async def _seed(url: str, origin: str) -> str:
    from services.shopbot.demo import ensure_demo_store
    from shared.db import create_pool
    from shared.models.embeddings import Embedder
    from shared.retrieval import ChunkStore

    s = settings()
    async with create_pool(url, s) as pool:
        store, _ = await ensure_demo_store(pool, ChunkStore(pool, Embedder(s)), [origin])
    return store.widget_key


async def _ask(ws_base: str, key: str, origin: str, question: str) -> dict:
    import websockets

    url = f"{ws_base}/v1/chat?key={key}&session={uuid.uuid4().hex}"
    outcome = {"first_delta": None, "cards": None, "done": None, "error": None, "fallback": False}
    start = time.perf_counter()
    try:
        async with websockets.connect(url, origin=origin, open_timeout=30) as ws:
            ready = json.loads(await ws.recv())
            assert ready["type"] == "ready", ready
            start = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "text": question}))
            async with asyncio.timeout(600):
                while True:
                    event = json.loads(await ws.recv())
                    elapsed = time.perf_counter() - start
                    kind = event["type"]
                    if kind == "products" and outcome["cards"] is None:
                        outcome["cards"] = elapsed
                    elif kind == "delta" and outcome["first_delta"] is None:
                        outcome["first_delta"] = elapsed
                    elif kind == "notice":
                        outcome["fallback"] = True
                    elif kind == "error":
                        outcome["error"] = event.get("code")
                        return outcome
                    elif kind == "done":
                        outcome["done"] = elapsed
                        return outcome
    except Exception as exc:  # a dropped socket or a timeout is an error in this benchmark
        outcome["error"] = type(exc).__name__
    return outcome


async def _direct_ttft(llm_url: str, question: str) -> float:
    from openai import AsyncOpenAI

    from services.shopbot.assistant import SYSTEM_PROMPT

    client = AsyncOpenAI(base_url=llm_url, api_key="none")
    start = time.perf_counter()
    stream = await client.chat.completions.create(
        model=MODEL, stream=True, max_tokens=16, temperature=0,
        messages=[{"role": "system", "content": SYSTEM_PROMPT.format(store="Vendure demo shop")},
                  {"role": "user", "content": question}],
    )  # fmt: skip
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            elapsed = time.perf_counter() - start
            await stream.close()
            return elapsed
    return time.perf_counter() - start


def run(quick: bool) -> list[dict]:
    from shared.models.llm import embedded_server_url, stop_embedded_servers

    sessions = 10 if quick else 50
    questions = QUESTIONS[:4] if quick else QUESTIONS
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    try:
        with scratch_database(DATABASE) as url:
            key = asyncio.run(_seed(url, origin))
            llm_url = embedded_server_url(settings(llm_model=MODEL, llm_parallel=2))
            with serve(FACTORY, url, port, ASCENT_SHOPBOT_DEMO="false",
                       ASCENT_SHOPBOT_MESSAGE_RATE="100000/second",
                       ASCENT_LLM_BASE_URL=llm_url, ASCENT_LLM_MODEL=MODEL):  # fmt: skip
                ws_base = f"ws://127.0.0.1:{port}"
                asyncio.run(_ask(ws_base, key, origin, "hello, what do you sell?"))  # warm-up
                serial = [asyncio.run(_ask(ws_base, key, origin, q)) for q in questions]
                direct = [asyncio.run(_direct_ttft(llm_url, q)) for q in questions]
                start = time.perf_counter()
                crowd = asyncio.run(_crowd(ws_base, key, origin, sessions))
                crowd_s = time.perf_counter() - start
    finally:
        stop_embedded_servers()
    ttft = [o["first_delta"] for o in serial if o["first_delta"] is not None]
    cards = [o["cards"] for o in serial if o["cards"] is not None]
    done = [o["done"] for o in crowd if o["done"] is not None]
    errors = [o["error"] for o in crowd if o["error"]]
    context = {"model": MODEL, "questions": len(questions), "answered_by_model": len(ttft),
               "cards_s_p50": round(p50(cards), 3) if cards else None}  # fmt: skip
    crowd_context = {"sessions": sessions, "fallbacks": sum(o["fallback"] for o in crowd),
                     "error_kinds": sorted(set(errors)), "total_s": round(crowd_s, 1),
                     "done_s_p50": round(p50(done), 1) if done else None,
                     "done_s_p95": round(percentile(done, 95), 1) if done else None}  # fmt: skip
    nan = float("nan")
    return [
        result("chat_ttft_p50", p50(ttft) if ttft else nan, "s", p50(direct), **context),
        result("chat_ttft_max", max(ttft) if ttft else nan, "s", max(direct), **context),
        result("chat_concurrent_errors", len(errors), "errors", 0, **crowd_context),
    ]


async def _crowd(ws_base: str, key: str, origin: str, sessions: int) -> list[dict]:
    asks = [_ask(ws_base, key, origin, QUESTIONS[i % len(QUESTIONS)]) for i in range(sessions)]
    return await asyncio.gather(*asks)


if __name__ == "__main__":
    main("shopbot_chat", run)
