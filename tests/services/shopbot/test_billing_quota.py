"""The shopbot's plan: each new chat session is a conversation, counted once against the
store's monthly quota; a store over its quota takes no new ones, open ones carry on."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.shopbot.app import create_shopbot_app
from services.shopbot.stores import create_store
from shared.billing import Billing, record_usage

SHOP = "http://shop-q.test"


@pytest.fixture
def quota_settings(settings):
    # No model is needed: these tests stop at the shopper's message being taken or refused.
    return settings.model_copy(update={
        "shopbot_demo": False, "llm_base_url": "http://127.0.0.1:9/v1", "billing_enabled": True,
    })  # fmt: skip


@pytest.fixture
async def store(pool):
    store, _ = await create_store(pool, "quota-shop", "Quota Shop", origins=[SHOP])
    return store


def first_reply(client, store, session: str, text: str = "hello") -> dict:
    """The answer to sending ``text``: its own "user" event, or an error."""
    url = f"/v1/chat?key={store.widget_key}&session={session}"
    with client.websocket_connect(url, headers={"origin": SHOP}) as ws:
        while ws.receive_json()["type"] != "ready":
            pass  # the session's earlier events, replayed
        ws.send_json({"type": "message", "text": text})
        for _ in range(50):
            event = ws.receive_json()
            if event["type"] == "error" or (event["type"] == "user" and event["text"] == text):
                return event
    raise AssertionError("no answer to the message")


async def _usage(pool) -> dict[str, int]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT idempotency_key, quantity FROM billing_usage")
        return {r["idempotency_key"]: r["quantity"] for r in await cur.fetchall()}


async def test_conversations_are_counted_once_and_refused_past_the_quota(
    quota_settings, store, pool
):
    billing = Billing(quota_settings, pool)
    with TestClient(create_shopbot_app(quota_settings)) as client:
        assert first_reply(client, store, "session-one-0001")["type"] == "user"
        assert first_reply(client, store, "session-one-0001", "and again")["type"] == "user"
        assert await _usage(pool) == {"shopbot:conversation:quota-shop:session-one-0001": 1}

        await record_usage(billing, "shopbot", "quota-shop", "conversations", 99, "earlier")
        refused = first_reply(client, store, "session-two-0002")
        assert refused["type"] == "error" and refused["code"] == "quota_exceeded"
        # The conversation that was already counted goes on.
        assert first_reply(client, store, "session-one-0001", "one more")["type"] == "user"
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT DISTINCT session_id FROM shop_events")
        assert [r["session_id"] for r in await cur.fetchall()] == ["session-one-0001"]


async def test_without_billing_conversations_are_not_limited(quota_settings, store, pool):
    settings = quota_settings.model_copy(update={"billing_enabled": False})
    await record_usage(Billing(settings, pool), "shopbot", "quota-shop", "conversations", 10**6,
                       "huge")  # fmt: skip
    with TestClient(create_shopbot_app(settings)) as client:
        assert first_reply(client, store, "session-free-0003")["type"] == "user"
