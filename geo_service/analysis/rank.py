"""Explainable suitability ranking of candidate sites by weighted criteria.

Each criterion gives every candidate a raw value: a numeric attribute, a raster statistic over
the site (one pass over the raster for all candidates), or the distance in metres to the
nearest feature of a layer (optionally filtered). Then:

1. Thresholds: a candidate whose raw value is below a criterion's `min` or above its `max` is
   **excluded** (listed with the reason), as is one with no value where a threshold is set.
2. Normalisation: min-max over the remaining candidates, 1 for the best and 0 for the worst
   (`direction` says which end is best); when all share one value, each gets 1.
3. A candidate with no value for a criterion (no threshold) gets 0 for it, flagged `missing`.
4. Contribution = weight / (sum of weights) × normalised value; the score is their sum (0–1),
   so the contributions always add up to the score and explain the order.

Weights and thresholds are finite numbers (JSON has no others; NaN and Infinity are refused),
and every figure computed from them stays finite, however large they are.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from typing import Any, Literal

import shapely
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..catalogue import LayerMeta
from ..errors import InvalidParameter, TooLarge
from ..i18n import _l, pick, tr
from ..query import Query
from ..query_text import EVERY_FEATURE, build_query, parse_filter_text
from ..rasters.measures import measure
from ..rasters.store import RasterStore
from ..store import Feature, Store
from .proximity import nearest

NUMERIC = ("integer", "number")


STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)
"""Unknown members are mistakes; numbers are finite."""


class Candidates(BaseModel):
    model_config = STRICT

    collection: str
    filter: str | dict | None = Field(None, description="CQL2 text (or JSON) on the collection")
    filter_lang: Literal["cql2-text", "cql2-json"] | None = None
    q: str | None = Field(None, description="free text over names, as the items' `q`")
    bbox: str | None = Field(None, description="minLon,minLat,maxLon,maxLat, as the items' `bbox`")
    limit: int = Field(100, ge=1, description="most candidates; more matching is a 413")

    def query(self, meta: LayerMeta) -> Query:
        """The items query these candidates are (the same filter, text and box as on the map),
        selecting every feature it matches."""
        try:
            return build_query(
                meta,
                EVERY_FEATURE,
                bbox=self.bbox,
                filter=self.filter,
                filter_lang=self.filter_lang,
                q=self.q,
            )
        except InvalidParameter as exc:
            raise InvalidParameter(
                _l("{place}: {problem}", place="candidates", problem=exc.description)
            ) from None


class Criterion(BaseModel):
    model_config = STRICT

    type: Literal["attribute", "raster", "distance"]
    field: str | None = Field(None, description="attribute: a numeric property")
    raster: str | None = Field(None, description="raster: a raster id, or `<dem>:slope`")
    stat: Literal["count", "min", "mean", "max", "std", "coverage"] = "mean"
    layer: str | None = Field(None, description="distance: the layer of the nearest feature")
    filter: str | dict | None = Field(None, description="distance: CQL2 on that layer")
    weight: float = Field(gt=0)
    direction: Literal["higher", "lower"]
    min: float | None = None
    max: float | None = None
    label: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> Criterion:
        needed = {"attribute": "field", "raster": "raster", "distance": "layer"}[self.type]
        if not getattr(self, needed):
            raise ValueError(
                _l("a {type} criterion needs `{needed}`", type=self.type, needed=needed)
            )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(_l("min is greater than max"))
        return self

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        if self.type == "attribute":
            return str(self.field)
        if self.type == "raster":
            return f"{self.raster} {self.stat}"
        return f"distance_m {self.layer}"


class RankRequest(BaseModel):
    model_config = STRICT

    candidates: Candidates
    criteria: list[Criterion] = Field(min_length=1, max_length=20)


@dataclass
class Scored:
    feature: Feature
    score: float
    parts: list[dict]


METHOD = {
    "normalisation": "min-max over the ranked candidates; 1 best, 0 worst; 1 when all are equal",
    "thresholds": "a value outside [min, max], or none where a threshold is set: excluded",
    "missing": "no value (no threshold): the criterion contributes 0",
    "score": "sum of contributions = sum of weight share × normalised value (0–1)",
    "distance": "metres on the WGS 84 ellipsoid to the nearest feature",
    "raster": "exact pixel-coverage statistics in the raster's CRS",
}


@dataclass
class Ranking:
    collection: str
    matched: int
    criteria: list[dict]
    sites: list[Scored]
    excluded: list[tuple[Feature, list[str]]]

    def to_dict(self, root_url: str) -> dict:
        items = f"{root_url}/collections/{self.collection}/items"
        return {
            "collection": self.collection,
            "numberMatched": self.matched,
            "numberRanked": len(self.sites),
            "numberExcluded": len(self.excluded),
            "method": METHOD,
            "criteria": self.criteria,
            "sites": [
                {
                    "rank": n,
                    **_titles(s.feature),
                    "score": s.score,
                    "criteria": s.parts,
                    "link": f"{items}/{s.feature.id}",
                }  # fmt: skip
                for n, s in enumerate(self.sites, 1)
            ],
            "excluded": [
                {**_titles(f), "reasons": reasons, "link": f"{items}/{f.id}"}
                for f, reasons in self.excluded
            ],
        }

    def table(self, lang: str) -> dict[str, list]:
        """One row per ranked site: rank, id, name, score, then each criterion's raw value,
        normalised value and contribution (for CSV and XLSX exports)."""
        columns: dict[str, list] = {
            tr(lang, "Rank"): list(range(1, len(self.sites) + 1)),
            tr(lang, "Id"): [s.feature.id for s in self.sites],
            tr(lang, "Name"): [pick(s.feature.properties, lang, "name") for s in self.sites],
            tr(lang, "Score"): [s.score for s in self.sites],
        }
        parts = (tr(lang, "raw"), tr(lang, "normalised"), tr(lang, "contribution"))
        for index, criterion in enumerate(self.criteria):
            for key, part in zip(("raw", "normalised", "contribution"), parts, strict=True):
                columns[f"{criterion['name']} ({part})"] = [s.parts[index][key] for s in self.sites]
        return columns


def _titles(feature: Feature) -> dict:
    return {
        "id": feature.id,
        "title_vi": feature.properties.get("name_vi"),
        "title_en": feature.properties.get("name_en"),
    }


def rank(store: Store, rasters: RasterStore, request: RankRequest, most: int) -> Ranking:
    """Rank the candidates; 400/404/413 for bad criteria, unknown layers or too many sites."""
    chosen = request.candidates
    if chosen.limit > most:
        raise InvalidParameter(_l("candidates.limit is at most {most}", most=most))
    query = chosen.query(store.layer(chosen.collection))
    counting = dataclasses.replace(query, limit=0)
    matched = store.query(chosen.collection, counting).number_matched
    if matched > chosen.limit:
        raise TooLarge(
            _l(
                "{matched} candidates match, more than the limit of {limit}; narrow candidates.filter or raise candidates.limit (at most {most})",
                matched=matched,
                limit=chosen.limit,
                most=most,
            )
        )
    batches = store.iter_features(chosen.collection, query)
    features = list(itertools.chain.from_iterable(batches))
    raw = [_raw_values(store, rasters, chosen.collection, c, features) for c in request.criteria]
    kept, excluded = [], []
    for index, feature in enumerate(features):
        reasons = [
            reason
            for criterion, values in zip(request.criteria, raw, strict=True)
            if (reason := _outside(criterion, values[index]))
        ]
        if reasons:
            excluded.append((feature, reasons))
        else:
            kept.append(index)
    shares = _weight_shares([c.weight for c in request.criteria])
    scored = [Scored(features[i], 0.0, []) for i in kept]
    for criterion, values, share in zip(request.criteria, raw, shares, strict=True):
        present = [values[i] for i in kept if values[i] is not None]
        low, high = (min(present), max(present)) if present else (0.0, 0.0)
        for site, index in zip(scored, kept, strict=True):
            value = values[index]
            normalised = None if value is None else _normalise(value, low, high, criterion)
            contribution = 0.0 if normalised is None else share * normalised
            site.parts.append({"criterion": criterion.name, "raw": value,
                               "normalised": normalised, "contribution": contribution,
                               "missing": value is None})  # fmt: skip
            site.score += contribution
    scored.sort(key=lambda s: (-s.score, s.feature.id))
    echo = [
        criterion.model_dump(exclude_none=True, exclude=None if criterion.raster else {"stat"})
        | {"name": criterion.name, "weight_share": share}
        for criterion, share in zip(request.criteria, shares, strict=True)
    ]
    return Ranking(chosen.collection, len(features), echo, scored, excluded)


def _raw_values(
    store: Store, rasters: RasterStore, collection: str, criterion: Criterion, features: list
) -> list[float | None]:
    if criterion.type == "attribute":
        spec = store.layer(collection).field(str(criterion.field))
        if spec is None or spec.type not in NUMERIC:
            raise InvalidParameter(
                _l(
                    "criterion field {field!r} is not a numeric property of {collection!r}",
                    field=criterion.field,
                    collection=collection,
                )
            )
        return [_number(f.properties.get(spec.name)) for f in features]
    geometries = [shapely.from_wkb(f.geometry) if f.geometry else None for f in features]
    if criterion.type == "raster":
        chosen = measure(rasters, str(criterion.raster))
        shapes = [g if g is not None else shapely.Point() for g in geometries]
        return [_number(s[criterion.stat]) for s in chosen.stats(shapes)]
    layer = str(criterion.layer)
    store.layer(layer)
    expr = parse_filter_text(criterion.filter, None, f"criterion filter on {layer}")
    found = []
    for feature, geometry in zip(features, geometries, strict=True):
        closest = [] if geometry is None else nearest(
            store, geometry, layer, 1, expr, exclude=feature.id if layer == collection else None
        )  # fmt: skip
        found.append(closest[0].distance_m if closest else None)
    return found


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _outside(criterion: Criterion, value: float | None) -> str | None:
    if criterion.min is None and criterion.max is None:
        return None
    if value is None:
        return _l("{name}: no value to check", name=criterion.name)
    if criterion.min is not None and value < criterion.min:
        return _l(
            "{name} {value:g} < min {min:g}", name=criterion.name, value=value, min=criterion.min
        )
    if criterion.max is not None and value > criterion.max:
        return _l(
            "{name} {value:g} > max {max:g}", name=criterion.name, value=value, max=criterion.max
        )
    return None


def _weight_shares(weights: list[float]) -> list[float]:
    """Each weight's share of their sum; scaled by the largest first, so that weights near the
    largest float do not add up to infinity."""
    largest = max(weights)
    scaled = [w / largest for w in weights]
    return [w / sum(scaled) for w in scaled]


def _normalise(value: float, low: float, high: float, criterion: Criterion) -> float:
    if high == low:
        return 1.0
    # halves: the span of two finite floats can overflow, the span of their halves cannot
    share = (value / 2 - low / 2) / (high / 2 - low / 2)
    return share if criterion.direction == "higher" else 1.0 - share
