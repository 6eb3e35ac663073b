"""Bearer-token authentication with roles: no or unknown token 401, too weak a role 403."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header

from ..admin_store import ROLES, Role, Token
from ..errors import Forbidden, Unauthorized
from .deps import AdminStoreDep


def require(role: Role) -> Callable[..., Coroutine[Any, Any, Token]]:
    """A dependency admitting tokens of `role` or a stronger one."""

    async def check(
        admin: AdminStoreDep,
        authorization: Annotated[str | None, Header()] = None,
    ) -> Token:
        scheme, _, secret = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthorized(
                "this needs a GIS staff token: Authorization: Bearer <token> / "
                "cần mã truy cập của cán bộ GIS: Authorization: Bearer <token>"
            )
        token = admin.authenticate(secret.strip())
        if token is None:
            raise Unauthorized(
                "the token is unknown or revoked / mã truy cập không có hoặc đã bị thu hồi"
            )
        if ROLES.index(token.role) < ROLES.index(role):
            raise Forbidden(
                f"this needs the {role} role; the token has {token.role} / "
                f"cần vai trò {role}; mã truy cập có vai trò {token.role}"
            )
        return token

    return check


Editor = Annotated[Token, Depends(require("editor"))]
Reviewer = Annotated[Token, Depends(require("reviewer"))]
Admin = Annotated[Token, Depends(require("admin"))]
