"""Metadata filters, compiled to parameterised SQL over the JSONB ``metadata`` column.

``{"category": "tents", "price": {"gte": 50, "lt": 200}, "colour": {"in": ["red", "blue"]},
"rating": {"exists": True}}``. Field names must exist in the collection, so a typo is a
clear error rather than an empty result or an SQL error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from psycopg import sql

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")
_RANGES = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
OPERATORS = {"eq", "in", "exists", *_RANGES}


class FilterError(ValueError):
    """The filter cannot be applied; the message names the field and the problem."""


def compile_filters(filters: dict[str, Any] | None, known_fields: Iterable[str]) -> sql.Composed:
    """An SQL fragment starting with ``AND`` (or empty), safe to append to a WHERE clause."""
    if not filters:
        return sql.Composed([])
    known = set(known_fields)
    parts: list[sql.Composable] = []
    for name, condition in filters.items():
        if not isinstance(name, str) or not _FIELD.match(name):
            raise FilterError(f"invalid filter field name {name!r}")
        if name not in known:
            hint = ", ".join(sorted(known)) or "none"
            raise FilterError(f"unknown filter field {name!r}; this collection has: {hint}")
        ops = condition if isinstance(condition, dict) else {"eq": condition}
        for op, value in ops.items():
            parts.append(_condition(name, op, value))
    return sql.SQL(" AND ").join([sql.SQL(""), *parts])


def _condition(name: str, op: str, value: Any) -> sql.Composable:
    field_text = sql.SQL("(metadata ->> {})").format(sql.Literal(name))
    if op == "eq":
        return sql.SQL("metadata @> {}::jsonb").format(sql.Literal(json.dumps({name: value})))
    if op == "in":
        if not isinstance(value, list | tuple) or not value:
            raise FilterError(f"filter {name!r}: 'in' needs a non-empty list")
        return sql.SQL("{} = ANY({})").format(field_text, sql.Literal([str(v) for v in value]))
    if op == "exists":
        clause = sql.SQL("metadata ? {}").format(sql.Literal(name))
        return clause if value else sql.SQL("NOT ({})").format(clause)
    if op in _RANGES:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FilterError(f"filter {name!r}: {op!r} needs a number, got {value!r}")
        # Only numeric values take part in a range; others are excluded, not an SQL error.
        return sql.SQL(
            "(jsonb_typeof(metadata -> {name}) = 'number'"
            " AND (metadata ->> {name})::numeric {op} {v})"
        ).format(name=sql.Literal(name), op=sql.SQL(_RANGES[op]), v=sql.Literal(value))
    raise FilterError(f"filter {name!r}: unknown operator {op!r}; use one of {sorted(OPERATORS)}")
