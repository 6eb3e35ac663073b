"""Service settings, read from the environment with the `GEO_SERVICE_` prefix."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The folder holding the package, `maps/` and `procedures/`."""


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
    province: str = Field("14", description="the province served: its extent checks uploads")
    upload_max_bytes: int = Field(200 * 2**20, ge=1, description="largest upload, bytes")
    upload_max_features: int = Field(1_000_000, ge=1, description="most features in one upload")
    upload_max_zip_members: int = Field(50, ge=1, description="most files in an uploaded archive")
    upload_max_uncompressed: int = Field(2**30, ge=1, description="largest unpacked archive, bytes")
    raster_max_pixels: int = Field(
        400_000_000, ge=1, description="most pixels (width × height) in one raster upload"
    )
    rank_max_candidates: int = Field(1000, ge=1, description="most sites one ranking may hold")
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
    enquiries_per_client_hour: int = Field(
        5, ge=1, description="most enquiries one client address may send in an hour"
    )
    records_max_body_bytes: int = Field(
        64 * 1024, ge=1, description="largest JSON body of a project, event or enquiry, bytes"
    )
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    title_vi: str = "Danh mục địa điểm đầu tư"
    title_en: str = "Investment site catalogue"
