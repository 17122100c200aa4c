import re
from urllib.parse import unquote

HTML = {"Accept": "text/html"}


def _billing_on(app):
    app.state.settings = app.state.settings.model_copy(update={"billing_enabled": True})


def test_pricing_lists_the_plans_of_the_product(client, app):
    _billing_on(app)
    page = client.get("/pricing/repurposer", headers=HTML)
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    text = page.text
    for name, price in (
        ("Free", "$0 / month"),
        ("Pro", "$29 / month"),
        ("Business", "$99 / month"),
    ):
        assert f">{name}</h2>" in text and price in text
    assert "600 minutes" in text and "Vertical 9:16 clips" in text
    assert client.get("/pricing/mailer", headers=HTML).status_code == 404


def test_signed_out_visitor_signs_up_then_returns_to_choose(client, forms, app):
    _billing_on(app)
    page = client.get("/pricing/shopbot", headers=HTML).text
    assert 'action="/billing/checkout"' not in page
    links = re.findall(r'href="(/account/sign-up\?next=[^"]+)"', page)
    assert len(links) == 2  # Pro and Business; Free needs no checkout
    next_url = unquote(links[0].split("next=", 1)[1])
    assert next_url == "/pricing/shopbot?plan=pro"

    sign_up_page = client.get(links[0], headers=HTML)
    assert f'name="next" value="{next_url}"' in sign_up_page.text.replace("&amp;", "&")
    resp = forms.sign_up(client, "buyer@example.com", next=next_url)
    assert resp.status_code == 303 and resp.headers["location"] == next_url

    back = client.get(next_url, headers=HTML).text
    assert "Confirm your plan" in back
    chosen = back.split('class="card plan chosen"', 1)[1].split("</article>", 1)[0]
    assert 'action="/billing/checkout"' in chosen
    assert 'name="product" value="shopbot"' in chosen and 'name="plan" value="pro"' in chosen
    assert f'name="csrf_token" value="{forms.account_csrf(client)}"' in chosen


def test_no_checkout_while_billing_is_off(client, forms):
    forms.sign_up(client, "free@example.com")
    page = client.get("/pricing/reviewer?checkout=cancelled", headers=HTML).text
    assert "nothing was charged" in page
    assert "Billing is off" in page and 'action="/billing/checkout"' not in page


def test_static_files_are_served_from_the_app_folder_only(client):
    css = client.get("/account/static/account.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    for name in ("..%2Ftemplates%2Fbase.html", "missing.css", "%2Fetc%2Fpasswd"):
        assert client.get(f"/account/static/{name}").status_code == 404
