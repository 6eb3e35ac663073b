"""Printable site sheets (PDF): per site a page with a map drawn offline and every attribute.

The map is drawn from the catalogue itself (the site, the catalogue features nearby, commune
names) as vector paths straight into the PDF: it needs no tiles and no internet, prints sharp at
any size, and costs about a millisecond a page, where a matplotlib image of it cost some 60 ms.
Text uses DejaVu Sans, which matplotlib ships and which has every Vietnamese diacritic. The
catalogue is listed once per PDF, not once per page.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import shapely

from .. import __version__
from ..catalogue import FieldSpec, LayerMeta
from ..errors import LayerUnavailable, NotFound
from ..facts import fact_names, known
from ..i18n import N_, per_language, pick, tr
from ..places import UnmatchedPlace, province_centre
from ..query import BBox, Query
from ..store import Feature, Store
from .pdf_cache import cache_key

if TYPE_CHECKING:  # fpdf and matplotlib are imported where a PDF is made: 0.4 s of a start
    from fpdf import FPDF

LAYOUT = 3
"""Raise when the sheet's layout changes, so that cached PDFs of the old one are not served."""
FONT = "DejaVu"
CJK_FONT = "NotoSansCJK"
CJK_FONTS = {
    "": Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    "B": Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
}
"""Debian's fonts-noto-cjk: JP, KR, SC, TC and HK faces of Noto Sans CJK in one collection."""
NEARBY_DEGREES = 0.03  # about 3 km around the site
NEARBY_PER_LAYER = 200
MAP_HEIGHT_MM = 85
AXIS_MM = 11
"""Room left of and below the map for the latitude and longitude labels."""
SITE_COLOUR, OTHER_COLOUR, LABEL_COLOUR = (214, 69, 69), (154, 165, 177), (82, 96, 109)
ROW_MM = 5
TABLE_SHARES = (0.45, 0.55)
QUALITY_BADGE = {
    "authoritative": N_("Authoritative data"),
    "indicative": N_("Indicative location and shape"),
    "synthetic_demo": N_("Synthetic demo data"),
}

NO_DATA = N_("no data yet")
"""What a sheet says of a fact nobody has collected yet."""

ToPage = Callable[[Sequence[tuple[float, ...]]], list[tuple[float, float]]]
"""Longitude/latitude points to page positions in mm."""


@dataclass(frozen=True)
class Site:
    meta: LayerMeta
    feature: Feature
    url: str


def sheets_key(layers: list[LayerMeta], lang: str, root_url: str, *what: object) -> str:
    """The PDF cache's key for site sheets of `what` (the sites, named so that any change to
    them changes it): a page shows features of every layer near its site, so every layer's
    version counts."""
    stamp = [(meta.id, meta.version, meta.updated) for meta in layers]
    return cache_key("site-sheets", LAYOUT, __version__, lang, root_url, stamp, *what)


def format_value(spec: FieldSpec, value, lang: str) -> str:
    if spec.codes and value in spec.code_labels():
        return in_sheet_languages(per_language(spec.code_labels()[value], "label"), lang, "label")
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


# -- the map ----------------------------------------------------------------------------------
def _view(geometry, width: float, height: float) -> BBox:
    """The site's box grown by NEARBY_DEGREES, then widened to the frame's shape (a degree of
    longitude is cos(latitude) of one of latitude)."""
    minx, miny, maxx, maxy = geometry.bounds
    west, south = minx - NEARBY_DEGREES, miny - NEARBY_DEGREES
    east, north = maxx + NEARBY_DEGREES, maxy + NEARBY_DEGREES
    shrink = math.cos(math.radians((south + north) / 2))
    wide, tall = (east - west) * shrink, north - south
    if wide / tall < width / height:
        grow = (tall * width / height - wide) / shrink / 2
        west, east = west - grow, east + grow
    else:
        grow = (wide * height / width - tall) / 2
        south, north = south - grow, north + grow
    return west, south, east, north


