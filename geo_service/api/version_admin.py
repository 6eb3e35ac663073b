"""One shape of administration for everything kept in versions: `VersionAdmin` registers the
same routes for vector layers and for rasters over their store (`store.base.Versions`), the way
TiTiler's router factories register one set of routes for different readers.

    POST   {prefix}                 a new item from a multipart upload (editor)
    PUT    {prefix}/{id}            a new version from a multipart upload (editor)
    GET    {prefix}/{id}/versions   every stored version (editor)
    POST   {prefix}/{id}/rollback   serve a stored version (editor)
    POST   {prefix}/{id}/publish    serve the newest draft (editor; kinds that have drafts)
    DELETE {prefix}/{id}            archive, keeping every version (admin)

Uploads are received by `upload_body` after the token is checked from the headers. Each change
is recorded in the audit log as `<kind>.<action>`. A kind says what is its own by overriding
`upload` (validate and publish a received file), `saved_as`, `details` and `rollback_answer`.
"""

# no `from __future__ import annotations`: FastAPI reads the routes' annotations, which name
# types made in `register_routes`, at run time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..admin_store import AdminStore, Token
from ..errors import InvalidParameter, missing, not_found
from ..i18n import _l, per_language
from ..settings import Settings
from ..store.base import Versions, VersionSummary
from .auth import Admin, Editor
from .deps import AdminStoreDep, SettingsDep
from .strict_input import StrictRoute
from .upload_body import ReceivedForm, UploadForm, receive_form, refuse_an_existing_id


@dataclass(frozen=True)
class Route:
    """How one route appears in the OpenAPI document."""

    name: str
    """The endpoint's name (its operationId is made from it)."""
    summary: str


@dataclass(frozen=True)
class Uploading:
    """An upload request whose token has been checked, before its body is read."""

    request: Request
    settings: Settings
    store: Any
    admin: AdminStore
    actor: str
    """Who sends it, as the audit log names them."""
    dry_run: bool
    draft: bool


async def _draft(draft: bool = False) -> bool:
    return draft


async def _no_drafts() -> bool:
    return False


