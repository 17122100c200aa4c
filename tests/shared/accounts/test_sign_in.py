from datetime import timedelta
from http.cookies import SimpleCookie

from shared.accounts.sessions import SESSION_TTL

HTML = {"Accept": "text/html"}


def _cookie(response, name):
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie(header)
        if name in cookie:
            return cookie[name], header.lower()
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.get_list('set-cookie')}")


def test_sign_up_sets_a_hardened_session_cookie(client, forms):
    page = client.get("/account/sign-up", headers=HTML)
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"

    resp = forms.sign_up(client, "Ada@Example.com", org="Analytical Engines")
    assert resp.status_code == 303 and resp.headers["location"] == "/account"
    morsel, raw = _cookie(resp, "ascent_session")
    assert len(morsel.value) == 43  # 32 random bytes, base64url
    assert morsel["httponly"] and morsel["samesite"].lower() == "lax" and morsel["path"] == "/"
    assert int(morsel["max-age"]) == int(SESSION_TTL.total_seconds())
    assert "secure" not in raw  # plain HTTP outside production

    account = client.get("/account", headers=HTML)
    assert account.status_code == 200
    assert "Analytical Engines" in account.text and "ada@example.com" in account.text


def test_production_cookie_is_secure_and_host_prefixed(app, forms):
    app.state.settings = app.state.settings.model_copy(update={"env": "production"})
    # Secure cookies come back over HTTPS only.
    with forms.make_client(app, base_url="https://testserver") as client:
        resp = forms.sign_up(client, "prod@example.com")
    assert resp.status_code == 303
    morsel, raw = _cookie(resp, "__Host-ascent_session")
    assert morsel["secure"] and morsel["httponly"] and morsel["samesite"].lower() == "lax"
    assert morsel["path"] == "/" and "domain" not in raw


def test_session_id_is_stored_only_as_a_hash(client, forms):
    resp = forms.sign_up(client, "hash@example.com")
    session_id = resp.cookies["ascent_session"]
    rows = forms.sql(client, "SELECT * FROM accounts_sessions")
    assert len(rows) == 1
    assert session_id.encode() not in rows[0]["id_hash"] and len(rows[0]["id_hash"]) == 32
    assert session_id not in str(rows[0])


def test_sign_in_wrong_password_and_next(client, forms):
    forms.sign_up(client, "bob@example.com")
    client.cookies.clear()

    wrong = forms.sign_in(client, "bob@example.com", "not the password")
    assert wrong.status_code == 400 and "Wrong email or password" in wrong.text
    unknown = forms.sign_in(client, "nobody@example.com")
    assert unknown.status_code == 400 and "Wrong email or password" in unknown.text
    assert "ascent_session" not in client.cookies

    ok = forms.sign_in(client, "BOB@example.com", next="/pricing/shopbot?plan=pro")
    assert ok.status_code == 303 and ok.headers["location"] == "/pricing/shopbot?plan=pro"
    assert client.get("/account", headers=HTML).status_code == 200

    # Signed in already: the forms send the visitor on.
    assert client.get("/account/sign-in", headers=HTML).headers["location"] == "/account"


def test_next_cannot_leave_the_site(client, forms):
    for target in ("https://evil.example", "//evil.example/x", "/\\evil.example", "javascript:x"):
        client.cookies.clear()
        resp = forms.sign_up(client, f"n{len(target)}@example.com", next=target)
        assert resp.headers["location"] == "/account", target


def test_sign_up_errors(client, forms):
    forms.sign_up(client, "taken@example.com")
    client.cookies.clear()
    again = forms.sign_up(client, "TAKEN@example.com")
    assert again.status_code == 409 and "already exists" in again.text
    short = forms.sign_up(client, "short@example.com", password="short")
    assert short.status_code == 400 and "at least 8" in short.text
    bad = forms.sign_up(client, "not-an-email")
    assert bad.status_code == 400 and "email address" in bad.text
    assert "ascent_session" not in client.cookies


