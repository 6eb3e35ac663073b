"""Printable site sheets (PDF), read back with an independent text extractor."""

from __future__ import annotations

import io
import unicodedata

from pypdf import PdfReader


def text_of(content: bytes) -> list[str]:
    return [
        unicodedata.normalize("NFC", page.extract_text())
        for page in PdfReader(io.BytesIO(content)).pages
    ]


def test_a_feature_sheet_has_the_name_every_attribute_source_and_link(sample_client):
    response = sample_client.get(
        "/collections/industrial_zones/items/SL-KCN-MAISON-1", params={"f": "pdf"}
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert (
        'filename="industrial_zones-SL-KCN-MAISON-1.pdf"' in response.headers["content-disposition"]
    )
    # words as read, whatever spaces and line breaks justified, wrapped cells put between them
    page = " ".join("".join(text_of(response.content)).split())
    assert "Khu công nghiệp Mai Sơn (giai đoạn I)" in page  # diacritics survive
    assert "Xã Chiềng Mung" in page and "Tỉnh / Province" in page and "Tỉnh Sơn La" in page
    assert "Vị trí, hình dạng minh họa / Indicative location and shape" in page
    assert "Hình giữ chỗ, không thể hiện diện tích" in page  # its geometry quality
    assert "Ban Thường trực Ủy ban MTTQ Việt Nam tỉnh Sơn La" in page  # the cited document
    # every investor fact is listed; the ones nobody has collected say so
    assert "Giá thuê đất / Land lease price" in page and "chưa có dữ liệu / no data yet" in page
    assert "Khoảng cách tới Hà Nội / Distance to Hà Nội (km)" in page
    assert "/collections/industrial_zones/items/SL-KCN-MAISON-1" in page.replace(" ", "")


def test_a_shortlist_gives_one_page_per_site_still_there(sample_client):
    created = sample_client.post(
        "/shortlists",
        json={
            "name": "In cho cuộc họp",
            "items": [
                {"collection": "tourism_areas", "id": "SL-DL-MOCCHAU"},
                {"collection": "energy_sites", "id": "SL-NL-THUYDIEN-SONLA"},
                {"collection": "energy_sites", "id": "NO-LONGER-HERE"},
            ],
        },
    ).json()
    response = sample_client.get(
        f"/shortlists/{created['id']}/export", params={"f": "pdf", "lang": "en"}
    )
    assert response.status_code == 200
    pages = text_of(response.content)
    assert pages[0].startswith("Moc Chau") and "Khu du lịch quốc gia Mộc Châu" in pages[0]
    starts = [page.split("\n", 1)[0] for page in pages]
    assert "Son La Hydropower Plant" in starts and "NO-LONGER-HERE" not in "".join(pages)


def test_pdf_of_a_missing_feature_is_404(sample_client):
    assert (
        sample_client.get(
            "/collections/industrial_zones/items/NOPE", params={"f": "pdf"}
        ).status_code
        == 404
    )
