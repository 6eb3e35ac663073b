"""A project's stages, in the order a project moves through them (DOMAIN: calling for
investment → dossier steps of its form → investor selected / policy approved → land handed over
→ construction → operating; or suspended / revoked), with their bilingual names."""

from __future__ import annotations

from typing import Literal

Stage = Literal[
    "unknown",
    "calling_investment",
    "dossier",
    "policy_approved",
    "investor_selected",
    "land_handover",
    "construction",
    "operating",
    "suspended",
    "revoked",
]
StepStage = Literal[
    "dossier", "policy_approved", "investor_selected", "land_handover", "construction"
]
"""The stages a procedure step can belong to."""
Milestone = Literal[
    "policy_approved", "investor_selected", "land_handover", "construction", "operating"
]
"""The stages a completed step can bring a project to."""

STAGES: dict[str, tuple[str, str]] = {
    "unknown": ("Chưa rõ", "Unknown"),
    "calling_investment": ("Đang kêu gọi đầu tư", "Calling for investment"),
    "dossier": ("Đang xử lý hồ sơ", "Dossier in progress"),
    "policy_approved": ("Đã chấp thuận chủ trương đầu tư", "Investment policy approved"),
    "investor_selected": ("Đã lựa chọn nhà đầu tư", "Investor selected"),
    "land_handover": ("Giải phóng mặt bằng, bàn giao đất", "Site clearance and land handover"),
    "construction": ("Đang xây dựng", "Under construction"),
    "operating": ("Đang hoạt động", "Operating"),
    "suspended": ("Tạm dừng", "Suspended"),
    "revoked": ("Đã thu hồi, chấm dứt", "Revoked"),
}
RANK = {
    "unknown": 0,
    "calling_investment": 1,
    "dossier": 2,
    "policy_approved": 3,
    "investor_selected": 3,
    "land_handover": 4,
    "construction": 5,
    "operating": 6,
}
"""How far along the life each (non-terminal) stage is; a procedure never goes backwards."""
