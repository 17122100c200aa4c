"""The merchant's side over HTTP: catalogue uploads and their progress, store settings and
analytics, each behind the store's secret admin key."""

from __future__ import annotations

import time

import pytest
from starlette.websockets import WebSocketDisconnect

SHOP, OTHER = "http://shop-a.test", "http://shop-b.test"
HEADER = "sku,title,description,price,stock,category,colour,material\n"


def _admin(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _upload(client, key, data: bytes, name="catalog.csv", **params):
    return client.post("/v1/admin/catalog", headers=_admin(key), params=params,
                       files={"file": (name, data, "text/csv")})  # fmt: skip


def _wait_done(client, key, status_url, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(status_url, headers=_admin(key))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] in ("running", "done"), body
        if body["status"] == "done":
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def _search(client, store, q, origin, **params):
    return client.get("/v1/search", params={"key": store.widget_key, "q": q, **params},
                      headers={"Origin": origin})  # fmt: skip


def _catalogue_size(client, store, origin) -> int:
    body = _search(client, store, "anything", origin).json()
    return sum(body["facets"]["category"].values())


# -- catalogue upload ------------------------------------------------------------------------------
def test_upload_reports_bad_rows_by_line_and_imports_the_rest(client, stores, outdoor_csv):
    outdoor, key = stores["outdoor"]
    lines = outdoor_csv.splitlines()
    sock = next(line for line in lines if line.startswith("SOCK-MER,"))
    csv = (
        HEADER + "TENT-2P,Ridge Tent 2P,Two-person backpacking tent that pitches fast.,229.00,4,"
        "Tents,green,nylon\n"  # line 2: price changed
        + "BOTTLE-1,Steel Bottle,Keeps drinks cold all day.,24.00,10,Bottles,silver,steel\n"
        + "BAD-PRICE,Broken Price,Nothing.,abc,1,Tents,red,nylon\n"  # line 4
        + ",No Sku,Nothing.,10.00,1,Tents,red,nylon\n"  # line 5
        + "EXTRA-1,Too Many,Nothing.,10.00,1,Tents,red,nylon,surprise\n"  # line 6
        + "NEG-1,Negative,Nothing.,-5,1,Tents,red,nylon\n"  # line 7
        + "BAD-STOCK,Odd Stock,Nothing.,5.00,lots,Tents,red,nylon\n"  # line 8
        + sock
        + "\n"
    )  # fmt: skip  (line 9: unchanged)
    response = _upload(client, key, csv.encode(), "outdoor.csv")
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["rows"] == 3
    assert body["status_url"] == f"/v1/admin/imports/{body['import_id']}"
    errors = body["errors"]
    assert [e.split(":")[0] for e in errors] == ["line 4", "line 5", "line 6", "line 7", "line 8"]
    assert "price 'abc' is not a number" in errors[0]
    assert "no sku" in errors[1] and "beyond the header" in errors[2]
    assert "non-negative" in errors[3] and "stock 'lots' is not a number" in errors[4]

    done = _wait_done(client, key, body["status_url"])
    assert done["percent"] == 100 and done["done"] == done["total"] == 3
    assert done["finished_at"] is not None
    report = done["report"]
    assert (report["added"], report["updated"], report["unchanged"], report["removed"]) == (
        1, 1, 1, 0)  # fmt: skip
    assert report["parse_errors"] == errors
    # The new price and the new product are live; the untouched products are still there.
    found = _search(client, outdoor, "backpacking tent", OTHER).json()["products"]
    assert next(p for p in found if p["sku"] == "TENT-2P")["price"] == 229.0
    found = _search(client, outdoor, "steel bottle", OTHER).json()["products"]
    assert found[0]["sku"] == "BOTTLE-1"
    assert _catalogue_size(client, outdoor, OTHER) == 6


def test_full_sync_removes_products_missing_from_the_file(client, stores, outdoor_csv):
    outdoor, key = stores["outdoor"]
    assert _catalogue_size(client, outdoor, OTHER) == 5
    kept = [line for line in outdoor_csv.splitlines()[1:] if line.startswith(("TENT-2P", "SOCK"))]
    response = _upload(client, key, (HEADER + "\n".join(kept)).encode(), "outdoor.csv",
                       full_sync="true")  # fmt: skip
    assert response.status_code == 202, response.text
    report = _wait_done(client, key, response.json()["status_url"])["report"]
    assert (report["added"], report["unchanged"], report["removed"]) == (0, 2, 3)
    assert _catalogue_size(client, outdoor, OTHER) == 2
    skus = {p["sku"] for p in _search(client, outdoor, "jacket tent socks", OTHER,
                                      limit=50).json()["products"]}  # fmt: skip
    assert skus == {"TENT-2P", "SOCK-MER"}
    # The other store is untouched.
    vendure, _ = stores["vendure"]
    assert _catalogue_size(client, vendure, SHOP) == 86


def test_shopify_json_upload_without_full_sync_adds_to_the_catalogue(client, stores):
    outdoor, key = stores["outdoor"]
    products = ('{"products": [{"handle": "camp-stove", "title": "Camp Stove", '
                '"product_type": "Stoves", "options": [{"name": "Fuel"}], "variants": ['
                '{"sku": "STOVE-GAS", "price": "59.00", "inventory_quantity": 3, '
                '"option1": "Gas"}, {"sku": "STOVE-WOOD", "price": "45.00", '
                '"inventory_quantity": 0, "option1": "Wood"}]}]}')  # fmt: skip
    response = _upload(client, key, products.encode(), "products.json")
    assert response.status_code == 202, response.text
    report = _wait_done(client, key, response.json()["status_url"])["report"]
    assert (report["added"], report["removed"]) == (2, 0)
    assert _catalogue_size(client, outdoor, OTHER) == 7


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"\x00\x01\x02\x03PK\x03\x04" * 10, "catalog.csv", "binary data"),
    (b"", "catalog.csv", "the file is empty"),
    (b"  \n\n ", "catalog.csv", "the file is empty"),
    (b"sku;title\nA1;Thing\n", "catalog.xlsx", "unsupported type"),
    (b"hello world", "catalog.txt", "unsupported type"),
    ("sku,title,price\nA1,Caf\u00e9,10\n".encode("latin-1"), "catalog.csv", "not UTF-8"),
    (b"sku,title,price\nA1,,10\n,B,5\n", "catalog.csv", "No valid product rows"),
    (b'{"items": 3}', "catalog.json", "must be a list"),
])  # fmt: skip
def test_unreadable_uploads_are_clear_400s(client, stores, data, name, message):
    _, key = stores["outdoor"]
    response = _upload(client, key, data, name)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert message in response.json()["detail"]


