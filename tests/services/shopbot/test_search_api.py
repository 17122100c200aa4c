import random

import pytest

SHOP, OTHER = "http://shop-a.test", "http://shop-b.test"


def _search(client, store, q, origin=SHOP, **params):
    return client.get("/v1/search", params={"key": store.widget_key, "q": q, **params},
                      headers={"Origin": origin})  # fmt: skip


def test_search_finds_by_meaning_with_facets(client, stores):
    vendure, _ = stores["vendure"]
    response = _search(client, vendure, "something to take pictures on holiday")
    assert response.status_code == 200, response.text
    body = response.json()
    titles = [p["title"].lower() for p in body["products"]]
    assert sum("camera" in t for t in titles[:4]) >= 3, titles
    assert set(body["facets"]) == {"category", "price", "in_stock"}
    assert response.headers["access-control-allow-origin"] == SHOP


def test_price_and_stock_filters_are_hard(client, stores):
    vendure, _ = stores["vendure"]
    body = _search(client, vendure, "gift for a runner under $50 in stock", limit=20).json()
    assert body["filters"]["max_price"] == 50 and body["filters"]["in_stock"] is True
    assert body["products"], "expected some cheap in-stock products"
    assert all(p["price"] <= 50 and p["in_stock"] for p in body["products"])
    body = _search(client, vendure, "laptop between 1300 and 2200").json()
    assert body["products"]
    assert all(1300 <= p["price"] <= 2200 for p in body["products"])


def test_category_and_attribute_words_become_filters(client, stores):
    outdoor, _ = stores["outdoor"]
    body = _search(client, outdoor, "black jackets", origin=OTHER).json()
    assert body["filters"]["categories"] == ["Jackets"]
    assert body["filters"]["attributes"] == {"colour": "black"}
    assert [p["sku"] for p in body["products"]] == ["JKT-DOWN"]


def test_typos_and_synonyms(client, stores):
    outdoor, _ = stores["outdoor"]
    body = _search(client, outdoor, "mernio sokcs", origin=OTHER).json()
    assert body["products"][0]["sku"] == "SOCK-MER"
    body = _search(client, outdoor, "something for a rainy walk", origin=OTHER).json()
    assert body["products"][0]["sku"] == "JKT-RAIN"


@pytest.mark.parametrize("origin", [None, "http://evil.test", "http://shop-a.test:8080",
                                    "https://shop-a.test"])  # fmt: skip
def test_disallowed_origins_are_refused(client, stores, origin):
    vendure, _ = stores["vendure"]
    headers = {"Origin": origin} if origin else {}
    response = client.get("/v1/search", params={"key": vendure.widget_key, "q": "laptop"},
                          headers=headers)  # fmt: skip
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


def test_unknown_key_and_bad_parameters(client, stores):
    assert client.get("/v1/search", params={"key": "pk_nope", "q": "x"},
                      headers={"Origin": SHOP}).status_code == 403  # fmt: skip
    vendure, _ = stores["vendure"]
    assert _search(client, vendure, "x" * 501).status_code == 422
    assert _search(client, vendure, "laptop", limit=0).status_code == 422


def test_store_keys_never_reach_another_store(client, stores):
    """Fuzz: every SKU, title and word of store B, asked through store A's key (and the other
    way round), with filters, never returns the other store's products."""
    vendure, _ = stores["vendure"]
    outdoor, _ = stores["outdoor"]
    outdoor_skus = {"TENT-2P", "TENT-4P", "JKT-RAIN", "JKT-DOWN", "SOCK-MER"}
    rng = random.Random(7)
    probes = [*outdoor_skus, "Ridge Tent 2P", "merino socks", "rain jacket under $100",
              "' OR 1=1 --", "outdoor", "tents in stock"]  # fmt: skip
    for q in probes:
        body = _search(client, vendure, q, limit=50).json()
        assert not outdoor_skus & {p["sku"] for p in body["products"]}, q
        assert "Tents" not in body["facets"]["category"], q
    vendure_skus = set()
    for q in ["laptop", "coffee", "shoes", "plant", "camera"]:
        vendure_skus |= {p["sku"] for p in _search(client, vendure, q, limit=50).json()["products"]}
    for sku in rng.sample(sorted(vendure_skus), min(15, len(vendure_skus))):
        body = _search(client, outdoor, sku, origin=OTHER, limit=50).json()
        assert not vendure_skus & {p["sku"] for p in body["products"]}, sku
    # A key from the right store but the wrong origin: refused.
    assert _search(client, vendure, "tent", origin=OTHER).status_code == 403


def test_rate_limit_answers_429_with_retry_after(client, stores):
    outdoor, _ = stores["outdoor"]
    statuses = [_search(client, outdoor, "tent", origin=OTHER).status_code for _ in range(30)]
    assert 429 in statuses and statuses[0] == 200
    limited = _search(client, outdoor, "tent", origin=OTHER)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


def test_preflight_for_click_reports(client, stores):
    outdoor, _ = stores["outdoor"]
    response = client.options("/v1/events/click", params={"key": outdoor.widget_key},
                              headers={"Origin": OTHER,
                                       "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == OTHER
