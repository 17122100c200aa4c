HTML = {"Accept": "text/html"}


def test_session_forms_need_the_session_token(client, forms):
    forms.sign_up(client, "csrf@example.com")
    token = forms.account_csrf(client)

    missing = client.post("/account/api-keys", data={"name": "k", "scopes": ["shopbot"]})
    assert missing.status_code == 403
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = client.post(
        "/account/api-keys", data={"name": "k", "scopes": ["shopbot"], "csrf_token": "x" * 43}
    )
    assert wrong.status_code == 403
    assert client.post("/account/sign-out").status_code == 403
    assert client.get("/account", headers=HTML).status_code == 200, "still signed in"

    by_field = client.post(
        "/account/api-keys", data={"name": "k", "scopes": ["shopbot"], "csrf_token": token}
    )
    assert by_field.status_code == 201
    by_header = client.post(
        "/account/api-keys", data={"name": "k2", "scopes": ["shopbot"]},
        headers={"X-CSRF-Token": token},
    )  # fmt: skip
    assert by_header.status_code == 201


def test_token_is_per_session(client, forms, app):
    forms.sign_up(client, "a@example.com")
    token_a = forms.account_csrf(client)
    with forms.make_client(app) as other:
        forms.sign_up(other, "b@example.com")
        resp = other.post(
            "/account/api-keys", data={"name": "k", "scopes": ["reviewer"], "csrf_token": token_a}
        )
        assert resp.status_code == 403


def test_sign_in_form_needs_the_double_submit_token(client, forms):
    forms.sign_up(client, "login@example.com")
    client.cookies.clear()
    data = {"email": "login@example.com", "password": forms.password}
    assert client.post("/account/sign-in", data=data).status_code == 403
    client.get("/account/sign-in", headers=HTML)  # sets the ascent_csrf cookie
    forged = client.post("/account/sign-in", data={**data, "csrf_token": "y" * 43})
    assert forged.status_code == 403
    assert client.post("/account/sign-up", data={**data, "csrf_token": ""}).status_code == 403
    assert "ascent_session" not in client.cookies
