"""Service settings, read from the environment with the `GEO_SERVICE_` prefix."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The folder holding the package, `maps/`, `procedures/` and `targets/`."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GEO_SERVICE_")

    data_dir: Path = Field(Path("layers"), description="where the layers' GeoPackages live")
    default_limit: int = Field(100, ge=1, description="features per page when none is asked")
    max_limit: int = Field(10_000, ge=1, description="larger limits are clamped to this")
    max_export: int = Field(1_000_000, ge=1, description="most features one export may hold")
    shortlist_max_items: int = Field(500, ge=1, description="most sites in one shortlist")
    shortlists_per_client: int = Field(
        200, ge=1, description="most shortlists one client address may create"
    )
    shortlist_expiry_days: float = Field(
        365, gt=0, description="a shortlist not read or changed for this long is removed"
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or networks of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed (JSON list); none by default",
    )
    province: str = Field("14", description="the province served: its extent checks uploads")
    upload_max_bytes: int = Field(200 * 2**20, ge=1, description="largest upload, bytes")
    upload_max_features: int = Field(1_000_000, ge=1, description="most features in one upload")
    upload_max_zip_members: int = Field(50, ge=1, description="most files in an uploaded archive")
    upload_max_uncompressed: int = Field(2**30, ge=1, description="largest unpacked archive, bytes")
    upload_check_seconds: float = Field(
        30.0, gt=0, description="longest an uploaded GeoPackage's own SQL may run while checked"
    )
    upload_max_geometry_bytes: int = Field(
        64 * 2**20, ge=1, description="largest single geometry (or value) in an uploaded GeoPackage"
    )
    raster_max_pixels: int = Field(
        400_000_000, ge=1, description="most pixels (width × height) in one raster upload"
    )
    rank_max_candidates: int = Field(1000, ge=1, description="most sites one ranking may hold")
    pdf_cache_bytes: int = Field(
        256 * 2**20, ge=0, description="disk kept for generated PDF site sheets (0: none)"
    )
    heavy_exports: int = Field(
        2, ge=1, description="heavy exports (new PDFs, large exports) made at once per process"
    )
    heavy_export_wait: float = Field(
        5.0, ge=0, description="seconds a heavy export waits for a slot before a 429"
    )
    large_export: int = Field(
        10_000, ge=1, description="an export of more features than this is a heavy one"
    )
    maps_dir: Path = Field(Path("maps"), description="map definitions (<id>.toml)")
    assets_dir: Path = Field(
        Path("node_modules"), description="scripts and styles installed by `npm ci`"
    )
    database_url: str | None = Field(
        None,
        description="records database (pipeline projects, enquiries); default: SQLite file "
        "records.sqlite in the data directory; postgresql+psycopg://… for PostgreSQL",
    )
    procedures_dir: Path = Field(
        PROJECT_ROOT / "procedures",
        description="investment procedures (<form>.toml) and sectors.toml; by default the "
        "project's own, so commands work from any directory",
    )
    targets_dir: Path = Field(
        PROJECT_ROOT / "targets",
        description="the plans' targets (<plan>.toml) the dashboard measures; by default the "
        "project's own",
    )
    enquiries_per_client_hour: int = Field(
        5, ge=1, description="most enquiries one client address may send in an hour"
    )
    records_max_body_bytes: int = Field(
        64 * 1024, ge=1, description="largest JSON body of a project, event or enquiry, bytes"
    )
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted proxy {value!r} is not an IP address or network (e.g. 10.0.0.0/8)"
                ) from None
        return values

    title_vi: str = "Danh mục địa điểm đầu tư"
    title_en: str = "Investment site catalogue"
