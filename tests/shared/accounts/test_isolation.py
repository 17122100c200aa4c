import re

HTML = {"Accept": "text/html"}


def test_orgs_never_see_or_touch_each_other(app, forms):
    with forms.make_client(app) as alice, forms.make_client(app) as mallory:
        forms.sign_up(alice, "alice@example.com", org="Alice Corp")
        forms.sign_up(mallory, "mallory@example.com", org="Mallory Ltd")
        a_token, m_token = forms.account_csrf(alice), forms.account_csrf(mallory)

        alice.post(
            "/account/api-keys",
            data={"name": "alice-secret-key", "scopes": ["shopbot"], "csrf_token": a_token},
        )
        (alice_key,) = forms.sql(alice, "SELECT id, prefix FROM api_keys")

        # Mallory's account page shows Mallory's org only.
        page = mallory.get("/account", headers=HTML).text
        assert "Mallory Ltd" in page
        assert "Alice Corp" not in page and "alice-secret-key" not in page
        assert alice_key["prefix"] not in page and "alice@example.com" not in page

        # Revoking Alice's key by id answers exactly like a key that does not exist.
        stolen = mallory.post(
            f"/account/api-keys/{alice_key['id']}/revoke", data={"csrf_token": m_token}
        )
        missing = mallory.post("/account/api-keys/999999/revoke", data={"csrf_token": m_token})
        assert stolen.status_code == missing.status_code == 404
        assert stolen.json()["detail"] == missing.json()["detail"]
        (still,) = forms.sql(alice, "SELECT revoked_at FROM api_keys")
        assert still["revoked_at"] is None

        # Alice still sees and owns her key; Mallory's new key lands in Mallory's org.
        assert "alice-secret-key" in alice.get("/account", headers=HTML).text
        mallory.post(
            "/account/api-keys",
            data={"name": "mallory-key", "scopes": ["shopbot"], "csrf_token": m_token},
        )
        alice_page = alice.get("/account", headers=HTML).text
        assert "mallory-key" not in alice_page
        assert len(re.findall(r'data-key-id="', alice_page)) == 1


def test_session_of_a_removed_member_stops_working(client, forms):
    forms.sign_up(client, "leaver@example.com")
    assert client.get("/account", headers=HTML).status_code == 200
    forms.sql(client, "DELETE FROM accounts_memberships RETURNING 1")
    assert client.get("/account", headers=HTML).status_code == 303
