import json

import pytest

from services.shopbot.catalog import CatalogError, parse_catalog
from services.shopbot.demo import demo_shopify_products


def demo_catalog_bytes():
    return json.dumps(demo_shopify_products()).encode()


def test_csv_rows_become_products_with_attributes(outdoor_csv):
    report = parse_catalog(outdoor_csv.encode(), "outdoor.csv")
    assert report.errors == []
    by_sku = {r.sku: r for r in report.records}
    tent = by_sku["TENT-4P"]
    assert (str(tent.price), tent.stock, tent.category) == ("399.00", 0, "Tents")
    assert tent.attributes == {"colour": "orange", "material": "polyester"}


def test_malformed_rows_are_reported_by_line_and_the_rest_imports():
    csv_text = (
        "sku,title,price,stock\n"
        "A-1,Good one,10.00,3\n"
        "A-2,Bad price,ten dollars,3\n"
        ",No sku,5.00,1\n"
        "A-3,Negative,-4,1\n"
        "A-4,Too,many,cells,here,1\n"
        "A-5,Also good,7.5,\n"
    )
    report = parse_catalog(csv_text.encode(), "upload.csv")
    assert [r.sku for r in report.records] == ["A-1", "A-5"]
    assert [e.split(":")[0] for e in report.errors] == ["line 3", "line 4", "line 5", "line 6"]
    assert "not a number" in report.errors[0]


def test_json_lines_with_a_broken_line():
    lines = [json.dumps({"sku": "J-1", "name": "Mug", "price": 9}), "{not json",
             json.dumps(["not", "an", "object"]), json.dumps({"sku": "J-2", "name": "Cup",
                                                             "price": "4.50"})]  # fmt: skip
    report = parse_catalog("\n".join(lines).encode(), "feed.jsonl")
    assert [r.sku for r in report.records] == ["J-1", "J-2"]
    assert report.errors[0].startswith("line 2: invalid JSON")
    assert report.errors[1].startswith("line 3")


def test_shopify_products_json_expands_variants():
    data = demo_shopify_products()
    variants = sum(len(p["variants"]) for p in data["products"])
    report = parse_catalog(demo_catalog_bytes(), "products.json")
    assert report.errors == []
    assert len(report.records) == variants > len(data["products"])
    laptop = [r for r in report.records if r.group_id == "laptop"]
    assert len(laptop) == 4
    assert {r.attributes["ram"] for r in laptop} == {"8GB", "16GB"}
    assert all(r.title.startswith("Laptop - ") for r in laptop)
    assert "<p>" not in laptop[0].description  # body_html reduced to text


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "empty.csv", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "logo.csv", "binary"),
        (b"sku,title\n", "catalog.xlsx", "unsupported"),
        (b"\xff\xfe\x00s\x00k", "bad.csv", "binary"),
        (b'{"products": 5}', "p.json", "must be a list"),
    ],
)
def test_whole_file_problems_are_clear_errors(data, name, message):
    with pytest.raises(CatalogError, match=message):
        parse_catalog(data, name)
