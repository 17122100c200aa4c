"""Reviewer webhook acknowledgement latency under 50 concurrent deliveries.

The reviewer runs as a real uvicorn process on the embedded Postgres. Deliveries are real
``pull_request.opened`` payloads from ``@octokit/webhooks-examples`` (fetched by
``scripts/bootstrap test`` into ``.cache/npm``), each for a different pull request number, with
its own ``X-GitHub-Delivery`` and a correct ``X-Hub-Signature-256``. The endpoint verifies,
de-duplicates, records the delivery and defers a job in one transaction, then answers 202; no
worker runs, so nothing competes. The load generator (httpx) shares the machine's 2 cores.

Measured: p50/p95/p99 from sending to the response, for 1,000 deliveries (200 with
``--quick``) from 50 concurrent clients. Baseline: the same from one client.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from pathlib import Path

import aiohttp

from benchmarks._common import main, p50, percentile, result
from benchmarks._service import free_port, scratch_database, serve

logger = logging.getLogger("benchmarks.reviewer_webhook")
DATABASE = "bench_reviewer"
FACTORY = "services.reviewer.app:create_reviewer_app"
SECRET = "benchmark-webhook-secret"
EXAMPLES = Path(__file__).resolve().parents[1] / ".cache/npm/package/api.github.com/index.json"
CLIENTS = 50


def _body() -> bytes:
    if not EXAMPLES.exists():
        raise RuntimeError(
            f"{EXAMPLES} missing: run `scripts/bootstrap test` (fetches the payloads)"
        )
    examples = {e["name"]: e["examples"] for e in json.loads(EXAMPLES.read_text())}
    opened = next(e for e in examples["pull_request"] if e.get("action") == "opened")
    return json.dumps(opened).encode()


async def _deliver(base: str, body: bytes, count: int, clients: int) -> list[float]:
    # Bodies and signatures are made before the clock starts: the client shares the 2 cores.
    template = json.loads(body)
    requests = []
    for i in range(count):
        # A different pull request each time, as when many repositories are busy at once
        # (deliveries of one PR queue behind each other by design).
        template["number"] = template["pull_request"]["number"] = 1000 + i
        data = json.dumps(template).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), data, hashlib.sha256).hexdigest()
        headers = {
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": signature,
            "Content-Type": "application/json",
        }
        requests.append((data, headers))
    latencies: list[float] = []

    async def client(http: aiohttp.ClientSession) -> None:
        while requests:
            data, headers = requests.pop()
            start = time.perf_counter()
            async with http.post(f"{base}/webhooks/github", data=data, headers=headers) as reply:
                await reply.read()
                latencies.append((time.perf_counter() - start) * 1000)
                if reply.status not in (200, 202):
                    raise RuntimeError(f"delivery answered {reply.status}: {await reply.text()}")

    # aiohttp, not httpx: httpx's own connection-pool overhead at 50 concurrent requests on
    # these 2 cores was larger than the server's work and dominated the figure.
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return latencies


def run(quick: bool) -> list[dict]:
    count = 200 if quick else 1000
    body = _body()
    with scratch_database(DATABASE) as url, serve(
        FACTORY, url, free_port(), ASCENT_REVIEWER_WEBHOOK_SECRET=SECRET,
        ASCENT_LLM_BASE_URL="http://127.0.0.1:9/v1",  # acknowledging never calls the model
    ) as base:  # fmt: skip
        asyncio.run(_deliver(base, body, 50, 5))  # warm-up: connections, plans, caches
        serial = asyncio.run(_deliver(base, body, count // 5, 1))
        concurrent = asyncio.run(_deliver(base, body, count, CLIENTS))
    context = {"deliveries": count, "clients": CLIENTS, "payload_bytes": len(body)}
    return [
        result("webhook_ack_p50_50_clients", p50(concurrent), "ms", p50(serial), **context),
        result(
            "webhook_ack_p95_50_clients",
            percentile(concurrent, 95),
            "ms",
            percentile(serial, 95),
            **context,
        ),
        result(
            "webhook_ack_p99_50_clients",
            percentile(concurrent, 99),
            "ms",
            percentile(serial, 99),
            **context,
        ),
    ]


if __name__ == "__main__":
    main("reviewer_webhook", run)
