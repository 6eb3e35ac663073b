"""The address a request comes from, read in one place (rate limits and quotas use it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request


async def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]
