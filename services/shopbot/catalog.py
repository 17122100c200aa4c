"""Catalogue files → product records: CSV, JSON lines and Shopify-style products JSON.

Each parser yields ``ProductRecord``s and reports malformed rows by line (or product
position) without stopping: one bad row never blocks the rest of an import.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup

MAX_CATALOG_BYTES = 200 * 1024 * 1024
# Columns with a meaning of their own; every other column becomes an attribute.
_ALIASES = {
    "sku": ("sku", "id", "product_id", "variant_sku"),
    "title": ("title", "name", "product_name"),
    "description": ("description", "body", "body_html", "details"),
    "price": ("price", "unit_price", "amount"),
    "currency": ("currency",),
    "stock": ("stock", "inventory", "inventory_quantity", "quantity", "stock_on_hand"),
    "category": ("category", "product_type", "type", "department"),
    "image": ("image", "image_url", "img"),
    "url": ("url", "link", "product_url"),
    "group_id": ("group_id", "handle", "parent", "product_handle"),
}
_SKU = re.compile(r"^[\w.\-/]{1,64}$")


class CatalogError(ValueError):
    """The file as a whole cannot be read (wrong type, not UTF-8, too big)."""


@dataclass
class ProductRecord:
    sku: str
    title: str
    price: Decimal
    currency: str
    description: str = ""
    stock: int | None = None
    category: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    image: str | None = None
    url: str | None = None
    group_id: str = ""

    def __post_init__(self) -> None:
        self.group_id = self.group_id or self.sku

    @property
    def content_hash(self) -> str:
        data = json.dumps(
            [self.title, str(self.price), self.currency, self.description, self.stock,
             self.category, self.attributes, self.image, self.url, self.group_id],
            sort_keys=True, default=str,
        )  # fmt: skip
        return hashlib.sha256(data.encode()).hexdigest()


@dataclass
class ParseReport:
    records: list[ProductRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "line 7: price 'abc' is not a number"


def parse_catalog(data: bytes, filename: str, *, currency: str = "USD") -> ParseReport:
    """Parse a catalogue upload; the format comes from the extension, else from the content."""
    if len(data) > MAX_CATALOG_BYTES:
        raise CatalogError(f"{filename}: {len(data)} bytes is over the {MAX_CATALOG_BYTES} limit")
    if b"\x00" in data[:4096]:
        raise CatalogError(f"{filename}: binary data, not a CSV or JSON catalogue")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{filename}: not UTF-8 text ({exc.reason})") from None
    if not text.strip():
        raise CatalogError(f"{filename}: the file is empty")
    suffix = Path(filename).suffix.lower()
    stripped = text.lstrip()
    if suffix == ".csv":
        return _parse_csv(text, currency)
    if suffix in (".jsonl", ".ndjson"):
        return _parse_json_lines(text, currency)
    if suffix == ".json" or stripped.startswith(("{", "[")):
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            return _parse_json_lines(text, currency)  # JSON lines saved as .json
        return _parse_json_document(document, currency)
    raise CatalogError(f"{filename}: unsupported type; use .csv, .jsonl or Shopify .json")


def parse_catalog_file(path: Path, *, currency: str = "USD") -> ParseReport:
    return parse_catalog(path.read_bytes(), path.name, currency=currency)


# -- formats ---------------------------------------------------------------------------
def _parse_csv(text: str, currency: str) -> ParseReport:
    report = ParseReport()
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise CatalogError("CSV without a header row")
    for row in reader:
        line = reader.line_num
        if None in row:  # more cells than header columns
            report.errors.append(f"line {line}: {len(row[None])} cell(s) beyond the header")
            continue
        _add(report, f"line {line}", {k.strip(): v for k, v in row.items() if k}, currency)
    return report


def _parse_json_lines(text: str, currency: str) -> ParseReport:
    report = ParseReport()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            report.errors.append(f"line {number}: invalid JSON ({exc.msg})")
            continue
        if not isinstance(row, dict):
            report.errors.append(f"line {number}: expected a JSON object")
            continue
        _add(report, f"line {number}", row, currency)
    return report


def _parse_json_document(document: Any, currency: str) -> ParseReport:
    products = document.get("products") if isinstance(document, dict) else document
    if not isinstance(products, list):
        raise CatalogError('JSON catalogue must be a list or {"products": [...]}')
    report = ParseReport()
    for position, product in enumerate(products, start=1):
        where = f"product {position}"
        if not isinstance(product, dict):
            report.errors.append(f"{where}: expected a JSON object")
        elif isinstance(product.get("variants"), list):
            _add_shopify(report, where, product, currency)
        else:
            _add(report, where, product, currency)
    return report


def _add_shopify(report: ParseReport, where: str, product: dict, currency: str) -> None:
    """One record per variant; the product's handle groups them, options become attributes."""
    option_names = [
        str(o.get("name", f"option{i}")).strip().lower()
        for i, o in enumerate(product.get("options") or [], start=1)
        if isinstance(o, dict)
    ]
    image = (
        (product.get("image") or {}).get("src") if isinstance(product.get("image"), dict) else None
    )
    if not image and product.get("images"):
        first = product["images"][0]
        image = first.get("src") if isinstance(first, dict) else None
    base = {
        "title": product.get("title"),
        "description": _html_to_text(product.get("body_html") or ""),
        "category": product.get("product_type") or "",
        "group_id": product.get("handle") or str(product.get("id") or ""),
        "image": image,
        "url": product.get("url") or product.get("online_store_url"),
    }
    extras = {"vendor": product.get("vendor"), "tags": product.get("tags")}
    for index, variant in enumerate(product["variants"], start=1):
        if not isinstance(variant, dict):
            report.errors.append(f"{where} variant {index}: expected a JSON object")
            continue
        options = {
            name: variant.get(f"option{i}")
            for i, name in enumerate(option_names, start=1)
            if variant.get(f"option{i}") not in (None, "", "Default Title")
        }
        title = base["title"] or ""
        if options:
            title = f"{title} - {' / '.join(str(v) for v in options.values())}"
        row = {**base, **{k: v for k, v in extras.items() if v}, **options, "title": title,
               "sku": variant.get("sku") or variant.get("id"), "price": variant.get("price"),
               "stock": variant.get("inventory_quantity")}  # fmt: skip
        _add(report, f"{where} variant {index}", row, currency)


