"""What a raster layer is: bilingual titles, unit, source, licence, colour map, value range.

The metadata is kept beside each version's COG as JSON, so it versions with the data.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..catalogue import LAYER_ID_PATTERN, MetadataModel
from ..i18n import _l

RasterKind = Literal["dem", "continuous"]
"""`dem`: elevation, from which slope in degrees is derived (offered as `<id>:slope`)."""
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_RAMP = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")
"""viridis at five stops: readable in print and by colour-blind readers."""


class ColourStop(MetadataModel):
    """A value and its colour; colours are interpolated linearly between stops."""

    value: float
    color: str

    @field_validator("color")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not HEX_COLOUR.fullmatch(value):
            raise ValueError(_l("colour {value!r} must be #rrggbb", value=value))
        return value.lower()

    @model_validator(mode="before")
    @classmethod
    def _pair(cls, value):
        if isinstance(value, list | tuple) and len(value) == 2:
            return {"value": value[0], "color": value[1]}
        return value

    @property
    def rgb(self) -> tuple[int, int, int]:
        return tuple(int(self.color[i : i + 2], 16) for i in (1, 3, 5))


class RasterInput(MetadataModel):
    """The `metadata` GIS staff send with a raster."""

    model_config = {"extra": "forbid"}

    title_vi: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    description_vi: str = ""
    description_en: str = ""
    kind: RasterKind = "continuous"
    unit: str = ""
    source: str = ""
    licence: str = ""
    derived_from: str | None = Field(
        None, description="set when the raster is computed from other data, and from what"
    )
    colormap: list[ColourStop] | None = Field(
        None, description="[[value, '#rrggbb'], …] ascending; default viridis over value_range"
    )
    value_range: tuple[float, float] | None = Field(
        None, description="[low, high] of meaningful values; default the data's own range"
    )
    nodata: float | None = Field(None, description="the no-data value, when the file lacks one")

    @field_validator("value_range")
    @classmethod
    def _increasing(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not value[0] < value[1]:
            raise ValueError(_l("value_range must be [low, high] with low < high"))
        return value

    @field_validator("colormap")
    @classmethod
    def _ascending(cls, stops: list[ColourStop] | None) -> list[ColourStop] | None:
        if stops is not None:
            if len(stops) < 2:
                raise ValueError(_l("a colour map needs at least two stops"))
            if any(b.value <= a.value for a, b in zip(stops, stops[1:], strict=False)):
                raise ValueError(_l("colour map values must ascend"))
        return stops


class RasterMeta(RasterInput):
    """A published raster: what GIS staff said plus what the file says."""

    model_config = {"extra": "ignore"}

    id: str = Field(pattern=LAYER_ID_PATTERN.pattern)
    colormap: list[ColourStop]
    value_range: tuple[float, float]
    nodata: float | None
    """None: the raster is floating point and NaN marks its gaps."""
    crs: str
    crs_wkt: str
    width: int
    height: int
    resolution: tuple[float, float]
    bounds: tuple[float, float, float, float]
    """In the raster's CRS."""
    bounds_wgs84: tuple[float, float, float, float]
    dtype: str
    updated: str
    version: int = 1


def default_colormap(low: float, high: float) -> list[ColourStop]:
    """Viridis spread evenly over [low, high]."""
    if high <= low:
        high = low + 1.0
    step = (high - low) / (len(DEFAULT_RAMP) - 1)
    return [ColourStop(value=low + i * step, color=c) for i, c in enumerate(DEFAULT_RAMP)]
