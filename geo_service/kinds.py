"""Layer kinds and their field schemas.

Every layer has the common fields; each kind adds its own. The sample builder, the README's
table and upload validation all read this one registry. Investment projects are not a kind of
upload: they are the pipeline's records, whose collection describes itself (`pipeline/layer.py`).
"""

from __future__ import annotations

from .catalogue import CodedValue, FieldSpec


def _codes(*triples: tuple[str, str, str]) -> list[CodedValue]:
    return [CodedValue(code=c, label_vi=vi, label_en=en) for c, vi, en in triples]


STATUS_CODES = _codes(
    ("planned", "Quy hoạch", "Planned"),
    ("calling_investment", "Kêu gọi đầu tư", "Calling for investment"),
    ("under_construction", "Đang xây dựng", "Under construction"),
    ("operating", "Đang hoạt động", "Operating"),
    ("upcoming_auction", "Sắp đấu giá", "Auction upcoming"),
    ("auctioned", "Đã đấu giá", "Auctioned"),
    ("cancelled", "Đã hủy", "Cancelled"),
    ("active", "Đang hiệu lực", "Active"),
)

DATA_QUALITY_CODES = _codes(
    ("authoritative", "Chính thức", "Authoritative"),
    ("indicative", "Vị trí, hình dạng minh họa", "Indicative location and shape"),
    ("synthetic_demo", "Dữ liệu mô phỏng (demo)", "Synthetic demo data"),
)

# ---- investor facts and provenance (begin) ----------------------------------------------------
# The facts investors compare between sites, and how good a feature's geometry is. Each kind
# below takes them in one delimited block, so they move as one piece wherever kinds live.
GEOMETRY_QUALITY_CODES = _codes(
    ("surveyed", "Ranh giới đo đạc", "Surveyed boundary"),
    ("indicative", "Vị trí, hình dạng minh họa", "Indicative location and shape"),
    ("placeholder", "Hình giữ chỗ, không thể hiện diện tích", "Placeholder shape, gives no area"),
    ("centroid", "Điểm tâm đơn vị hành chính", "Centre point of an administrative unit"),
)

PROVENANCE_FIELDS: list[FieldSpec] = [
    FieldSpec(
        name="geometry_quality",
        type="string",
        label_vi="Chất lượng hình học",
        label_en="Geometry quality",
        codes=GEOMETRY_QUALITY_CODES,
    ),
    FieldSpec(
        name="status_note",
        type="string",
        label_vi="Hiện trạng theo văn bản",
        label_en="Status in the source's words",
    ),
    FieldSpec(name="source_en", type="string", label_vi="Nguồn (tiếng Anh)", label_en="Source"),
]

INCENTIVE_AREA_CODES = _codes(
    (
        "especially_difficult",
        "Địa bàn có điều kiện kinh tế - xã hội đặc biệt khó khăn",
        "Area of especially difficult socio-economic conditions",
    ),
    (
        "difficult",
        "Địa bàn có điều kiện kinh tế - xã hội khó khăn",
        "Area of difficult socio-economic conditions",
    ),
    ("none", "Không thuộc địa bàn ưu đãi đầu tư", "Not an investment-incentive area"),
)

STATED_FACTS: list[FieldSpec] = [
    FieldSpec(
        name="free_land_ha", type="number", label_vi="Đất còn trống", label_en="Free land",
        unit="ha",
    ),
    FieldSpec(
        name="lease_price_vnd_m2_year", type="number", label_vi="Giá thuê đất",
        label_en="Land lease price", unit="VND/m²/năm",
    ),
    FieldSpec(name="lease_term", type="string", label_vi="Thời hạn thuê", label_en="Lease term"),
    FieldSpec(
        name="incentive_area", type="string", label_vi="Địa bàn ưu đãi theo Luật Đầu tư",
        label_en="Incentive area under the Investment Law", codes=INCENTIVE_AREA_CODES,
    ),
    FieldSpec(
        name="power_capacity_mva", type="number", label_vi="Công suất cấp điện",
        label_en="Power supply capacity", unit="MVA",
    ),
    FieldSpec(
        name="water_capacity_m3_day", type="number", label_vi="Công suất cấp nước",
        label_en="Water supply capacity", unit="m³/ngày đêm",
    ),
    FieldSpec(
        name="wastewater_capacity_m3_day", type="number", label_vi="Công suất xử lý nước thải",
        label_en="Wastewater treatment capacity", unit="m³/ngày đêm",
    ),
    FieldSpec(
        name="facts_source", type="string", label_vi="Nguồn số liệu cho nhà đầu tư",
        label_en="Source of the investor facts",
    ),
]  # fmt: skip

