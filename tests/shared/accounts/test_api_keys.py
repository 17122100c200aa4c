import hashlib
import re

from shared.accounts import create_org_key, list_org_keys, org_tenant, revoke_org_key
from shared.web.auth import lookup_api_key

HTML = {"Accept": "text/html"}


def _shown_key(html: str) -> str:
    found = re.findall(r'value="(asc_[A-Za-z0-9_-]+)"', html)
    assert len(found) == 1, found
    return found[0]


def test_key_is_shown_once_and_hashed_at_rest(client, forms):
    forms.sign_up(client, "keys@example.com")
    token = forms.account_csrf(client)
    created = client.post(
        "/account/api-keys",
        data={"name": "CI pipeline", "scopes": ["repurposer", "shopbot"], "csrf_token": token},
    )
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    key = _shown_key(created.text)
    assert key.startswith("asc_") and "shown only this once" in created.text

    (row,) = forms.sql(client, "SELECT * FROM api_keys")
    assert row["key_hash"] == hashlib.sha256(key.encode()).digest()
    assert key not in str(row) and row["tenant"].startswith("org:org_")
    assert row["scopes"] == ["repurposer", "shopbot"]

    account = client.get("/account", headers=HTML)
    assert "CI pipeline" in account.text and row["prefix"] in account.text
    assert key not in account.text, "the account page never shows the whole key again"
    assert "never" in account.text  # not used yet

    api_key = client.portal.call(lookup_api_key, client.app.state.pool, key)
    assert api_key is not None and api_key.scopes == ("repurposer", "shopbot")
    account = client.get("/account", headers=HTML)
    assert "never" not in account.text.split('id="api-keys"')[1].split("Create a key")[0]


def test_revoked_key_stops_working(client, forms):
    forms.sign_up(client, "revoke@example.com")
    token = forms.account_csrf(client)
    key = _shown_key(
        client.post(
            "/account/api-keys", data={"name": "old", "scopes": ["reviewer"], "csrf_token": token}
        ).text
    )
    (row,) = forms.sql(client, "SELECT id FROM api_keys")
    resp = client.post(f"/account/api-keys/{row['id']}/revoke", data={"csrf_token": token})
    assert resp.status_code == 303 and resp.headers["location"] == "/account#api-keys"
    assert client.portal.call(lookup_api_key, client.app.state.pool, key) is None
    assert 'data-key-id="' not in client.get("/account", headers=HTML).text
    again = client.post(f"/account/api-keys/{row['id']}/revoke", data={"csrf_token": token})
    assert again.status_code == 404


def test_scopes_are_checked(client, forms):
    forms.sign_up(client, "scopes@example.com")
    token = forms.account_csrf(client)
    huge = client.post(f"/account/api-keys/{2**70}/revoke", data={"csrf_token": token})
    assert huge.status_code == 422
    none = client.post("/account/api-keys", data={"name": "x", "csrf_token": token})
    assert none.status_code == 422
    odd = client.post(
        "/account/api-keys", data={"name": "x", "scopes": ["admin"], "csrf_token": token}
    )
    assert odd.status_code == 422


async def test_python_api_is_org_scoped(pool):
    from shared.accounts import create_org

    a, b = await create_org(pool, "A"), await create_org(pool, "B")
    key = await create_org_key(pool, a, "a key", ("shopbot",))
    (listed,) = await list_org_keys(pool, a)
    assert listed.name == "a key" and key.startswith(listed.prefix)
    assert listed.last_used_at is None and listed.scopes == ("shopbot",)
    assert await list_org_keys(pool, b) == []
    assert not await revoke_org_key(pool, b, listed.id)
    assert (await lookup_api_key(pool, key)).tenant == org_tenant(a)
    assert await revoke_org_key(pool, a, listed.id)