def _nearby(
    store: Store, layers: list[LayerMeta], site: Site, view: BBox
) -> list[tuple[str, Feature]]:
    """(kind, feature) of every catalogue feature in view but the site itself; a layer archived
    or damaged since the PDF began is left out."""
    query = Query(bbox=view, limit=NEARBY_PER_LAYER, properties=("name_vi",))
    found = []
    for meta in layers:
        with contextlib.suppress(NotFound, LayerUnavailable):
            found += [
                (meta.kind, other)
                for other in store.query(meta.id, query).features
                if not (meta.id == site.meta.id and other.id == site.feature.id)
            ]
    return found


def _shape(
    pdf: FPDF, geometry, colour: tuple[int, int, int], opacity: float, to_page: ToPage
) -> None:
    with pdf.local_context(
        fill_color=colour, draw_color=colour, fill_opacity=opacity, stroke_opacity=opacity
    ):
        for part in getattr(geometry, "geoms", [geometry]):
            if part.is_empty:
                continue
            if part.geom_type == "Polygon":
                pdf.polygon(to_page(part.exterior.coords), style="DF")
            elif part.geom_type == "Point":
                ((x, y),) = to_page([(part.x, part.y)])
                pdf.circle(x, y, 1.0, style="F")
            else:
                pdf.polyline(to_page(part.coords))


def _ticks(low: float, high: float) -> list[tuple[float, str]]:
    """Round positions within [low, high], labelled with as many decimals as their step needs."""
    from matplotlib.ticker import MaxNLocator

    values = [v for v in MaxNLocator(6, steps=[1, 2, 5, 10]).tick_values(low, high)]
    values = [v for v in values if low <= v <= high]
    step = values[1] - values[0] if len(values) > 1 else 1.0
    decimals = next(d for d in range(12) if abs(round(step, d) - step) < step * 1e-6)
    return [(v, f"{v:.{decimals}f}") for v in values]


def _frame(pdf: FPDF) -> tuple[float, float]:
    """Width and height of the map's frame, in mm."""
    return pdf.epw - AXIS_MM, MAP_HEIGHT_MM


def sheet_languages(lang: str) -> tuple[str, str]:
    """A sheet speaks two languages: the reader's first, then English (Vietnamese for a reader
    of English)."""
    return (lang, "vi" if lang == "en" else "en")


def both(lang: str, message: str, /, **values: object) -> str:
    """`message` in the sheet's two languages, `first / second`."""
    first, second = (tr(code, message, **values) for code in sheet_languages(lang))
    return first if first == second else f"{first} / {second}"


def in_sheet_languages(values: dict[str, str], lang: str, stem: str) -> str:
    """Content per language in the sheet's two languages, each falling back as `pick` does (one
    where they are the same)."""
    return " / ".join(dict.fromkeys(pick(values, code, stem) for code in sheet_languages(lang)))


def field_label(spec: FieldSpec, lang: str) -> str:
    """A field's label in the sheet's two languages (one where they are the same)."""
    return in_sheet_languages(per_language(spec, "label"), lang, "label")