@dataclass(kw_only=True)
class VersionAdmin:
    """The administration routes of one kind of versioned item, in `router`."""

    kind: str
    """What an item is ("layer", "raster"): the answers' member naming it, the audit actions'
    prefix and the errors' word."""
    prefix: str
    id_name: str
    """The path parameter naming an item."""
    store: Callable[..., Versions]
    """The dependency giving the items' store."""
    new_item: UploadForm
    new_version: UploadForm
    routes: dict[str, Route]
    """By route: create, replace, versions, rollback, archive, and publish (with drafts)."""
    drafts: bool = False
    """Whether an upload may be stored as a draft, served later by `publish`."""
    tags: list[str] = field(default_factory=list)
    router: APIRouter = field(init=False)

    def __post_init__(self) -> None:
        self.router = APIRouter(prefix=self.prefix, tags=self.tags, route_class=StrictRoute)
        self.register_routes()

    # -- what each kind says for itself -------------------------------------------------------
    def upload(
        self, sent: Uploading, item_id: str, form: ReceivedForm, new: bool
    ) -> tuple[dict[str, Any], bool]:
        """Validate the received file and, unless a dry run, publish it as a `new` item or a new
        version of one (and audit it); the answer, and whether anything was stored. Runs in a
        worker thread."""
        raise NotImplementedError

    def saved_as(self, filename: str) -> str:
        """The name the received file is saved under, from the one the client gave."""
        return "upload"

    def details(self, summary: VersionSummary) -> dict[str, Any]:
        """A readable version's members beyond its number, state, date and titles."""
        return {}

    def rollback_answer(self, request: Request, store: Any, item_id: str, version: int) -> dict:
        """Members of a rollback's answer beyond the item and the version now served."""
        return {}

    def serving(
        self,
        token: Token,
        store: Any,
        admin: AdminStore,
        settings: Settings,
        item_id: str,
        version: int,
    ) -> dict[str, Any]:
        """Before a rollback or a draft's publishing serves `version`: refuse (`Forbidden`) if
        `token` may not, else the audit entry's further details."""
        return {}

    # -- the routes ---------------------------------------------------------------------------
    def register_routes(self) -> None:
        StoreDep = Annotated[Versions, Depends(self.store)]
        ItemId = Annotated[str, Path(alias=self.id_name)]
        Draft = Annotated[bool, Depends(_draft if self.drafts else _no_drafts)]
        item = f"/{{{self.id_name}}}"

        async def uploading(
            request: Request,
            token: Editor,
            admin: AdminStoreDep,
            settings: SettingsDep,
            store: StoreDep,
            draft: Draft,
            dry_run: bool = False,
        ) -> Uploading:
            return Uploading(request, settings, store, admin, f"token:{token.id}", dry_run, draft)

        Sent = Annotated[Uploading, Depends(uploading)]

        async def create(sent: Sent) -> JSONResponse:
            exists = sent.store.version_numbers
            refuse = refuse_an_existing_id(lambda id_: bool(exists(id_)), self.kind)
            answer, stored = await self._receive(sent, None, self.new_item, refuse)
            return JSONResponse(answer, status_code=201 if stored else 200)

        async def replace(item_id: ItemId, sent: Sent) -> dict:
            if not sent.store.version_numbers(item_id):  # asked again as the store publishes
                raise missing(self.kind, item_id)
            answer, _ = await self._receive(sent, item_id, self.new_version)
            return answer

        def versions(item_id: ItemId, token: Editor, store: StoreDep) -> dict:
            return {
                self.kind: item_id,
                "versions": [self._entry(s) for s in store.versions(item_id)],
            }

        def rollback(
            request: Request,
            item_id: ItemId,
            token: Editor,
            admin: AdminStoreDep,
            settings: SettingsDep,
            store: StoreDep,
            version: Annotated[int, Query(ge=1, description="the version to serve")],
        ) -> dict:
            details = self.serving(token, store, admin, settings, item_id, version)
            store.activate(item_id, version)
            admin.record(
                f"token:{token.id}",
                f"{self.kind}.rollback",
                item_id,
                {"version": version, **details},
            )
            answer = {self.kind: item_id, "current": version}
            return answer | self.rollback_answer(request, store, item_id, version)

        def publish(
            item_id: ItemId,
            token: Editor,
            admin: AdminStoreDep,
            settings: SettingsDep,
            store: StoreDep,
        ) -> dict:
            numbers = store.version_numbers(item_id)
            if not numbers:
                raise not_found(self.kind, item_id)
            latest = numbers[-1]
            if store.current_version(item_id) == latest:
                raise InvalidParameter(
                    _l(
                        "{kind} {item_id!r} has no draft newer than the version served",
                        kind=self.kind,
                        item_id=item_id,
                    )
                )
            details = self.serving(token, store, admin, settings, item_id, latest)
            store.activate(item_id, latest)
            admin.record(
                f"token:{token.id}",
                f"{self.kind}.publish_draft",
                item_id,
                {"version": latest, **details},
            )
            return {self.kind: item_id, "current": latest}

        def archive(item_id: ItemId, token: Admin, admin: AdminStoreDep, store: StoreDep) -> dict:
            archived = store.archive(item_id)
            admin.record(
                f"token:{token.id}", f"{self.kind}.archive", item_id, {"archive": archived}
            )
            return {self.kind: item_id, "archived": archived}

        self._add("create", "", create, "POST", self.new_item)
        self._add("replace", item, replace, "PUT", self.new_version)
        self._add("versions", f"{item}/versions", versions, "GET")
        self._add("rollback", f"{item}/rollback", rollback, "POST")
        self._add("archive", item, archive, "DELETE")
        if self.drafts:
            self._add("publish", f"{item}/publish", publish, "POST")

    async def _receive(
        self,
        sent: Uploading,
        item_id: str | None,
        form: UploadForm,
        on_field: Callable[[str, str], None] = lambda name, value: None,
    ) -> tuple[dict[str, Any], bool]:
        """Receive the form, then hand it to `upload` off the event loop; `item_id` None: a new
        item, named by the form's `id`."""
        limit = sent.settings.upload_max_bytes
        request = sent.request
        async with receive_form(request, form, limit, self.saved_as, on_field) as received:
            named = item_id or received.fields["id"]
            return await run_in_threadpool(self.upload, sent, named, received, item_id is None)

    def _add(
        self,
        route: str,
        path: str,
        endpoint: Callable,
        method: str,
        form: UploadForm | None = None,
    ) -> None:
        described = self.routes[route]
        self.router.add_api_route(
            path,
            endpoint,
            methods=[method],
            name=described.name,
            summary=described.summary,
            openapi_extra=form.openapi() if form else None,
        )

    def _entry(self, summary: VersionSummary) -> dict[str, Any]:
        """One version as the versions route lists it."""
        entry: dict[str, Any] = {"version": summary.number, "current": summary.current}
        meta = summary.meta
        if meta is None:  # listed, so that GIS staff can roll back past it
            return entry | {"problem": summary.problem}
        return entry | {
            "written": summary.written,
            "title_vi": meta.title_vi,
            "title_en": meta.title_en,
            **per_language(meta, "title"),
            "updated": meta.updated,
            **self.details(summary),
        }
