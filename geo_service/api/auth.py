"""Bearer-token authentication with roles: no or unknown token 401, too weak a role 403."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header

from ..admin_store import ROLES, Role, Token
from ..errors import Forbidden, Unauthorized
from ..i18n import _l
from .deps import AdminStoreDep


def require(role: Role) -> Callable[..., Coroutine[Any, Any, Token]]:
    """A dependency admitting tokens of `role` or a stronger one."""

    async def check(
        admin: AdminStoreDep,
        authorization: Annotated[str | None, Header()] = None,
    ) -> Token:
        scheme, _, secret = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthorized(_l("this needs a GIS staff token: Authorization: Bearer <token>"))
        token = admin.authenticate(secret.strip())
        if token is None:
            raise Unauthorized(_l("the token is unknown or revoked"))
        if ROLES.index(token.role) < ROLES.index(role):
            raise Forbidden(
                _l("this needs the {role} role; the token has {role2}", role=role, role2=token.role)
            )
        return token

    return check


Editor = Annotated[Token, Depends(require("editor"))]
Reviewer = Annotated[Token, Depends(require("reviewer"))]
Admin = Annotated[Token, Depends(require("admin"))]
