"""What a new definition of a kind would break in the layers already published of that kind.

A layer keeps the schema it was published with, so a changed kind never alters what is served;
but its next version is validated against the kind in force, and the map, the facets and the
queryables of the layer would no longer agree with the kind's. So a change is refused while it
would make published data invalid: a code removed that features still hold, a field's type
changed, a field made required that features lack, a geometry family no longer allowed. The
refusal names each layer, field and value, and how many features hold it, so the admin can fix
the layers first (or keep the code). Adding fields, codes and labels, or renaming labels, passes.

Everything is counted in the store's SQL (`Query` with a filter, facets): no layer is read whole.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .cql2 import parse_filter
from .errors import NotFound
from .kinds import Kind
from .query import Query
from .store import Store


@dataclass
class Break:
    layer: str
    field: str
    problem: str
    features: int
    values: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _count(store: Store, layer_id: str, cql2: str) -> int:
    query = Query(filter=parse_filter(cql2), limit=0)
    return store.query(layer_id, query).number_matched


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def breaking_changes(store: Store, kind: Kind) -> list[Break]:
    """Each way the published layers of `kind.id` would not fit `kind`'s definition."""
    breaks: list[Break] = []
    for meta in store.layers():
        if meta.kind != kind.id:
            continue
        try:
            total = store.query(meta.id, Query(limit=0)).number_matched
        except NotFound:  # archived meanwhile
            continue
        if meta.geometry_type not in kind.definition.geometry:
            breaks.append(Break(meta.id, "geometry", f"its {meta.geometry_type} geometries", total))
        for spec in kind.all_fields:
            stored = meta.field(spec.name)
            if stored is None:
                if spec.required and total:
                    breaks.append(
                        Break(
                            meta.id, spec.name, "required, and the layer has no such field", total
                        )
                    )
                continue
            name = f'"{spec.name}"'
            if stored.type != spec.type:
                held = _count(store, meta.id, f"{name} IS NOT NULL")
                if held:
                    breaks.append(
                        Break(meta.id, spec.name, f"type {stored.type} → {spec.type}", held)
                    )
                continue
            if spec.codes:
                codes = ", ".join(_quoted(c.code) for c in spec.codes)
                outside = _count(store, meta.id, f"{name} IS NOT NULL AND NOT {name} IN ({codes})")
                if outside:
                    allowed = {c.code for c in spec.codes}
                    counted = store.facets(meta.id, Query(limit=0), (spec.name,))[spec.name]
                    values = [str(v) for v, _ in counted.values or [] if v not in allowed]
                    breaks.append(
                        Break(meta.id, spec.name, "values outside the code list", outside, values)
                    )
            if spec.required:
                blank = _count(store, meta.id, f"{name} IS NULL")
                if blank:
                    breaks.append(
                        Break(meta.id, spec.name, "required, and features have no value", blank)
                    )
    return breaks
