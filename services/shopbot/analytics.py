"""Merchant analytics: what shoppers searched for, what they were shown and what they opened."""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool


async def record_search(
    pool: AsyncConnectionPool, store_id: str, session: str | None, query: str,
    products: list[dict[str, Any]], channel: str,
) -> None:  # fmt: skip
    async with pool.connection() as conn, conn.transaction():
        # Analytics may lose its last rows in a crash; searches need not wait for the disk.
        await conn.execute("SET LOCAL synchronous_commit = off")
        await conn.execute(
            "INSERT INTO shop_searches (store_id, session_id, query, results, channel) "
            "VALUES (%s, %s, %s, %s, %s)",
            (store_id, session, query[:500], len(products), channel),
        )
        if products:
            await conn.cursor().executemany(
                "INSERT INTO shop_product_events (store_id, session_id, sku, kind) "
                "VALUES (%s, %s, %s, 'shown')",
                [(store_id, session, p["sku"]) for p in products],
            )


async def record_click(pool: AsyncConnectionPool, store_id: str, session: str | None,
                       sku: str) -> None:  # fmt: skip
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO shop_product_events (store_id, session_id, sku, kind) "
            "SELECT %s, %s, sku, 'clicked' FROM shop_products WHERE store_id = %s AND sku = %s",
            (store_id, session, store_id, sku),  # clicks on unknown SKUs are not recorded
        )


async def summary(pool: AsyncConnectionPool, store_id: str, *, days: int = 30) -> dict[str, Any]:
    since = "now() - make_interval(days => %(days)s)"
    params = {"store": store_id, "days": days}
    async with pool.connection() as conn:
        top = await conn.execute(
            "SELECT lower(query) AS query, count(*) AS searches, round(avg(results), 1) AS "
            f"avg_results FROM shop_searches WHERE store_id = %(store)s AND created_at > {since} "
            "GROUP BY lower(query) ORDER BY searches DESC, query LIMIT 20",
            params,
        )
        empty = await conn.execute(
            "SELECT lower(query) AS query, count(*) AS searches FROM shop_searches "
            f"WHERE store_id = %(store)s AND results = 0 AND created_at > {since} "
            "GROUP BY lower(query) ORDER BY searches DESC, query LIMIT 20",
            params,
        )
        conversations = await conn.execute(
            "SELECT count(*) AS conversations, coalesce(sum(turns), 0) AS messages FROM ("
            " SELECT session_id, count(*) AS turns FROM shop_events WHERE store_id = %(store)s"
            f" AND type = 'user' AND created_at > {since} GROUP BY session_id) s",
            params,
        )
        products = await conn.execute(
            "SELECT e.sku, p.title, count(*) FILTER (WHERE kind = 'shown') AS shown, "
            "count(*) FILTER (WHERE kind = 'clicked') AS clicked FROM shop_product_events e "
            "LEFT JOIN shop_products p ON p.store_id = e.store_id AND p.sku = e.sku "
            f"WHERE e.store_id = %(store)s AND e.created_at > {since} "
            "GROUP BY e.sku, p.title ORDER BY shown DESC, clicked DESC, e.sku LIMIT 50",
            params,
        )
        result = {
            "days": days,
            "top_queries": await top.fetchall(),
            "queries_without_results": await empty.fetchall(),
            **(await conversations.fetchone()),
            "products": await products.fetchall(),
        }
    for row in result["top_queries"]:
        row["avg_results"] = float(row["avg_results"])
    for row in result["products"]:
        row["click_through"] = round(row["clicked"] / row["shown"], 3) if row["shown"] else None
    return result