def test_no_valid_rows_explains_why(client, stores):
    _, key = stores["outdoor"]
    response = _upload(client, key, b"sku,title,price\nA1,,10\n,B,5\n")
    detail = response.json()["detail"]
    assert "line 2: sku A1: no title" in detail and "line 3: no sku" in detail


# -- who may call ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/admin/store"),
                                              ("PATCH", "/v1/admin/store"),
                                              ("GET", "/v1/admin/analytics"),
                                              ("GET", "/v1/admin/imports/1"),
                                              ("POST", "/v1/admin/catalog")])  # fmt: skip
def test_admin_routes_need_the_admin_key(client, stores, method, path):
    vendure, _ = stores["vendure"]
    for headers in [{}, _admin(vendure.widget_key), _admin("sk_not_a_key"),
                    {"Authorization": "Basic dXNlcjpwYXNz"}]:  # fmt: skip
        response = client.request(method, path, headers=headers, json={})
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


def test_another_stores_admin_key_cannot_read_an_import(client, stores, outdoor_csv):
    _, outdoor_key = stores["outdoor"]
    _, vendure_key = stores["vendure"]
    response = _upload(client, outdoor_key, outdoor_csv.encode(), "outdoor.csv")
    status_url = response.json()["status_url"]
    _wait_done(client, outdoor_key, status_url)
    refused = client.get(status_url, headers=_admin(vendure_key))
    assert refused.status_code == 404
    assert "214" not in refused.text and "outdoor" not in refused.text
    assert client.get("/v1/admin/imports/999999", headers=_admin(outdoor_key)).status_code == 404


