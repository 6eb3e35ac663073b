"""The map page: a Folium map built from a map definition and the catalogue's metadata.

The page holds no features. Folium lays out the map, basemaps, controls and one empty group per
layer; `static/map.js` fills the groups from the live API for the current view and filters,
and draws the filter panel, site card and shortlist basket. Every asset is served by us.
"""

from __future__ import annotations

import contextlib
import html
import json
from dataclasses import dataclass
from typing import Any

import folium
import xyzservices
from folium import plugins

from ..catalogue import LayerMeta
from ..errors import LayerUnavailable, NotFound
from ..i18n import (
    ENDONYMS,
    HTML_TAGS,
    catalogue_element,
    localized,
    machine_translation_note,
    per_language,
    pick,
    tr,
)
from ..pipeline.layer import LAYER_ID as PROJECTS_LAYER
from ..places import UnmatchedPlace, communes_of_province, province_bounds, province_centre
from ..query import Expr, In, Literal, Property, Query
from ..rasters.meta import RasterMeta
from ..rasters.tiles import legend, native_zoom
from ..store import Store
from ..text import fold
from .assets import LEAFLET_CSS, LEAFLET_JS, OWN_ROUTE, PLUGINS, VECTOR_GRID_JS, served, vendor_url
from .definition import MapDefinition, MapLayer


@dataclass(frozen=True)
class PlacedLayer:
    """A layer as this map shows it: its metadata, its entry in the definition, its group."""

    meta: LayerMeta
    entry: MapLayer
    group: folium.FeatureGroup


def local_name(values: dict[str, Any], lang: str, stem: str = "") -> str:
    """A name that exists per language, as HTML (Leaflet controls take HTML names), in `lang`
    or its fallback, which is marked with its language and named, e.g. "(English)"."""
    text, shown = localized(values, lang, stem)
    if shown == lang:
        return html.escape(text)
    tag = HTML_TAGS[shown]  # type: ignore[index]
    return (
        f'<span lang="{tag}">{html.escape(text)}</span> '
        f'<small class="fallback-lang" lang="{tag}">({ENDONYMS[shown]})</small>'  # type: ignore[index]
    )


def default_entry(meta: LayerMeta) -> MapLayer:
    """For a layer the definition does not list: its name on hover, and the filters its kind
    offers (`FieldSpec.offered_as_filter`)."""
    filters = [f.name for f in meta.fields if f.offered_as_filter]
    return MapLayer(collection=meta.id, tooltip=["commune_name", "status"], filters=filters)


def map_layers(
    definition: MapDefinition, published: dict[str, LayerMeta]
) -> list[tuple[LayerMeta, MapLayer]]:
    """The definition's layers that exist, in its order, then (if `all_layers`) every other."""
    listed = [(published[e.collection], e) for e in definition.layers if e.collection in published]
    if definition.all_layers:
        named = {e.collection for e in definition.layers}
        listed += [(m, default_entry(m)) for i, m in published.items() if i not in named]
    return listed


def field_config(meta: LayerMeta) -> dict[str, Any]:
    return {
        f.name: {
            "type": f.type,
            **per_language(f, "label"),
            "unit": f.unit,
            "codes": {c.code: per_language(c, "label") for c in f.codes or []} or None,
        }
        for f in meta.fields
    }


def layer_config(definition: MapDefinition, placed: PlacedLayer, total: int) -> dict[str, Any]:
    meta, entry = placed.meta, placed.entry
    style = definition.style(meta.kind)
    return {
        "id": meta.id,
        **per_language(meta, "title"),
        "kind": meta.kind,
        "geometry": meta.geometry_type,
        "color": entry.color or style.color,
        "icon": entry.icon or style.icon,
        "group": placed.group.get_name(),
        "visible": entry.visible,
        "total": total,
        "tooltip": entry.usable(meta, "tooltip"),
        "filters": entry.usable(meta, "filters"),
        "fields": field_config(meta),
        "data_quality": meta.data_quality,
        "updated": meta.updated,
        "source": meta.source,
        "licence": meta.licence,
        # the pipeline's projects: a card shows the project's timeline and printable page
        "projects": meta.id == PROJECTS_LAYER,
    }


