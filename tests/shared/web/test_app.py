import io
import json
import logging

import pytest
from fastapi import APIRouter, HTTPException
from fastapi.testclient import TestClient
from pydantic import BaseModel

from shared.web import ApiKeyDep, PoolDep, create_api_key, create_app, require_scope
from shared.web.auth import revoke_api_key

router = APIRouter()


class Item(BaseModel):
    name: str
    price: float


@router.post("/items")
async def create_item(item: Item, key: ApiKeyDep) -> dict:
    return {"tenant": key.tenant, "name": item.name}


@router.get("/boom")
async def boom(pool: PoolDep) -> dict:
    raise RuntimeError("internal detail /etc/secret-path")


@router.get("/teapot")
async def teapot() -> dict:
    raise HTTPException(418, "I refuse to brew coffee.")


@router.get("/admin", dependencies=[__import__("fastapi").Depends(require_scope("admin"))])
async def admin() -> dict:
    return {"ok": True}


@pytest.fixture
def client(settings, llm_base_url):
    app = create_app(
        "testsvc", routers=[router],
        settings=settings.model_copy(update={"llm_base_url": llm_base_url}),
    )  # fmt: skip
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _key(client, tenant="acme", scopes=()):
    pool = client.app.state.pool
    return client.portal.call(lambda: create_api_key(pool, tenant, name="t", scopes=scopes))


def test_health_ready_and_metrics(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True
    assert body["checks"]["database"]["ok"] and body["checks"]["llm"]["ok"]
    metrics = client.get("/metrics").text
    assert (
        'ascent_http_requests_total{method="GET",route="/readyz",service="testsvc",status="200"}'
        in metrics
    )


def test_readyz_reports_a_dead_llm(settings):
    app = create_app("testsvc", settings=settings.model_copy(
        update={"llm_base_url": "http://127.0.0.1:9/v1", "llm_max_retries": 0}))  # fmt: skip
    with TestClient(app) as c:
        resp = c.get("/readyz")
    assert resp.status_code == 503
    assert resp.json()["checks"]["llm"]["ok"] is False
    assert resp.json()["checks"]["database"]["ok"] is True


def test_request_id_is_generated_and_echoed(client):
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32
    given = "0123456789abcdef0123456789abcdef"
    assert client.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-ID"] == given


def test_errors_are_problem_json(client):
    missing = client.get("/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["status"] == 404 and missing.json()["title"] == "Not Found"

    teapot = client.get("/teapot")
    assert teapot.status_code == 418 and teapot.json()["detail"] == "I refuse to brew coffee."

    key = _key(client)
    invalid = client.post("/items", json={"name": "x", "price": "cheap"},
                          headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    assert "price" in invalid.json()["detail"]

    boom = client.get("/boom")
    assert boom.status_code == 500
    assert "secret-path" not in boom.text
    assert boom.json()["request_id"] == boom.headers["X-Request-ID"]


def test_api_key_auth(client):
    assert client.post("/items", json={"name": "a", "price": 1}).status_code == 401
    bad = client.post("/items", json={"name": "a", "price": 1}, headers={"X-API-Key": "asc_wrong"})
    assert bad.status_code == 401 and bad.headers["content-type"] == "application/problem+json"

    key = _key(client, tenant="acme")
    ok = client.post("/items", json={"name": "a", "price": 1}, headers={"X-API-Key": key})
    assert ok.status_code == 200 and ok.json()["tenant"] == "acme"
    assert client.get("/admin", headers={"X-API-Key": key}).status_code == 403
    admin_key = _key(client, scopes=("admin",))
    assert client.get("/admin", headers={"Authorization": f"Bearer {admin_key}"}).status_code == 200

    async def stored():
        async with client.app.state.pool.connection() as conn:
            cur = await conn.execute("SELECT id, prefix, key_hash::text AS h FROM api_keys")
            return await cur.fetchall()

    rows = client.portal.call(stored)
    assert all(key not in r["h"] and len(r["prefix"]) < len(key) for r in rows)  # hashed only
    client.portal.call(lambda: revoke_api_key(client.app.state.pool, rows[0]["id"]))
    assert client.post("/items", json={"name": "a", "price": 1},
                       headers={"X-API-Key": key}).status_code == 401  # fmt: skip


def test_logs_are_json_with_request_id_and_mask_secrets(client):
    # Capture what the handler configured by the app factory writes.
    handler = logging.getLogger().handlers[0]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        secret = client.app.state.settings.secret_key.get_secret_value()
        client.get("/boom", headers={"X-Request-ID": "deadbeefdeadbeefdeadbeefdeadbeef"})
        logging.getLogger("test").error("leaked %s in a message", secret)
    finally:
        handler.setStream(previous)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    boom = next(r for r in lines if "unhandled error" in r["message"])
    assert boom["request_id"] == "deadbeefdeadbeefdeadbeefdeadbeef" and boom["level"] == "ERROR"
    leaked = next(r for r in lines if "leaked" in r["message"])
    assert secret not in leaked["message"] and "***" in leaked["message"]