# -- store settings --------------------------------------------------------------------------------
def test_get_store_shows_this_store_only(client, stores):
    vendure, vendure_key = stores["vendure"]
    body = client.get("/v1/admin/store", headers=_admin(vendure_key)).json()
    assert body == {"id": "vendure", "name": "Vendure", "widget_key": vendure.widget_key,
                    "allowed_origins": [SHOP], "currency": "USD", "integrations": {}}  # fmt: skip
    _, outdoor_key = stores["outdoor"]
    assert client.get("/v1/admin/store", headers=_admin(outdoor_key)).json()["id"] == "outdoor"


def test_patch_store_normalises_origins_and_they_take_effect(client, stores):
    vendure, key = stores["vendure"]
    assert _search(client, vendure, "tent", "http://shop-a.test:8080").status_code == 403
    response = client.patch("/v1/admin/store", headers=_admin(key), json={
        "name": "Vendure Outlet",
        "allowed_origins": ["HTTPS://Shop-A.test:443/", "http://shop-a.test",
                            "http://Shop-A.test:8080/checkout", "https://shop-a.test"],
    })  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Vendure Outlet"
    assert body["allowed_origins"] == [
        "http://shop-a.test", "http://shop-a.test:8080", "https://shop-a.test"]  # fmt: skip
    assert _search(client, vendure, "tent", "http://shop-a.test:8080").status_code == 200
    assert _search(client, vendure, "tent", "https://SHOP-A.test").status_code == 200
    # A PATCH changes only what it names.
    body = client.patch("/v1/admin/store", headers=_admin(key), json={"name": "V"}).json()
    assert body["allowed_origins"] == [
        "http://shop-a.test", "http://shop-a.test:8080", "https://shop-a.test"]  # fmt: skip


@pytest.mark.parametrize("origin", ["shop-a.test", "ftp://shop-a.test", "http://",
                                    "http://shop-a.test:abc", "http://shop-a.test:99999",
                                    "http://[::1", "javascript:alert(1)"])  # fmt: skip
def test_a_bad_origin_is_a_422_and_changes_nothing(client, stores, origin):
    _, key = stores["vendure"]
    body = {"allowed_origins": [SHOP, origin], "name": "Changed"}
    response = client.patch("/v1/admin/store", headers=_admin(key), json=body)
    assert response.status_code == 422, response.text
    assert "origin" in response.json()["detail"]
    body = client.get("/v1/admin/store", headers=_admin(key)).json()
    assert body["allowed_origins"] == [SHOP] and body["name"] == "Vendure"


@pytest.mark.parametrize("origin", ["null", "http://shop-a.test:abc", "http://[::1", "file://"])
def test_a_malformed_origin_header_is_refused_not_an_error(client, stores, origin):
    vendure, _ = stores["vendure"]
    response = _search(client, vendure, "tent", origin)
    assert response.status_code == 403, response.text
    assert _click(client, vendure, "2000023510", origin).status_code == 403
    # The chat socket closes with the protocol's 4403, not an internal error.
    with (
        client.websocket_connect(f"/v1/chat?key={vendure.widget_key}",
                                 headers={"origin": origin}) as ws,
        pytest.raises(WebSocketDisconnect) as refused,
    ):  # fmt: skip
        ws.receive_json()
    assert refused.value.code == 4403