def province_filter(meta: LayerMeta, provinces: list[str]) -> Expr | None:
    """The filter a map showing only `provinces` puts on a layer (None: all of it)."""
    if not provinces or meta.field("province_code") is None:
        return None
    return In(Property("province_code"), tuple(Literal(code) for code in provinces))


def feature_counts(store: Store, layers: list[LayerMeta], provinces: list[str]) -> dict[str, int]:
    """Each layer's feature count in `provinces` (all, if none); a layer archived (or broken)
    since it was listed is left out."""
    counts = {}
    for meta in layers:
        query = Query(filter=province_filter(meta, provinces), limit=0)
        with contextlib.suppress(NotFound, LayerUnavailable):
            counts[meta.id] = store.query(meta.id, query).number_matched
    return counts


def province_names(layers: list[LayerMeta]) -> dict[str, str]:
    """Province code → name for every province the layers cover, so that cards show names."""
    names = {}
    for code in sorted({p for meta in layers for p in meta.provinces}):
        with contextlib.suppress(UnmatchedPlace):
            names[code] = province_centre(code)[2]
    return names


def places_config(province_codes: list[str]) -> list[dict[str, Any]]:
    provinces = []
    for code in province_codes:
        communes = sorted(communes_of_province(code), key=lambda c: fold(c.name))
        if communes:
            provinces.append(
                {
                    "code": code,
                    "name": communes[0].province_name,
                    "communes": [[c.code, c.name] for c in communes],
                }
            )
    return provinces


def start_view(definition: MapDefinition, layers: list[LayerMeta]) -> dict[str, Any]:
    view = definition.view
    if view.center and view.zoom:
        return {"center": list(view.center), "zoom": view.zoom}
    codes = definition.provinces or sorted({p for m in layers for p in m.provinces})
    if codes:
        boxes = [province_bounds(c) for c in codes]
        west, south = min(b[0] for b in boxes), min(b[1] for b in boxes)
        east, north = max(b[2] for b in boxes), max(b[3] for b in boxes)
        return {"bounds": [[south, west], [north, east]]}
    return {"center": [16.0, 106.0], "zoom": 6}


def _with_our_assets(element: Any, plugin: str) -> Any:
    scripts, styles = PLUGINS[plugin]
    element.default_js = served(scripts)
    element.default_css = served(styles)
    return element


def basemap(name: str, show: bool, lang: str) -> folium.TileLayer:
    provider = xyzservices.providers.query_name(name)
    if name == "OpenStreetMap.Mapnik":
        label = tr(lang, "OpenStreetMap basemap")
    else:
        label = tr(lang, "Satellite imagery") if "Imagery" in name else name
    return folium.TileLayer(
        tiles=provider.build_url(),
        attr=provider.html_attribution,
        name=html.escape(label),
        max_zoom=provider.get("max_zoom", 19),
        max_native_zoom=provider.get("max_zoom", 19),
        show=show,
    )


def raster_overlay(meta: RasterMeta, lang: str) -> folium.TileLayer:
    """A raster as a transparent overlay of our own PNG tiles, hidden until chosen."""
    return folium.TileLayer(
        tiles=f"/rasters/{meta.id}/tiles/{{z}}/{{x}}/{{y}}.png?v={meta.version}",
        attr=html.escape(meta.source or meta.title_en),
        name=local_name(per_language(meta, "title"), lang, "title")
        + f'<span data-raster="{meta.id}"></span>',
        overlay=True,
        show=False,
        opacity=0.7,
        max_zoom=19,
        max_native_zoom=native_zoom(meta),
    )


