"""A project's public, printable page (`/projects/{id}?f=html`, Vietnamese or English).

Rendered from the same public document as the JSON answer (so it can show nothing more), with
Jinja's autoescaping. No inline script or style: `static/project.js` sends the enquiry form and
`static/project.css` lays out screen and print.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from ..clock import today_in_vietnam

STATIC_DIR = Path(__file__).parent / "static"
STATIC_ROUTE = "/static/pipeline"

TEXT: dict[str, dict[str, str]] = {
    "vi": {
        "other_lang": "English",
        "print": "In trang",
        "map": "Bản đồ đầu tư",
        "id": "Mã dự án",
        "form": "Hình thức đầu tư",
        "sector": "Lĩnh vực",
        "stage": "Giai đoạn",
        "current_step": "Bước hiện tại",
        "behind": "Chậm tiến độ {days} ngày",
        "commune": "Xã, phường",
        "area": "Diện tích",
        "capital_planned": "Vốn dự kiến",
        "capital_registered": "Vốn đăng ký",
        "capital_disbursed": "Vốn đã giải ngân",
        "billion": "tỷ đồng",
        "investor": "Nhà đầu tư",
        "agency": "Cơ quan chịu trách nhiệm",
        "contact": "Đầu mối liên hệ",
        "sites": "Địa điểm liên kết",
        "source": "Nguồn",
        "quality": "Chất lượng dữ liệu",
        "updated": "Cập nhật",
        "unknown": "chưa có thông tin",
        "timeline": "Tiến độ thủ tục",
        "no_procedure": "Dự án chưa xác định hình thức đầu tư, nên chưa có quy trình thủ tục.",
        "acting": "Cơ quan thực hiện",
        "legal": "Căn cứ pháp lý",
        "optional": "không bắt buộc",
        "pending": "Chưa bắt đầu",
        "in_progress": "Đang thực hiện",
        "completed": "Đã hoàn thành",
        "started": "Bắt đầu",
        "planned": "Kế hoạch hoàn thành",
        "done": "Hoàn thành",
        "late": "Chậm {days} ngày so với kế hoạch",
        "events": "Diễn biến hồ sơ",
        "no_events": "Chưa có sự kiện công khai.",
        "ask": "Hỏi về dự án này",
        "ask_intro": "Gửi câu hỏi tới cơ quan phụ trách. Thông tin liên hệ của bạn chỉ cán bộ "
        "phụ trách được xem.",
        "name": "Họ và tên",
        "organisation": "Tổ chức, doanh nghiệp",
        "email": "Thư điện tử",
        "phone": "Số điện thoại",
        "message": "Nội dung câu hỏi",
        "trap": "Để trống ô này",
        "send": "Gửi câu hỏi",
        "sending": "Đang gửi…",
        "sent": "Đã gửi. Mã câu hỏi của bạn: {id}",
        "failed": "Chưa gửi được, vui lòng thử lại.",
        "reach": "Xin cho biết thư điện tử hoặc số điện thoại để được trả lời.",
        "printed": "Trang in từ danh mục dự án, ngày {date}.",
        "quality_note": "Vị trí, số liệu có ghi chất lượng dữ liệu; «Dữ liệu mô phỏng» là dữ liệu "
        "sinh ra để minh họa, không phải thông tin thật.",
    },
    "en": {
        "other_lang": "Tiếng Việt",
        "print": "Print",
        "map": "Investment map",
        "id": "Project id",
        "form": "Investment form",
        "sector": "Sector",
        "stage": "Stage",
        "current_step": "Current step",
        "behind": "{days} days behind schedule",
        "commune": "Commune",
        "area": "Area",
        "capital_planned": "Planned capital",
        "capital_registered": "Registered capital",
        "capital_disbursed": "Disbursed capital",
        "billion": "billion VND",
        "investor": "Investor",
        "agency": "Responsible agency",
        "contact": "Public contact",
        "sites": "Linked sites",
        "source": "Source",
        "quality": "Data quality",
        "updated": "Updated",
        "unknown": "not known",
        "timeline": "Procedure progress",
        "no_procedure": "The project's investment form is not set yet, so it has no procedure.",
        "acting": "Acting agency",
        "legal": "Legal basis",
        "optional": "optional",
        "pending": "Not started",
        "in_progress": "In progress",
        "completed": "Completed",
        "started": "Started",
        "planned": "Planned completion",
        "done": "Completed",
        "late": "{days} days behind plan",
        "events": "Dossier events",
        "no_events": "No public events yet.",
        "ask": "Ask about this project",
        "ask_intro": "Send a question to the responsible agency. Only its officers see your "
        "contact details.",
        "name": "Name",
        "organisation": "Organisation or company",
        "email": "Email",
        "phone": "Phone",
        "message": "Your question",
        "trap": "Leave this empty",
        "send": "Send the question",
        "sending": "Sending…",
        "sent": "Sent. Your enquiry number: {id}",
        "failed": "Could not send it; please try again.",
        "reach": "Please give an email address or a phone number to be answered on.",
        "printed": "Printed from the project catalogue on {date}.",
        "quality_note": "Locations and figures carry their data quality; «Synthetic demo data» "
        "marks simulated data, not real information.",
    },
}

_environment = Environment(
    loader=PackageLoader("geo_service.pipeline", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _day(value: str | None, lang: str) -> str:
    """An ISO date as people read it: 31/12/2026 in Vietnamese, 2026-12-31 in English."""
    if not value:
        return ""
    if lang == "vi":
        return dt.date.fromisoformat(value[:10]).strftime("%d/%m/%Y")
    return value[:10]


def _number(value: float | None, lang: str) -> str:
    if value is None:
        return ""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text.replace(",", " ").replace(".", ",") if lang == "vi" else text


_environment.filters["day"] = _day
_environment.filters["number"] = _number


def project_page(document: dict[str, Any], events: list[dict[str, Any]], lang: str) -> str:
    """The page of a project from its public document and its public events."""
    other = "en" if lang == "vi" else "vi"
    self_url = next(x["href"] for x in document["links"] if x["rel"] == "self")
    root = self_url.rsplit("/projects/", 1)[0]
    return _environment.get_template("project.html").render(
        p=document,
        events=events,
        steps={step["step"]: step for step in document["timeline"]},
        lang=lang,
        other=other,
        t=TEXT[lang],
        root=root,
        static=STATIC_ROUTE,
        today=today_in_vietnam().isoformat(),
    )
