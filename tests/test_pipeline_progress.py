"""The derivation of a project's progress from its events: stage, steps, delays, refusals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from geo_service.pipeline.procedures import Procedure, load_procedures, read_procedures
from geo_service.pipeline.progress import DossierEvent, EventRefused, InvalidEvent, derive

TODAY = dt.date(2026, 6, 30)


def procedure() -> Procedure:
    steps = [
        ("receive", "dossier", None, False, None),
        ("decide", "dossier", "policy_approved", False, None),
        ("register", "policy_approved", None, True, None),
        ("clear", "land_handover", None, False, 30),
        ("build", "construction", None, False, None),
        ("open", "construction", "operating", False, None),
    ]
    return Procedure(
        form="policy_approval",
        title_vi="Thử",
        title_en="Test",
        legal_basis="test",
        steps=[
            {
                "code": code,
                "name_vi": code,
                "name_en": code,
                "agency_vi": "cơ quan",
                "agency_en": "agency",
                "legal_basis": "law",
                "stage": stage,
                "milestone": milestone,
                "optional": optional,
                "duration_days": days,
            }
            for code, stage, milestone, optional, days in steps
        ],
    )


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def started(step: str, on: str, planned: str | None = None) -> DossierEvent:
    return DossierEvent("step_started", step, day(on), day(planned) if planned else None)


def completed(step: str, on: str) -> DossierEvent:
    return DossierEvent("step_completed", step, day(on))


def test_no_events_is_unknown_and_listing_makes_it_calling_for_investment():
    assert derive(procedure(), [], TODAY).stage == "unknown"
    progress = derive(procedure(), [DossierEvent("listed")], TODAY)
    assert progress.stage == "calling_investment"
    assert progress.current_step == "receive"
    assert progress.days_behind == 0


def test_stages_follow_the_furthest_step_and_milestones():
    events = [DossierEvent("listed"), started("receive", "2026-01-05", "2026-01-20")]
    assert derive(procedure(), events, TODAY).stage == "dossier"
    events += [completed("receive", "2026-01-18"), started("decide", "2026-01-19")]
    assert derive(procedure(), events, TODAY).stage == "dossier"
    events.append(completed("decide", "2026-02-10"))
    progress = derive(procedure(), events, TODAY)
    assert progress.stage == "policy_approved"
    assert progress.current_step == "clear"  # the optional step is skipped
    events.append(started("clear", "2026-03-01"))
    assert derive(procedure(), events, TODAY).stage == "land_handover"
    events += [completed("clear", "2026-04-01"), started("build", "2026-04-02")]
    assert derive(procedure(), events, TODAY).stage == "construction"
    events += [completed("build", "2026-06-01"), completed("open", "2026-06-20")]
    progress = derive(procedure(), events, TODAY)
    assert progress.stage == "operating"
    assert progress.current_step is None
    assert progress.steps_completed == 5


def test_days_behind_is_the_largest_delay_of_an_open_step_and_grows_with_the_calendar():
    events = [started("receive", "2026-01-05", "2026-02-01")]
    assert derive(procedure(), events, day("2026-02-01")).days_behind == 0
    assert derive(procedure(), events, day("2026-02-11")).days_behind == 10
    progress = derive(procedure(), events, TODAY)
    assert progress.days_behind == (TODAY - day("2026-02-01")).days
    assert progress.earliest_open_planned == day("2026-02-01")
    assert progress.steps[0].days_late(TODAY) == progress.days_behind
    done = derive(procedure(), [*events, completed("receive", "2026-02-20")], TODAY)
    assert done.days_behind == 0
    assert done.steps[0].delay_days == 19


def test_a_standard_duration_gives_the_planned_date():
    events = [
        started("receive", "2026-01-01"),
        completed("receive", "2026-01-02"),
        started("decide", "2026-01-03"),
        completed("decide", "2026-01-04"),
        started("clear", "2026-05-01"),
    ]
    progress = derive(procedure(), events, TODAY)
    assert progress.steps[3].planned == day("2026-05-31")
    assert progress.days_behind == 30


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([completed("decide", "2026-01-05")], "receive"),
        ([started("decide", "2026-01-05")], "has not started"),
        ([started("receive", "2026-01-05"), started("receive", "2026-01-06")], "already started"),
        ([completed("receive", "2026-01-05"), completed("receive", "2026-01-06")], "already"),
        ([DossierEvent("step_reopened", "receive", day("2026-01-05"))], "not completed"),
        ([DossierEvent("resumed", date=day("2026-01-05"))], "not suspended"),
        ([DossierEvent("listed"), DossierEvent("listed")], "already listed"),
        (
            [DossierEvent("revoked", date=day("2026-01-05")), DossierEvent("note", note="x")],
            "revoked",
        ),
        (
            [DossierEvent("suspended", date=day("2026-01-05")), started("receive", "2026-01-06")],
            "suspended",
        ),
        (
            [
                completed("receive", "2026-01-05"),
                started("decide", "2026-01-06"),
                DossierEvent("step_reopened", "receive", day("2026-01-07")),
            ],
            "later",
        ),
    ],
)
def test_events_the_procedure_does_not_allow_are_refused(events, message):
    with pytest.raises(EventRefused, match=message):
        derive(procedure(), events, TODAY)


def test_a_project_without_a_form_has_no_steps():
    with pytest.raises(EventRefused, match="no investment form"):
        derive(None, [started("receive", "2026-01-05")], TODAY)
    progress = derive(None, [DossierEvent("listed"), DossierEvent("note", note="x")], TODAY)
    assert progress.stage == "calling_investment"
    assert progress.steps == ()


@pytest.mark.parametrize(
    "events",
    [
        [started("receive", "2026-02-01", "2026-01-01")],
        [started("receive", "2026-02-01"), completed("receive", "2026-01-01")],
        [started("receive", "2026-07-01")],
        [DossierEvent("step_started", "nope", day("2026-01-01"))],
        [
            DossierEvent("suspended", date=day("2026-03-01")),
            DossierEvent("resumed", date=day("2026-02-01")),
        ],
    ],
)
def test_contradictory_dates_and_unknown_steps_are_invalid(events):
    with pytest.raises(InvalidEvent):
        derive(procedure(), events, TODAY)


def test_suspension_resumption_revocation_and_reopening():
    events = [started("receive", "2026-01-01", "2026-01-10")]
    suspended = [*events, DossierEvent("suspended", date=day("2026-02-01"))]
    progress = derive(procedure(), suspended, TODAY)
    assert progress.stage == "suspended"
    assert progress.days_behind > 0  # a suspended project is still late
    resumed = [*suspended, DossierEvent("resumed", date=day("2026-03-01"))]
    assert derive(procedure(), resumed, TODAY).stage == "dossier"
    revoked = [*resumed, DossierEvent("revoked", date=day("2026-04-01"))]
    progress = derive(procedure(), revoked, TODAY)
    assert (progress.stage, progress.days_behind, progress.current_step) == ("revoked", 0, None)
    reopened = [
        completed("receive", "2026-01-05"),
        DossierEvent("step_reopened", "receive", day("2026-01-09"), day("2026-01-30")),
    ]
    step = derive(procedure(), reopened, TODAY).steps[0]
    assert (step.state, step.completed, step.planned, step.reopened) == (
        "in_progress",
        None,
        day("2026-01-30"),
        1,
    )


def test_shipped_procedures_are_valid_and_reach_operating():
    procedures = load_procedures(Path("procedures"))
    assert set(procedures.forms) == {"policy_approval", "land_auction", "investor_bidding", "ppp"}
    for form in procedures.forms.values():
        events, on = [], dt.date(2025, 1, 1)
        for step in form.steps:
            if not step.optional:
                events += [
                    DossierEvent("step_started", step.code, on),
                    DossierEvent("step_completed", step.code, on),
                ]
        assert derive(form, events, TODAY).stage == "operating", form.form
        assert all(s.legal_basis and s.agency_vi and s.agency_en for s in form.steps)


def test_broken_procedure_files_are_reported_by_name(tmp_path: Path):
    for path in Path("procedures").glob("*.toml"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    text = (tmp_path / "ppp.toml").read_text(encoding="utf-8")
    (tmp_path / "ppp.toml").write_text(text.replace('stage = "dossier"', 'stage = "later"', 1))
    (tmp_path / "land_auction.toml").unlink()
    (tmp_path / "extra.toml").write_text("x = 1")
    procedures, problems = read_procedures(tmp_path)
    assert procedures is None
    text = "\n".join(problems)
    assert "ppp.toml: steps.0.stage" in text
    assert "land_auction.toml: missing" in text
    assert "extra.toml: not an investment form" in text
