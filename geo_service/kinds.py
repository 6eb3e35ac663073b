"""Layer kinds and their field schemas.

Every layer has the common fields; each kind adds its own. The sample builder, the README's
table and upload validation all read this one registry. Investment projects are not a kind of
upload: they are the pipeline's records, whose collection describes itself (`pipeline/layer.py`).
"""

from __future__ import annotations

from .catalogue import CodedValue, FieldSpec
from .i18n import _l


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
    "other": [],
}


def fields_for_kind(kind: str) -> list[FieldSpec]:
    """The full schema of a layer of this kind: common fields, then the kind's own."""
    if kind not in KIND_FIELDS:
        raise KeyError(
            _l(
                "unknown layer kind {kind!r}; known: {value}",
                kind=kind,
                value=", ".join(sorted(KIND_FIELDS)),
            )
        )
    return COMMON_FIELDS + KIND_FIELDS[kind]