def _draw_map(
    pdf: FPDF,
    geometry,
    view: BBox,
    nearby: list[tuple[str, Feature]],
    lang: str,
    placeholder: bool,
) -> None:
    """The map below the cursor: its title, the frame with the features, lon/lat labels."""
    pdf.set_font(FONT, "", 8)
    pdf.cell(0, 5, both(lang, "Indicative location (WGS 84)"), align="C")
    pdf.ln(5)
    left, top = pdf.l_margin + AXIS_MM, pdf.get_y()
    width, height = _frame(pdf)
    west, south, east, north = view
    x_scale, y_scale = width / (east - west), height / (north - south)

    def to_page(points: Sequence[tuple[float, ...]]) -> list[tuple[float, float]]:
        return [(left + (x - west) * x_scale, top + (north - y) * y_scale) for x, y, *_ in points]

    pdf.set_line_width(0.2)
    with pdf.rect_clip(left, top, width, height):
        for kind, other in nearby:
            shape = shapely.from_wkb(other.geometry)
            _shape(pdf, shape, OTHER_COLOUR, 0.35, to_page)
            name = other.properties.get("name_vi")
            if kind == "commune" and name and shape.geom_type == "Point":
                ((x, y),) = to_page([(shape.x, shape.y)])
                with pdf.local_context(font_size_pt=6.5, text_color=LABEL_COLOUR):
                    pdf.text(x + 1.5, y + 1, name)
        if placeholder:  # a placeholder gives no area: drawn dashed, as on the map
            with pdf.local_context(dash_pattern={"dash": 1.2, "gap": 0.8}):
                _shape(pdf, geometry, SITE_COLOUR, 0.5, to_page)
        else:
            _shape(pdf, geometry, SITE_COLOUR, 0.8, to_page)
    pdf.rect(left, top, width, height)
    pdf.set_font(FONT, "", 6.5)
    for value, label in _ticks(west, east):
        x = left + (value - west) * x_scale
        pdf.line(x, top + height, x, top + height + 1)
        pdf.text(x - pdf.get_string_width(label) / 2, top + height + 3.8, label)
    for value, label in _ticks(south, north):
        y = top + (north - value) * y_scale
        pdf.line(left - 1, y, left, y)
        pdf.text(left - 1.5 - pdf.get_string_width(label), y + 1, label)
    pdf.set_y(top + height + 6)


# -- text -------------------------------------------------------------------------------------
def paragraph(pdf: FPDF, height: float, text: str) -> None:
    """A line of text across the page, wrapped only when it does not fit (fpdf2's line breaking
    costs far more than a single cell)."""
    if pdf.get_string_width(text) <= pdf.epw - 2 * pdf.c_margin:
        pdf.cell(0, height, text, new_x="LMARGIN", new_y="NEXT")
    else:
        pdf.multi_cell(0, height, text, new_x="LMARGIN", new_y="NEXT")


def table(pdf: FPDF, rows: Sequence[Sequence[str]], shares: Sequence[float] = TABLE_SHARES) -> None:
    """Bordered columns (`shares` of the page's width), the first row bold; a row that fits its
    columns is one cell each, a longer one wraps; a row that would cross the page's foot starts
    a new page."""
    widths = [pdf.epw * share for share in shares]
    for index, row in enumerate(rows):
        pdf.set_font(FONT, "B" if index == 0 else "", 8)
        room = [w - 2 * pdf.c_margin for w in widths]
        if all(pdf.get_string_width(t) <= r for t, r in zip(row, room, strict=True)):
            if pdf.will_page_break(ROW_MM):
                pdf.add_page()
            for text, width in zip(row, widths, strict=True):
                pdf.cell(width, ROW_MM, text, border=1, new_x="RIGHT", new_y="TOP")
            pdf.ln(ROW_MM)
            continue
        lines = max(
            len(pdf.multi_cell(w, ROW_MM - 1, t, dry_run=True, output="LINES"))
            for t, w in zip(row, widths, strict=True)
        )
        height = lines * (ROW_MM - 1) + 1
        if pdf.will_page_break(height):
            pdf.add_page()
        top = pdf.get_y()
        for text, width in zip(row, widths, strict=True):
            pdf.rect(pdf.get_x(), top, width, height)
            pdf.multi_cell(width, ROW_MM - 1, text, new_x="RIGHT", new_y="TOP")
        pdf.set_xy(pdf.l_margin, top + height)


