"""Typed dependencies for routes: ``async def route(pool: PoolDep, llm: LLMDep)``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool

from shared.config import Settings
from shared.models.llm import LLMGateway


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_pool(request: Request) -> AsyncConnectionPool:
    return request.app.state.pool


def get_llm(request: Request) -> LLMGateway:
    return request.app.state.llm


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
PoolDep = Annotated[AsyncConnectionPool, Depends(get_pool)]
LLMDep = Annotated[LLMGateway, Depends(get_llm)]