def test_integration_secrets_are_write_only(client, stores):
    vendure, key = stores["vendure"]
    secret = "shpat_super_secret_0123456789"
    response = client.patch("/v1/admin/store", headers=_admin(key), json={"integrations": {
        "orders": {"url": "https://shop-a.myshopify.com", "token": secret, "version": "2024-10"},
        "currency": {"url": "https://api.frankfurter.app"},
    }})  # fmt: skip
    assert response.status_code == 200, response.text
    expected = {"orders": ["token", "url", "version"], "currency": ["url"]}
    assert response.json()["integrations"] == expected
    assert secret not in response.text
    again = client.get("/v1/admin/store", headers=_admin(key))
    assert again.json()["integrations"] == expected and secret not in again.text
    # Other settings leave the integrations as they were.
    client.patch("/v1/admin/store", headers=_admin(key), json={"name": "Renamed"})
    assert client.get("/v1/admin/store", headers=_admin(key)).json()["integrations"] == expected
    # Nor does any other route of the store show them.
    _, outdoor_key = stores["outdoor"]
    assert secret not in client.get("/v1/admin/store", headers=_admin(outdoor_key)).text
    assert secret not in _search(client, vendure, "tent", SHOP).text


# -- analytics -------------------------------------------------------------------------------------
def _click(client, store, sku, origin, session="s1"):
    body = {"sku": sku, "session": session}
    return client.post("/v1/events/click", params={"key": store.widget_key}, json=body,
                       headers={"Origin": origin})  # fmt: skip


def test_analytics_reflect_searches_results_and_clicks(client, stores):
    vendure, key = stores["vendure"]
    outdoor, outdoor_key = stores["outdoor"]
    first = _search(client, vendure, "Running shoes", SHOP, session="s1").json()["products"]
    second = _search(client, vendure, "running shoes", SHOP, session="s2").json()["products"]
    assert first and [p["sku"] for p in first] == [p["sku"] for p in second]
    assert _search(client, vendure, "laptop under $1", SHOP).json()["products"] == []
    assert _search(client, outdoor, "rain jacket", OTHER).status_code == 200
    top = first[0]["sku"]
    assert _click(client, vendure, top, SHOP).status_code == 204
    assert _click(client, vendure, "NOPE-404", SHOP).status_code == 204  # accepted, not recorded
    assert _click(client, vendure, "JKT-RAIN", SHOP).status_code == 204  # another store's SKU
    assert _click(client, vendure, top, "http://evil.test").status_code == 403
    assert _click(client, vendure, top, OTHER).status_code == 403

    response = client.get("/v1/admin/analytics", headers=_admin(key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["days"] == 30
    queries = {q["query"]: q for q in body["top_queries"]}
    assert set(queries) == {"running shoes", "laptop under $1"}
    assert queries["running shoes"]["searches"] == 2
    assert queries["running shoes"]["avg_results"] == len(first)
    assert queries["laptop under $1"]["avg_results"] == 0
    assert body["queries_without_results"] == [{"query": "laptop under $1", "searches": 1}]
    products = {p["sku"]: p for p in body["products"]}
    assert set(products) == {p["sku"] for p in first}
    assert products[top]["shown"] == 2 and products[top]["clicked"] == 1
    assert products[top]["click_through"] == 0.5 and products[top]["title"] == first[0]["title"]
    assert all(p["clicked"] == 0 for sku, p in products.items() if sku != top)
    assert "NOPE-404" not in products and "JKT-RAIN" not in products

    # Each store sees its own shoppers only.
    other = client.get("/v1/admin/analytics", headers=_admin(outdoor_key)).json()
    assert [q["query"] for q in other["top_queries"]] == ["rain jacket"]
    assert other["queries_without_results"] == []
    assert not {p["sku"] for p in other["products"]} & set(products)
    assert client.get("/v1/admin/analytics", params={"days": 0},
                      headers=_admin(key)).status_code == 422  # fmt: skip