DISTANCE_FACTS: list[FieldSpec] = [
    FieldSpec(
        name="dist_national_road_km", type="number", label_vi="Khoảng cách tới quốc lộ",
        label_en="Distance to a national road", unit="km",
    ),
    FieldSpec(
        name="dist_airport_km", type="number", label_vi="Khoảng cách tới sân bay",
        label_en="Distance to an airport", unit="km",
    ),
    FieldSpec(
        name="dist_border_gate_km", type="number", label_vi="Khoảng cách tới cửa khẩu",
        label_en="Distance to a border gate", unit="km",
    ),
    FieldSpec(
        name="dist_hanoi_km", type="number", label_vi="Khoảng cách tới Hà Nội",
        label_en="Distance to Hà Nội", unit="km",
    ),
    FieldSpec(
        name="distances_source", type="string", label_vi="Cách tính khoảng cách",
        label_en="How the distances were computed",
    ),
]  # fmt: skip

COMPLETENESS_FIELD = FieldSpec(
    name="completeness_pct",
    type="number",
    label_vi="Mức đầy đủ thông tin",
    label_en="Completeness",
    unit="%",
    description_vi="Tỷ lệ thông tin cho nhà đầu tư đã có",
    description_en="Share of the investor facts that are known",
)

INVESTOR_FACTS: list[FieldSpec] = [*STATED_FACTS, *DISTANCE_FACTS, COMPLETENESS_FIELD]

TRANSPORT_TYPE_CODES = _codes(
    ("national_road", "Quốc lộ", "National road"),
    ("expressway", "Đường cao tốc", "Expressway"),
    ("airport", "Cảng hàng không, sân bay", "Airport"),
    ("seaport", "Cảng biển", "Seaport"),
    ("border_gate", "Cửa khẩu", "Border gate"),
)

RAW_MATERIAL_CODES = _codes(
    ("fruit", "Cây ăn quả", "Fruit"),
    ("coffee", "Cà phê", "Coffee"),
    ("tea", "Chè", "Tea"),
    ("orange", "Cam", "Orange"),
    ("sugar_cane", "Mía", "Sugar cane"),
    ("planted_forest", "Gỗ rừng trồng", "Planted forest timber"),
)
# ---- investor facts and provenance (end) ------------------------------------------------------

COMMON_FIELDS: list[FieldSpec] = [
    FieldSpec(name="code", type="string", label_vi="Mã", label_en="Code"),
    FieldSpec(
        name="name_vi", type="string", label_vi="Tên (tiếng Việt)", label_en="Name (Vietnamese)"
    ),
    FieldSpec(name="name_en", type="string", label_vi="Tên (tiếng Anh)", label_en="Name (English)"),
    FieldSpec(name="province_code", type="string", label_vi="Mã tỉnh", label_en="Province code"),
    FieldSpec(name="commune_code", type="string", label_vi="Mã xã/phường", label_en="Commune code"),
    FieldSpec(name="commune_name", type="string", label_vi="Xã/phường", label_en="Commune/ward"),
    FieldSpec(
        name="status", type="string", label_vi="Trạng thái", label_en="Status", codes=STATUS_CODES
    ),
    FieldSpec(name="area_ha", type="number", label_vi="Diện tích", label_en="Area", unit="ha"),
    FieldSpec(name="source", type="string", label_vi="Nguồn", label_en="Source"),
    FieldSpec(
        name="data_quality",
        type="string",
        label_vi="Chất lượng dữ liệu",
        label_en="Data quality",
        codes=DATA_QUALITY_CODES,
    ),
    FieldSpec(name="updated_at", type="date", label_vi="Cập nhật", label_en="Last updated"),
    # -- investor facts and provenance: begin
    *PROVENANCE_FIELDS,
    # -- investor facts and provenance: end
]

