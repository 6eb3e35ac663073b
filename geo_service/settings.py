"""Service settings, read from the environment with the `GEO_SERVICE_` prefix.

Each field says its unit and effect; `settings_table()` turns them into the README's table
(`geo-service settings --markdown`), and a test keeps the two the same.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings, SettingsConfigDict

from .i18n import _l
from .locations import ASSETS_IN_CHECKOUT, default_folder

ENV_PREFIX = "GEO_SERVICE_"
FOUND_FOLDER = (
    "the checkout's `{name}/` when running from one, else the copy installed with the package"
)


def setting(
    default: Any = PydanticUndefined,
    *,
    unit: str,
    effect: str,
    shown_default: str | None = None,
    **constraints: Any,
) -> Any:
    """A settings field with its unit and effect (the README's table shows both), and, where the
    default is worked out when the service starts, how the table describes it."""
    extra: dict[str, Any] = {"unit": unit}
    if shown_default is not None:
        extra["shown_default"] = shown_default
    return Field(default, description=effect, json_schema_extra=extra, **constraints)


def found_folder(name: str, effect: str) -> Any:
    """A folder setting whose default is found when the service starts (`default_folder`)."""
    return setting(
        default_factory=lambda: default_folder(name),
        unit="folder",
        effect=effect,
        shown_default=FOUND_FOLDER.format(name=name),
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX)

    data_dir: Path = setting(
        Path("layers"), unit="folder", effect="where the layers' GeoPackages live"
    )
    province: str = setting(
        "14",
        unit="province code",
        effect="the province served (14 Sơn La, 22 Quảng Ninh, 08 Tuyên Quang): uploads are "
        "checked against its extent",
    )
    default_limit: int = setting(
        100, ge=1, unit="features", effect="features per page when `limit` is not given"
    )
    max_limit: int = setting(
        10_000, ge=1, unit="features", effect="larger `limit`s are clamped to this"
    )
    max_export: int = setting(
        1_000_000, ge=1, unit="features", effect="most features one export may hold (more → 413)"
    )
    shortlist_max_items: int = setting(
        500, ge=1, unit="sites", effect="most sites in one shortlist (more → 413)"
    )
    shortlists_per_client: int = setting(
        200,
        ge=1,
        unit="shortlists",
        effect="most shortlists one client address may create (more → 429)",
    )
    shortlist_expiry_days: float = setting(
        365,
        gt=0,
        unit="days",
        effect="a shortlist nobody has read or changed for this long is removed (then 404)",
    )
    trusted_proxies: list[str] = setting(
        default_factory=list,
        unit="JSON list of addresses or networks",
        effect='reverse proxies (e.g. `["127.0.0.1", "10.0.0.0/8"]`) whose `X-Forwarded-For` '
        "and `X-Forwarded-Proto` are believed; from anyone else they are ignored, so a client's "
        "address (the shortlist and enquiry quotas) cannot be claimed",
    )
    upload_max_bytes: int = setting(
        200 * 2**20,
        ge=1,
        unit="bytes",
        effect="largest uploaded file, layer or raster (more → 413, before or while it is "
        "received)",
    )
    upload_max_features: int = setting(
        1_000_000, ge=1, unit="features", effect="most features in one upload (more → 413)"
    )
    upload_max_zip_members: int = setting(
        50, ge=1, unit="files", effect="most files in an uploaded archive (more → 413)"
    )
    upload_max_uncompressed: int = setting(
        2**30, ge=1, unit="bytes", effect="largest unpacked archive (more → 413)"
    )
    upload_check_seconds: float = setting(
        30.0,
        gt=0,
        unit="seconds",
        effect="longest an uploaded GeoPackage's own SQL may keep SQLite busy while it is "
        "checked (more → 400 `UploadTooSlow`)",
    )
    upload_max_geometry_bytes: int = setting(
        64 * 2**20,
        ge=1,
        unit="bytes",
        effect="largest single geometry (or other value) in an uploaded GeoPackage (more → 413)",
    )
    raster_max_pixels: int = setting(
        400_000_000,
        ge=1,
        unit="pixels",
        effect="most pixels (width × height) in one raster upload (more → 413)",
    )
    rank_max_candidates: int = setting(
        1000, ge=1, unit="sites", effect="most candidate sites one ranking may score (more → 413)"
    )
    pdf_cache_bytes: int = setting(
        256 * 2**20,
        ge=0,
        unit="bytes",
        effect="disk kept for generated PDF site sheets in `DATA_DIR/_cache/pdf` (least "
        "recently used out first; `0`: no cache)",
    )
    heavy_exports: int = setting(
        2,
        ge=1,
        unit="exports at once, per worker process",
        effect="heavy exports (PDF sheets drawn afresh, exports larger than "
        "`GEO_SERVICE_LARGE_EXPORT`) made at once",
    )
    read_threads: int = setting(
        2,
        ge=1,
        unit="reads at once, per kind and worker process",
        effect="pages, features by id and vector tiles each read at most this many at once "
        "in a worker (exports and other slow work apart; with PostGIS a feature by id of a "
        "layer the worker has served is awaited instead, see Deployment): reads are mostly "
        "Python under one interpreter lock, so more threads add hand-overs, not throughput; "
        "more workers (`--workers`) add throughput",
    )
    heavy_export_wait: float = setting(
        5.0,
        ge=0,
        unit="seconds",
        effect="how long a heavy export waits for a free slot before it is refused (429 with "
        "`Retry-After`)",
    )
    large_export: int = setting(
        10_000, ge=1, unit="features", effect="an export of more features than this is heavy"
    )
    maps_dir: Path = found_folder("maps", "map definitions (`<id>.toml`, served at `/map/<id>`)")
    assets_dir: Path = found_folder(
        ASSETS_IN_CHECKOUT,
        "the pages' scripts, styles and fonts: the npm packages `npm ci` installs (a wheel "
        "bundles the files the pages load)",
    )
    procedures_dir: Path = found_folder(
        "procedures",
        "the investment procedures (`<form>.toml`) and the sector list (`sectors.toml`)",
    )
    targets_dir: Path = found_folder(
        "targets",
        "the plans' targets (`<plan>.toml`) the dashboard and the annual report measure",
    )
    kinds_dir: Path = found_folder(
        "kinds",
        "the layer kinds (`<kind>.toml`) and the fields every kind has (`common.toml`): labels, "
        "types, units and code lists that uploads are checked against",
    )
    database_url: str | None = setting(
        None,
        unit="SQLAlchemy URL",
        effect="the records database (pipeline projects, dossier events, enquiries, tokens, audit log, "
        "shortlists); "
        "`postgresql+psycopg://user:password@host/db` for PostgreSQL, whose database then also "
        "keeps the layers (the PostGIS store) instead of the data directory's GeoPackages",
        shown_default="SQLite file `records.sqlite` in the data directory",
    )
    database_read_url: str | None = setting(
        None,
        unit="SQLAlchemy URL",
        effect="a read replica of the PostgreSQL database: the PostGIS store reads layers there "
        "(versions and every write go to `GEO_SERVICE_DATABASE_URL`)",
        shown_default="unset: reads go to `GEO_SERVICE_DATABASE_URL`",
    )
    enquiries_per_client_hour: int = setting(
        5,
        ge=1,
        unit="enquiries per hour",
        effect="most enquiries one client address may send in an hour (more → 429)",
    )
    records_max_body_bytes: int = setting(
        64 * 1024,
        ge=1,
        unit="bytes",
        effect="largest JSON body of a project, dossier event or enquiry (more → 413)",
    )
    review: Literal["none", "required"] = setting(
        "none",
        unit="`none` or `required`",
        effect="`required`: every upload, change set and feature edit is stored as a draft, "
        "published only by a reviewer or admin who did not make any of it",
    )
    edit_max_body_bytes: int = setting(
        16 * 2**20,
        ge=1,
        unit="bytes",
        effect="largest JSON body of a feature edit or a change set (more → 413)",
    )
    edit_max_changes: int = setting(
        10_000,
        ge=1,
        unit="features",
        effect="most features one change set may change (more → 413)",
    )
    tile_max_features: int = setting(
        10_000,
        ge=1,
        unit="features",
        effect="most features one vector tile holds: beyond them a tile holds the first this "
        "many in index order and says so in `Geo-Service-Tile-Truncated` (the map shows counts "
        "per area where its tiles would be cut)",
    )
    tile_cache_bytes: int = setting(
        64 * 2**20,
        ge=0,
        unit="bytes, per worker process",
        effect="memory kept for encoded vector tiles, by layer version and filter (least "
        "recently used out first; `0`: no cache)",
    )
    pipeline_cache_bytes: int = setting(
        32 * 2**20,
        ge=0,
        unit="bytes, per worker process",
        effect="memory kept for `/projects` pages and `/projects/{id}` timelines as JSON, until "
        "any process changes the pipeline or the day changes in Vietnam (least recently used out first; `0`: no cache)",
    )
    cors_origins: list[str] = setting(
        default_factory=lambda: ["*"],
        unit="JSON list of origins",
        effect="browser origins allowed to call the API from their pages",
    )
    title_vi: str = setting(
        "Danh mục địa điểm đầu tư",
        unit="text",
        effect="the service's Vietnamese title (API documents, landing page)",
    )
    title_en: str = setting(
        "Investment site catalogue", unit="text", effect="the service's English title"
    )

    @property
    def review_required(self) -> bool:
        """Whether every change is stored as a draft for another to publish."""
        return self.review == "required"

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(
                    _l(
                        "trusted proxy {value!r} is not an IP address or network (e.g. 10.0.0.0/8)",
                        value=value,
                    )
                ) from None
        return values


def _shown_default(field: FieldInfo) -> str:
    extra = field.json_schema_extra
    assert isinstance(extra, dict)
    if "shown_default" in extra:
        return str(extra["shown_default"])
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, Path):
        text = f"./{value}" if not value.is_absolute() else str(value)
    elif isinstance(value, list):
        text = json.dumps(value)
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value)
    return f"`{text}`"


def settings_table() -> str:
    """The README's settings table, in Markdown: variable, default, unit, effect."""
    rows = ["| variable | default | unit | effect |", "| --- | --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        extra = field.json_schema_extra
        assert isinstance(extra, dict) and field.description, f"{name}: no unit or effect"
        cells = [
            f"`{ENV_PREFIX}{name.upper()}`",
            _shown_default(field),
            str(extra["unit"]),
            field.description,
        ]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def settings_environment(settings: Settings) -> str:
    """The settings in force, one `GEO_SERVICE_NAME=value` line each (passwords hidden)."""
    from sqlalchemy.engine import make_url

    lines = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if name in ("database_url", "database_read_url") and value:
            value = make_url(value).render_as_string(hide_password=True)
        text = json.dumps(value) if isinstance(value, list) else "" if value is None else value
        lines.append(f"{ENV_PREFIX}{name.upper()}={text}")
    return "\n".join(lines) + "\n"