def _page(pdf: FPDF, store: Store, layers: list[LayerMeta], site: Site, lang: str) -> None:
    props = site.feature.properties
    pdf.add_page()
    pdf.set_font(FONT, "B", 15)
    first, second = (pick(props, code, "name") for code in sheet_languages(lang))
    paragraph(pdf, 8, first or site.feature.id)
    pdf.set_font(FONT, "", 10)
    if second and second != first:
        paragraph(pdf, 6, second)
    title = in_sheet_languages(per_language(site.meta, "title"), lang, "title")
    quality = QUALITY_BADGE.get(props.get("data_quality"))
    pdf.set_text_color(180, 40, 40)
    paragraph(pdf, 6, f"{title} — {both(lang, quality)}" if quality else title)
    pdf.set_text_color(0, 0, 0)
    if site.feature.geometry is not None:
        geometry = shapely.from_wkb(site.feature.geometry)
        view = _view(geometry, *_frame(pdf))
        placeholder = props.get("geometry_quality") == "placeholder"
        _draw_map(pdf, geometry, view, _nearby(store, layers, site, view), lang, placeholder)
    facts = fact_names(site.meta.fields)
    rows = [(both(lang, "Attribute"), both(lang, "Value"))]
    for spec in site.meta.fields:
        value = props.get(spec.name)
        if spec.name in facts or not known(value):
            continue
        unit = f" ({spec.unit})" if spec.unit else ""
        if spec.name == "province_code":
            with contextlib.suppress(UnmatchedPlace):
                rows.append((both(lang, "Province"), province_centre(value)[2]))
            continue
        rows.append((f"{field_label(spec, lang)}{unit}", format_value(spec, value, lang)))
    table(pdf, rows)
    if facts:
        pdf.ln(2)
        # the known facts one a row; the missing ones named together, so a sheet stays a page
        rows = [(both(lang, "Facts for investors"), both(lang, "Value"))]
        missing = []
        for name in facts:
            spec, value = site.meta.field(name), props.get(name)
            if spec is None:
                continue
            unit = f" ({spec.unit})" if spec.unit else ""
            if known(value):
                rows.append((f"{field_label(spec, lang)}{unit}", format_value(spec, value, lang)))
            else:
                missing.append(field_label(spec, lang))
        if missing:
            rows.append((both(lang, NO_DATA), "; ".join(missing)))
        table(pdf, rows)
    pdf.ln(2)
    pdf.set_font(FONT, "", 8)
    pdf.multi_cell(0, 5, f"{both(lang, 'Link')}: {site.url}", new_x="LMARGIN", new_y="NEXT")


def new_pdf(title: str, orientation: str = "portrait", lang: str = "vi") -> FPDF:
    """An A4 document with DejaVu Sans (regular and bold) and automatic page breaks; for
    Japanese, Korean and Chinese, Noto Sans CJK draws what DejaVu has no glyph for, when the
    system has it (Debian: fonts-noto-cjk)."""
    import matplotlib
    from fpdf import FPDF

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdf = FPDF(orientation=orientation, format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_font(FONT, "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(fonts / "DejaVuSans-Bold.ttf"))
    cjk = {"ja": 0, "ko": 1, "zh": 2}.get(lang)  # the faces of the collection, in its order
    if cjk is not None and all(path.exists() for path in CJK_FONTS.values()):
        for style, path in CJK_FONTS.items():
            pdf.add_font(CJK_FONT, style, str(path), collection_font_number=cjk)
        pdf.set_fallback_fonts([CJK_FONT])
    pdf.set_title(title)
    return pdf


def write_pdf(pdf: FPDF, stem: str) -> Path:
    """The document as `<stem>.pdf` in a temporary folder the caller removes."""
    folder = Path(tempfile.mkdtemp(prefix="geo-service-export-"))
    path = folder / f"{stem}.pdf"
    pdf.output(str(path))
    return path


def site_sheets(store: Store, sites: list[Site], lang: str, stem: str) -> Path:
    """A PDF with one page per site, in a temporary folder the caller removes."""
    pdf = new_pdf(stem, lang=lang)
    layers = store.layers()
    for site in sites:
        _page(pdf, store, layers, site, lang)
    return write_pdf(pdf, stem)