KIND_FIELDS: dict[str, list[FieldSpec]] = {
    "industrial_zone": [
        FieldSpec(
            name="zone_type",
            type="string",
            label_vi="Loại",
            label_en="Type",
            codes=_codes(
                ("industrial_zone", "Khu công nghiệp (KCN)", "Industrial zone"),
                ("industrial_cluster", "Cụm công nghiệp (CCN)", "Industrial cluster"),
                ("economic_zone", "Khu kinh tế (KKT)", "Economic zone"),
            ),
        ),
        FieldSpec(name="phase", type="string", label_vi="Giai đoạn", label_en="Phase"),
        FieldSpec(
            name="leasable_area_ha",
            type="number",
            label_vi="Diện tích đất cho thuê",
            label_en="Leasable area",
            unit="ha",
        ),
        FieldSpec(
            name="occupancy_pct",
            type="number",
            label_vi="Tỷ lệ lấp đầy",
            label_en="Occupancy rate",
            unit="%",
        ),
        FieldSpec(
            name="developer", type="string", label_vi="Chủ đầu tư hạ tầng", label_en="Developer"
        ),
        FieldSpec(
            name="priority_sectors",
            type="string",
            label_vi="Ngành nghề ưu tiên",
            label_en="Priority sectors",
        ),
        FieldSpec(
            name="infrastructure",
            type="string",
            label_vi="Hạ tầng sẵn có",
            label_en="Infrastructure ready",
        ),
        FieldSpec(
            name="approved_year", type="integer", label_vi="Năm phê duyệt", label_en="Year approved"
        ),
        # -- investor facts: begin
        *INVESTOR_FACTS,
        # -- investor facts: end
    ],
    "tourism_area": [
        FieldSpec(
            name="tourism_level",
            type="string",
            label_vi="Cấp",
            label_en="Level",
            codes=_codes(
                ("national", "Khu du lịch quốc gia", "National tourism area"),
                ("provincial", "Khu du lịch cấp tỉnh", "Provincial tourism area"),
                ("destination", "Điểm du lịch", "Tourist destination"),
                ("relic", "Di tích", "Historic relic"),
            ),
        ),
        FieldSpec(name="highlights", type="string", label_vi="Điểm nổi bật", label_en="Highlights"),
    ],
    "energy_site": [
        FieldSpec(
            name="energy_type",
            type="string",
            label_vi="Loại năng lượng",
            label_en="Energy type",
            codes=_codes(
                ("hydro", "Thủy điện", "Hydropower"),
                ("solar_floating", "Điện mặt trời nổi", "Floating solar"),
                ("solar_ground", "Điện mặt trời mặt đất", "Ground-mounted solar"),
                ("wind", "Điện gió", "Wind"),
                ("biomass", "Điện sinh khối", "Biomass"),
            ),
        ),
        FieldSpec(
            name="capacity_mw", type="number", label_vi="Công suất", label_en="Capacity", unit="MW"
        ),
        FieldSpec(name="developer", type="string", label_vi="Chủ đầu tư", label_en="Developer"),
    ],
    "logistics_trade": [
        FieldSpec(
            name="facility_type",
            type="string",
            label_vi="Loại cơ sở",
            label_en="Facility type",
            codes=_codes(
                ("logistics_centre", "Trung tâm logistics", "Logistics centre"),
                ("wholesale_market", "Chợ đầu mối", "Wholesale market"),
                ("cold_storage", "Kho lạnh", "Cold storage"),
                ("border_gate", "Cửa khẩu", "Border gate"),
                ("trade_centre", "Trung tâm thương mại", "Trade centre"),
            ),
        ),
    ],
    "land_auction_plot": [
        FieldSpec(
            name="land_use_purpose",
            type="string",
            label_vi="Mục đích sử dụng đất",
            label_en="Land-use purpose",
            codes=_codes(
                ("residential", "Đất ở", "Residential"),
                ("commercial_service", "Đất thương mại, dịch vụ", "Commercial and services"),
                ("production_business", "Đất sản xuất, kinh doanh", "Production and business"),
                ("agriculture", "Đất nông nghiệp", "Agriculture"),
            ),
        ),
        FieldSpec(
            name="starting_price_million_vnd",
            type="number",
            label_vi="Giá khởi điểm",
            label_en="Starting price",
            unit="triệu VND",
        ),
        FieldSpec(
            name="auction_date", type="date", label_vi="Ngày đấu giá", label_en="Auction date"
        ),
        # -- investor facts: begin
        *INVESTOR_FACTS,
        # -- investor facts: end
    ],
    "commune": [
        FieldSpec(
            name="unit_type",
            type="string",
            label_vi="Loại đơn vị",
            label_en="Unit type",
            codes=_codes(
                ("commune", "Xã", "Commune"),
                ("ward", "Phường", "Ward"),
                ("special_zone", "Đặc khu", "Special zone"),
            ),
        ),
        FieldSpec(name="province_name", type="string", label_vi="Tỉnh", label_en="Province"),
    ],
    # -- investor facts and provenance: begin
    "transport": [
        FieldSpec(
            name="transport_type",
            type="string",
            label_vi="Loại công trình giao thông",
            label_en="Transport type",
            codes=TRANSPORT_TYPE_CODES,
        ),
    ],
    "raw_material_area": [
        FieldSpec(
            name="crop",
            type="string",
            label_vi="Loại nguyên liệu",
            label_en="Raw material",
            codes=RAW_MATERIAL_CODES,
        ),
        FieldSpec(name="products", type="string", label_vi="Sản phẩm", label_en="Products"),
    ],
    # -- investor facts and provenance: end
    "other": [],
}


def fields_for_kind(kind: str) -> list[FieldSpec]:
    """The full schema of a layer of this kind: common fields, then the kind's own."""
    if kind not in KIND_FIELDS:
        raise KeyError(f"unknown layer kind {kind!r}; known: {', '.join(sorted(KIND_FIELDS))}")
    return COMMON_FIELDS + KIND_FIELDS[kind]