def build_map_page(
    definition: MapDefinition,
    store: Store,
    rasters: list[RasterMeta],
    rank_limit: int,
    tile_max_features: int,
    lang: str,
) -> str:
    """The whole HTML page, in `lang`, for one map definition over the store's current layers
    and rasters; `rank_limit` is the most sites one ranking may hold, `tile_max_features` the
    most features one vector tile holds (where tiles would be cut, the map shows counts per
    area instead)."""
    published = {meta.id: meta for meta in store.layers()}
    shown = map_layers(definition, published)
    shown_provinces = definition.provinces if definition.filter_provinces else []
    totals = feature_counts(store, [meta for meta, _ in shown], shown_provinces)
    shown = [(meta, entry) for meta, entry in shown if meta.id in totals]
    start = start_view(definition, [meta for meta, _ in shown])
    fmap = folium.Map(
        location=start.get("center", [21.3, 104.0]),
        zoom_start=start.get("zoom", 8),
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
        zoom_control=True,
    )
    fmap.default_js = served(LEAFLET_JS)
    fmap.default_css = served(LEAFLET_CSS)
    root = fmap.get_root()
    titles = {**per_language(definition, "title"), **per_language(definition, "description")}
    root.title = pick(titles, lang, "title")
    for index, name in enumerate(definition.basemaps):
        basemap(name, index == 0, lang).add_to(fmap)

    placed: list[PlacedLayer] = []
    groups: dict[str, list[folium.FeatureGroup]] = {}
    for meta, entry in shown:
        name = (
            local_name(per_language(meta, "title"), lang, "title")
            + f'<span class="layer-count" data-layer="{meta.id}"></span>'
        )
        if meta.geometry_type == "point":
            group = _with_our_assets(
                plugins.MarkerCluster(
                    name=name, show=entry.visible, options={"maxClusterRadius": 50}
                ),
                "MarkerCluster",
            )
        else:
            group = folium.FeatureGroup(name=name, show=entry.visible)
        group.add_to(fmap)
        style = definition.style(meta.kind)
        groups.setdefault(local_name(per_language(style, "group"), lang, "group"), []).append(group)
        placed.append(PlacedLayer(meta, entry, group))

    overlays = []
    for meta in rasters if definition.rasters else []:
        overlay = raster_overlay(meta, lang).add_to(fmap)
        groups.setdefault(html.escape(tr(lang, "Raster layers")), []).append(overlay)
        overlays.append({**legend(meta), "layer": overlay.get_name()})

    folium.LayerControl(position="topright", collapsed=True).add_to(fmap)
    if groups:
        _with_our_assets(
            plugins.GroupedLayerControl(groups, exclusive_groups=False, collapsed=True),
            "GroupedLayerControl",
        ).add_to(fmap)
    _with_our_assets(
        plugins.Fullscreen(
            position="topleft",
            title=tr(lang, "Full screen"),
            title_cancel=tr(lang, "Exit full screen"),
        ),
        "Fullscreen",
    ).add_to(fmap)
    _with_our_assets(
        plugins.LocateControl(
            position="topleft",
            strings={"title": tr(lang, "Show my location")},
            icon="fa-solid fa-location-crosshairs",
            flyTo=True,
        ),
        "LocateControl",
    ).add_to(fmap)

    config = {
        "map": fmap.get_name(),
        "id": definition.id,
        **titles,
        "max_features": definition.max_features,
        "tile_max_features": tile_max_features,
        "view": start,
        "nearby": [layer_id for layer_id in definition.nearby if layer_id in published],
        "provinces": places_config(definition.provinces),
        "shown_provinces": shown_provinces,
        "province_names": province_names([meta for meta, _ in shown]),
        "layers": [layer_config(definition, p, totals[p.meta.id]) for p in placed],
        "rasters": overlays,
        "rank_limit": rank_limit,
    }
    payload = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    root.header.add_child(folium.CssLink(f"{OWN_ROUTE}/map.css"))
    root.html.add_child(
        folium.Element(f'<script type="application/json" id="map-config">{payload}</script>')
    )
    root.html.add_child(folium.Element(catalogue_element(lang)))
    note = machine_translation_note(lang)
    if note:
        root.html.add_child(
            folium.Element(
                f'<footer id="page-footer" class="machine-note">{html.escape(note)}</footer>'
            )
        )
    root.html.add_child(folium.JavascriptLink(vendor_url(VECTOR_GRID_JS)))
    for script in ("i18n.js", "forms.js", "map.js", "rank.js"):
        root.html.add_child(folium.JavascriptLink(f"{OWN_ROUTE}/{script}"))
    page = root.render()
    return page.replace("<html>", f'<html lang="{HTML_TAGS[lang]}">', 1)  # type: ignore[index]