def _add(report: ParseReport, where: str, row: dict[str, Any], currency: str) -> None:
    try:
        report.records.append(_record(row, currency))
    except ValueError as exc:
        report.errors.append(f"{where}: {exc}")


def _pick(row: dict[str, Any], name: str) -> tuple[str | None, Any]:
    for key in _ALIASES[name]:
        for candidate in (key, key.title(), key.upper()):
            if candidate in row and row[candidate] not in (None, ""):
                return candidate, row[candidate]
    return None, None


def _record(row: dict[str, Any], currency: str) -> ProductRecord:
    used: set[str] = set()
    values: dict[str, Any] = {}
    for name in _ALIASES:
        key, value = _pick(row, name)
        if key:
            used.add(key)
        values[name] = value
    sku = str(values["sku"] or "").strip()
    if not sku:
        raise ValueError("no sku")
    if not _SKU.match(sku):
        raise ValueError(f"sku {sku[:40]!r} has characters other than letters, digits, . - _ /")
    title = str(values["title"] or "").strip()
    if not title:
        raise ValueError(f"sku {sku}: no title")
    price = _price(values["price"], sku)
    stock = values["stock"]
    if stock is not None:
        try:
            stock = int(float(stock))
        except (TypeError, ValueError):
            raise ValueError(f"sku {sku}: stock {stock!r} is not a number") from None
    attributes = {
        k.strip().lower(): v
        for k, v in row.items()
        if k not in used and v not in (None, "") and k.strip().lower() != "currency"
    }
    return ProductRecord(
        sku=sku,
        title=title[:300],
        price=price,
        currency=str(values["currency"] or currency).upper()[:3],
        description=_html_to_text(str(values["description"] or ""))[:20_000],
        stock=stock,
        category=str(values["category"] or "").strip(),
        attributes=attributes,
        image=_http_url(values["image"]),
        url=_http_url(values["url"]),
        group_id=str(values["group_id"] or "").strip(),
    )


def _price(value: Any, sku: str) -> Decimal:
    if value is None:
        raise ValueError(f"sku {sku}: no price")
    text = str(value).strip().replace(",", "").lstrip("$€£")
    try:
        price = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"sku {sku}: price {str(value)[:40]!r} is not a number") from None
    if not price.is_finite() or price < 0:
        raise ValueError(f"sku {sku}: price {value!r} must be a non-negative number")
    return price.quantize(Decimal("0.01"))


def _html_to_text(value: str) -> str:
    if "<" not in value:
        return value.strip()
    return BeautifulSoup(value, "html.parser").get_text(" ", strip=True)


def _http_url(value: Any) -> str | None:
    text = str(value or "").strip()
    return text if text.startswith(("http://", "https://", "/")) else None
