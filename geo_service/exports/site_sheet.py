"""Printable site sheets (PDF): per site a page with a map drawn offline and every attribute.

The map is drawn with matplotlib from the catalogue itself (the site, its commune centre and the
catalogue features nearby), so it needs no tiles and no internet. Text uses DejaVu Sans, which
matplotlib ships and which has every Vietnamese diacritic.
"""

from __future__ import annotations

import io
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import shapely
from fpdf import FPDF
from fpdf.fonts import FontFace
from matplotlib.figure import Figure

from ..catalogue import FieldSpec, LayerMeta
from ..query import Query
from ..store import Feature, Store

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
NEARBY_DEGREES = 0.03  # about 3 km around the site
MAP_HEIGHT_MM = 85
QUALITY_BADGE = {
    "authoritative": ("Dữ liệu chính thức", "Authoritative data"),
    "indicative": ("Vị trí, hình dạng minh họa", "Indicative location and shape"),
    "synthetic_demo": ("Dữ liệu mô phỏng (demo)", "Synthetic demo data"),
}


@dataclass(frozen=True)
class Site:
    meta: LayerMeta
    feature: Feature
    url: str


def format_value(spec: FieldSpec, value) -> str:
    if spec.codes and value in spec.code_labels():
        code = spec.code_labels()[value]
        return f"{code.label_vi} / {code.label_en}"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


def _map_png(store: Store, site: Site) -> bytes:
    geometry = shapely.from_wkb(site.feature.geometry)
    minx, miny, maxx, maxy = geometry.bounds
    box = (
        minx - NEARBY_DEGREES,
        miny - NEARBY_DEGREES,
        maxx + NEARBY_DEGREES,
        maxy + NEARBY_DEGREES,
    )
    figure = Figure(figsize=(7, 4.2), dpi=130)
    axes = figure.subplots()
    for meta in store.layers():
        nearby = store.query(meta.id, Query(bbox=box, limit=200, properties=("name_vi",))).features
        for other in nearby:
            if meta.id == site.meta.id and other.id == site.feature.id:
                continue
            _draw(axes, shapely.from_wkb(other.geometry), "#9aa5b1", 0.35)
            if meta.kind == "commune":
                point = shapely.from_wkb(other.geometry)
                axes.annotate(
                    other.properties["name_vi"], (point.x, point.y), fontsize=7, color="#52606d"
                )
    _draw(axes, geometry, "#d64545", 0.8)
    axes.set_xlim(box[0], box[2])
    axes.set_ylim(box[1], box[3])
    axes.set_aspect(1 / math.cos(math.radians(geometry.centroid.y)))
    axes.tick_params(labelsize=7)
    axes.ticklabel_format(useOffset=False)
    axes.set_title("Vị trí minh họa / Indicative location (WGS 84)", fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def _draw(axes, geometry, colour: str, alpha: float) -> None:
    for part in getattr(geometry, "geoms", [geometry]):
        if part.geom_type == "Polygon":
            x, y = part.exterior.xy
            axes.fill(x, y, color=colour, alpha=alpha, linewidth=0.8)
        elif part.geom_type == "Point":
            axes.plot(part.x, part.y, "o", color=colour, markersize=5, alpha=min(1, alpha + 0.3))
        else:
            x, y = part.xy
            axes.plot(x, y, color=colour, alpha=alpha)


def _page(pdf: FPDF, store: Store, site: Site, lang: str) -> None:
    props = site.feature.properties
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 15)
    first, second = (props.get("name_vi"), props.get("name_en"))
    if lang == "en":
        first, second = second, first
    pdf.multi_cell(0, 8, first or site.feature.id, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    if second:
        pdf.multi_cell(0, 6, second, new_x="LMARGIN", new_y="NEXT")
    quality_vi, quality_en = QUALITY_BADGE.get(props.get("data_quality"), ("", ""))
    pdf.set_text_color(180, 40, 40)
    pdf.multi_cell(
        0,
        6,
        f"{site.meta.title_vi} / {site.meta.title_en} — {quality_vi} / {quality_en}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_text_color(0, 0, 0)
    pdf.image(io.BytesIO(_map_png(store, site)), h=MAP_HEIGHT_MM, x=pdf.l_margin)
    pdf.ln(2)
    pdf.set_font("DejaVu", "", 8)
    with pdf.table(
        line_height=4.5, col_widths=(45, 55), headings_style=FontFace(emphasis="BOLD")
    ) as table:
        table.row(["Thuộc tính / Attribute", "Giá trị / Value"])
        for spec in site.meta.fields:
            value = props.get(spec.name)
            if value is None or value == "":
                continue
            unit = f" ({spec.unit})" if spec.unit else ""
            table.row([f"{spec.label_vi} / {spec.label_en}{unit}", format_value(spec, value)])
    pdf.ln(2)
    pdf.multi_cell(0, 5, f"Liên kết / Link: {site.url}", new_x="LMARGIN", new_y="NEXT")


def site_sheets(store: Store, sites: list[Site], lang: str, stem: str) -> Path:
    """A PDF with one page per site, in a temporary folder the caller removes."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_title(stem)
    for site in sites:
        _page(pdf, store, site, lang)
    folder = Path(tempfile.mkdtemp(prefix="geo-service-export-"))
    path = folder / f"{stem}.pdf"
    pdf.output(str(path))
    return path
