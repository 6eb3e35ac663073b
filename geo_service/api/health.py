"""Liveness (`/health`) and readiness (`/ready`) for a process manager or a load balancer.

Anyone may ask, so the answers name the checks, never addresses, paths or users: the log has
what a failed check found, and `geo-service doctor` on the server says how to fix it.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from ..doctor import Check, readiness
from ..errors import ServiceError
from ..i18n import N_, _l
from .deps import RecordsDep, SettingsDep, StoreDep
from .links import JSON
from .strict_input import StrictRoute

log = logging.getLogger(__name__)
router = APIRouter(tags=["Health"], route_class=StrictRoute)
NO_STORE = {"Cache-Control": "no-store"}


class NotReady(ServiceError):
    status = 503
    code = "NotReady"
    headers = NO_STORE


def readiness_checks(settings: SettingsDep, store: StoreDep, records: RecordsDep) -> list[Check]:
    """The checks of the store and records database this application holds."""
    return readiness(settings, store, records)


ReadinessChecks = Annotated[list[Check], Depends(readiness_checks)]


@router.get(
    "/health",
    summary="Liveness: the process answers / Tiến trình còn hoạt động",
    description="200 as long as the process serves requests; it touches neither the store nor "
    "the database, so a restart is only asked for when the process itself is stuck.",
)
async def health(response: Response) -> dict[str, str]:
    response.headers.update(NO_STORE)
    return {"status": "ok"}


CHECK_NAMES = {"layer store": N_("layer store"), "records database": N_("records database")}
"""The readiness checks, as a person reads them (the two `doctor.readiness` makes)."""


@router.get(
    "/ready",
    summary="Readiness: the store and the records database answer / Sẵn sàng phục vụ",
    description="200 when the layer store can list its layers and the records database answers "
    "at the newest migration; otherwise 503 with `code` NotReady and a `description` naming "
    "what failed (the service's log says why; `geo-service doctor` names the fix). `checks` "
    "lists each check and whether it passed. A load balancer sends no traffic to a worker "
    "that is not ready.",
    responses={
        503: {
            "description": "not ready: the store or the records database does not answer",
            "content": {
                JSON: {
                    "example": {
                        "code": "NotReady",
                        "description": "not ready: records database …",
                        "checks": [
                            {"name": "layer store", "ok": True},
                            {"name": "records database", "ok": False},
                        ],
                    }
                }
            },
        }
    },
)
def ready(response: Response, checks: ReadinessChecks) -> dict[str, Any]:
    documents = [{"name": check.name, "ok": check.ok} for check in checks]
    failed = [check for check in checks if not check.ok]
    for check in failed:
        log.warning("not ready: %s: %s", check.name, check.found)
    if failed:
        raise NotReady(
            _l(
                "not ready: {value} does not answer as it should (the service's log says why; `geo-service doctor` names the fix)",
                value=_l(CHECK_NAMES[failed[0].name])
                if len(failed) == 1
                else _l(
                    "{first} and {second}",
                    first=_l(CHECK_NAMES[failed[0].name]),
                    second=_l(CHECK_NAMES[failed[1].name]),
                ),
            ),
            {"checks": documents},
        )
    response.headers.update(NO_STORE)
    return {"status": "ready", "checks": documents}
