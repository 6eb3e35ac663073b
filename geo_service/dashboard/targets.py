"""The plans' targets, kept as data files (`targets/<plan>.toml`), like the procedures.

Each plan names its document (title, number, issuer, date where the text states them), its period
and province, and its targets, each with the exact quote it comes from. A target the pipeline can
count has a `metric` (`new_projects`, `registered_capital`, `completed_share`), a value or a
range, a unit, the investment forms and sectors that count; one it cannot count (it needs figures
the platform does not hold, such as total social investment) says so with `measurable = false`
and why, and is listed with its quote but never given an achieved figure. Files are checked here
(`geo-service targets`) and read again when they change.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from ..definition_files import DefinitionFolders, check_unique
from ..errors import ServiceError
from ..i18n import N_, _l
from ..i18n.validation import described
from ..pipeline.procedures import CODE, FORMS, Form, Procedures, Strict

Metric = Literal["new_projects", "registered_capital", "completed_share"]
UNITS: dict[str, str] = {
    "new_projects": "projects",
    "registered_capital": "billion_vnd",
    "completed_share": "percent",
}
"""The unit each metric is counted in."""
UNIT_NAMES: dict[str, str] = {
    "projects": N_("projects"),
    "billion_vnd": N_("billion VND"),
    "percent": "%",
}
"""Each unit's name, in the catalogues."""
PLAN_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"


class InvalidTargets(ServiceError):
    status = 500
    code = "InvalidTargets"


class Document(Strict):
    title: str = Field(min_length=1, description="the document's title as printed")
    number: str | None = Field(None, min_length=1, description="its number, where stated")
    issuer: str = Field(min_length=1)
    date: dt.date | None = Field(None, description="its date, where stated")
    based_on: str | None = Field(None, description="the resolution or plan it carries out")


class Target(Strict):
    id: str = Field(pattern=CODE)
    name_vi: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    quote: str = Field(min_length=1, description="the target's words in the document, exactly")
    measurable: bool = True
    metric: Metric | None = None
    value: float | None = Field(None, gt=0, allow_inf_nan=False)
    min: float | None = Field(None, gt=0, allow_inf_nan=False)
    max: float | None = Field(None, gt=0, allow_inf_nan=False)
    approximate: bool = Field(False, description="the document says «khoảng» (about)")
    unit: str
    forms: tuple[Form, ...] = Field(FORMS, description="the investment forms that count")
    sectors: tuple[str, ...] = Field((), description="the sectors that count (empty: all)")
    how_vi: str = Field("", description="how the platform counts it, or why it cannot")
    how_en: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Target:
        if (self.value is None) == (self.min is None or self.max is None):
            raise ValueError(_l("give either `value` or both `min` and `max`"))
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(_l("min {min:g} is above max {max:g}", min=self.min, max=self.max))
        if self.unit not in UNIT_NAMES:
            raise ValueError(
                _l(
                    "unit {unit!r} is not one of {value}",
                    unit=self.unit,
                    value=", ".join(UNIT_NAMES),
                )
            )
        if self.measurable:
            if self.metric is None:
                raise ValueError(_l("a measurable target needs `metric`"))
            if self.unit != UNITS[self.metric]:
                raise ValueError(
                    _l(
                        "{metric} is counted in {value}",
                        metric=self.metric,
                        value=UNITS[self.metric],
                    )
                )
            if self.metric == "completed_share" and self.goal > 100:
                raise ValueError(_l("a share is at most 100 percent"))
        elif self.metric is not None or not self.how_en:
            raise ValueError(
                _l("a target that is not measurable has no `metric`, and says why in `how_en`")
            )
        if len(set(self.forms)) != len(self.forms) or not self.forms:
            raise ValueError(_l("`forms` lists at least one investment form, each once"))
        return self

    @property
    def goal(self) -> float:
        """The figure to reach: the value, or the bottom of the range."""
        return self.value if self.value is not None else self.min


class Plan(Strict):
    id: str
    title_vi: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    province: str = Field(pattern=r"^[0-9]{2}$")
    period_start: dt.date
    period_end: dt.date
    document: Document
    targets: tuple[Target, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Plan:
        if self.period_end < self.period_start:
            raise ValueError(_l("period_end is before period_start"))
        check_unique([t.id for t in self.targets], N_("target ids used twice: {value}"))
        return self


@dataclass(frozen=True)
class Plans:
    plans: tuple[Plan, ...]

    def for_province(self, province: str) -> list[Plan]:
        return [p for p in self.plans if p.province == province]


def read_targets(
    folder: Path, procedures: Procedures | None = None
) -> tuple[Plans | None, list[str]]:
    """The plans in `folder`, or None and every problem (file: problem). With `procedures`,
    sector codes are checked against the coded sector list too."""
    folder = Path(folder)
    if not folder.is_dir():
        return None, [f"{folder}: no such folder (GEO_SERVICE_TARGETS_DIR)"]
    problems: list[str] = []
    plans: list[Plan] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            with path.open("rb") as handle:
                document = tomllib.load(handle)
            if "id" in document:
                raise ValueError(_l("the plan's id is its file name; leave `id` out"))
            plan = Plan.model_validate({**document, "id": path.stem})
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"{path.name}: not valid TOML: {exc}")
            continue
        except ValidationError as exc:
            problems.append(f"{path.name}: {described(exc, 'file')}")
            continue
        except ValueError as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        if not re.fullmatch(PLAN_ID, path.stem):
            problems.append(f"{path.name}: a plan's file name is lower-case letters, digits, '-'")
        if procedures is not None:
            problems += [
                f"{path.name}: target {t.id}: unknown sector {s!r}"
                for t in plan.targets
                for s in t.sectors
                if s not in procedures.sectors
            ]
        plans.append(plan)
    if not plans and not problems:
        problems.append(f"{folder}: no plan (<plan>.toml) in it")
    if problems:
        return None, problems
    return Plans(tuple(plans)), []


_folders = DefinitionFolders(
    read_targets,
    lambda problems: InvalidTargets(
        "the plans' targets are not valid (run `geo-service targets`): " + "; ".join(problems)
    ),
)


def stamped_targets(folder: Path) -> tuple[tuple, Plans]:
    """The folder's stamp, taken before the plans were read, and the plans (read again only
    when a file has changed; `InvalidTargets` on errors): what is counted from them may be kept
    under the stamp."""
    return _folders.stamped(folder)
