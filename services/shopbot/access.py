"""Who may call: the widget key from an allowed origin, the admin key, and rate limits."""

from __future__ import annotations

import math
import time
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from limits import RateLimitItem, parse, storage, strategies

from services.shopbot.stores import ADMIN_SCOPE, Store, store_by_id, store_by_widget_key
from shared.web.auth import ApiKey, require_scope


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited; retry after {retry_after} s")
        self.retry_after = retry_after


class Limiter:
    """Moving-window rate limits, one instance per app.

    In-process windows: per replica. Behind several replicas, put the same limits on the
    ingress or give ``limits`` a Redis storage URI; the calls stay the same.
    """

    def __init__(self, search: str, message: str, storage_uri: str = "memory://") -> None:
        self._strategy = strategies.MovingWindowRateLimiter(
            storage.storage_from_string(storage_uri)
        )
        self.search = parse(search)
        self.message = parse(message)

    def hit(self, limit: RateLimitItem, *identifiers: str) -> None:
        """Count one request; raise ``RateLimited`` (with seconds to wait) when over ``limit``."""
        if not self._strategy.hit(limit, *identifiers):
            stats = self._strategy.get_window_stats(limit, *identifiers)
            raise RateLimited(max(1, math.ceil(stats.reset_time - time.time())))


async def widget_store(
    request: Request, key: Annotated[str, Query(min_length=4, max_length=100)]
) -> Store:
    """The store whose public widget key this is, when called from one of its origins."""
    store = await store_by_widget_key(request.app.state.pool, key)
    if store is None:
        raise HTTPException(403, "Unknown widget key.")
    if not store.allows(request.headers.get("origin")):
        raise HTTPException(403, "This origin is not allowed to use this widget key.")
    return store


async def admin_store(
    request: Request, api_key: Annotated[ApiKey, Depends(require_scope(ADMIN_SCOPE))]
) -> Store:
    """The store the admin key belongs to (the key's tenant)."""
    store = await store_by_id(request.app.state.pool, api_key.tenant)
    if store is None:
        raise HTTPException(404, "The store of this key no longer exists.")
    return store


WidgetStore = Annotated[Store, Depends(widget_store)]
AdminStore = Annotated[Store, Depends(admin_store)]