def test_sign_out_revokes_the_session(client, forms):
    forms.sign_up(client, "out@example.com")
    session_id = client.cookies["ascent_session"]
    token = forms.account_csrf(client)

    resp = client.post("/account/sign-out", data={"csrf_token": token})
    assert resp.status_code == 303 and resp.headers["location"] == "/account/sign-in"
    morsel, _ = _cookie(resp, "ascent_session")
    assert morsel.value == "" and int(morsel["max-age"]) == 0

    # The old id is dead even if a copy of the cookie survived somewhere.
    client.cookies.set("ascent_session", session_id)
    assert client.get("/account", headers=HTML).status_code == 303


def test_signed_out_pages_redirect_and_api_calls_get_401(client):
    page = client.get("/account", headers=HTML)
    assert page.status_code == 303
    assert page.headers["location"] == "/account/sign-in?next=/account"
    api = client.get("/account", headers={"Accept": "application/json"})
    assert api.status_code == 401
    assert api.headers["content-type"] == "application/problem+json"


def test_expired_session_is_refused(client, forms):
    forms.sign_up(client, "late@example.com")
    assert client.get("/account", headers=HTML).status_code == 200
    forms.sql(client, "UPDATE accounts_sessions SET expires_at = now() - interval '1 second'")
    resp = client.get("/account", headers=HTML)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/account/sign-in")


def test_session_expiry_slides(client, forms):
    forms.sign_up(client, "slide@example.com")
    forms.sql(client, "UPDATE accounts_sessions SET expires_at = now() + interval '1 hour'")
    page = client.get("/account", headers=HTML)
    assert page.status_code == 200
    (row,) = forms.sql(client, "SELECT expires_at - now() AS left FROM accounts_sessions")
    assert row["left"] > SESSION_TTL - timedelta(minutes=1)
    # The cookie slides with it.
    morsel, _ = _cookie(page, "ascent_session")
    assert int(morsel["max-age"]) == int(SESSION_TTL.total_seconds())


def test_sign_in_replaces_an_existing_session(client, forms):
    forms.sign_up(client, "fix@example.com")
    first = client.cookies["ascent_session"]
    # A signed-in browser posting the sign-in form again (an old tab) gets a new id, and the
    # old one ends: no session fixation.
    anon_token = client.cookies["ascent_csrf"]
    resp = client.post(
        "/account/sign-in",
        data={"csrf_token": anon_token, "email": "fix@example.com", "password": forms.password},
    )
    assert resp.status_code == 303
    assert client.cookies["ascent_session"] != first
    assert len(forms.sql(client, "SELECT 1 FROM accounts_sessions WHERE revoked_at IS NULL")) == 1


def test_rate_limit_per_email_and_address(client, forms):
    forms.sign_up(client, "rl@example.com")
    client.cookies.clear()
    for _ in range(5):
        assert forms.sign_in(client, "rl@example.com", "wrong password").status_code == 400
    blocked = forms.sign_in(client, "rl@example.com")  # even the right password
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["retry-after"]) <= 15 * 60
    assert "Too many attempts" in blocked.text
    # Another email from the same address is counted apart.
    forms.sign_up(client, "other@example.com")
    client.cookies.clear()
    assert forms.sign_in(client, "other@example.com").status_code == 303


def test_successful_sign_in_resets_the_count(client, forms):
    forms.sign_up(client, "reset@example.com")
    client.cookies.clear()
    for _ in range(4):
        forms.sign_in(client, "reset@example.com", "wrong password")
    assert forms.sign_in(client, "reset@example.com").status_code == 303
    client.cookies.clear()
    for _ in range(5):
        assert forms.sign_in(client, "reset@example.com", "wrong password").status_code == 400


def test_sign_ups_per_address_are_limited(client, forms):
    for n in range(10):
        client.cookies.clear()
        assert forms.sign_up(client, f"bulk{n}@example.com").status_code == 303
    client.cookies.clear()
    blocked = forms.sign_up(client, "bulk10@example.com")
    assert blocked.status_code == 429 and "Too many attempts" in blocked.text
    assert int(blocked.headers["retry-after"]) <= 3600
