"""The procedure of each investment form and the sector list, kept as data files.

`procedures/<form>.toml` holds a form's ordered steps (bilingual name, acting agency, legal basis
as text, the stage the step belongs to, an optional standard duration); `procedures/sectors.toml`
the coded sectors. They are checked here, so a mistake is a clear message naming the file
(`geo-service procedures`), never a broken answer; files are read again when they change.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..definition_files import DefinitionFolders, check_unique
from ..errors import ServiceError
from ..i18n import N_, _l
from ..i18n.validation import described
from .stages import RANK, Milestone, StepStage

Form = Literal["policy_approval", "land_auction", "investor_bidding", "ppp"]
FORMS: tuple[str, ...] = Form.__args__
CODE = r"^[a-z][a-z0-9_]{0,62}$"
SECTORS_FILE = "sectors.toml"


class InvalidProcedures(ServiceError):
    status = 500
    code = "InvalidProcedures"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(Strict):
    code: str = Field(pattern=CODE)
    name_vi: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    agency_vi: str = Field(min_length=1, description="who acts at this step")
    agency_en: str = Field(min_length=1)
    legal_basis: str = Field(min_length=1, description="laws and decrees, as text")
    stage: StepStage = Field(description="the project's stage while this is its furthest step")
    milestone: Milestone | None = Field(None, description="its stage once this step is completed")
    optional: bool = Field(False, description="may be left out; later steps need not wait")
    duration_days: int | None = Field(
        None, ge=1, le=3650, description="standard duration, only where a legal source gives one"
    )


class Procedure(Strict):
    form: str
    title_vi: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    legal_basis: str = Field(min_length=1)
    steps: tuple[Step, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Procedure:
        check_unique([s.code for s in self.steps], N_("step codes used twice: {value}"))
        if all(s.optional for s in self.steps):
            raise ValueError(_l("every step is optional; at least one must be required"))
        reached = 0
        for step in self.steps:
            if RANK[step.stage] < reached:
                raise ValueError(
                    _l(
                        "step {code!r} (stage {stage}) comes after a later stage: steps must follow the project's life in order",
                        code=step.code,
                        stage=step.stage,
                    )
                )
            reached = max(RANK[step.stage], RANK[step.milestone or step.stage])
        return self

    def index(self, code: str) -> int | None:
        return next((i for i, s in enumerate(self.steps) if s.code == code), None)


class Sector(Strict):
    code: str = Field(pattern=CODE)
    name_vi: str = Field(min_length=1)
    name_en: str = Field(min_length=1)


class SectorList(Strict):
    source: str = Field(min_length=1)
    sectors: tuple[Sector, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> SectorList:
        codes = [s.code for s in self.sectors]
        if len(set(codes)) != len(codes):
            raise ValueError(_l("a sector code is used twice"))
        return self


@dataclass(frozen=True)
class Procedures:
    """Every form's procedure and the sector list."""

    forms: dict[str, Procedure]
    sectors: dict[str, Sector]
    sectors_source: str

    def procedure(self, form: str | None) -> Procedure | None:
        return None if form is None else self.forms.get(form)


def _read_toml(path: Path) -> dict:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def read_procedures(folder: Path) -> tuple[Procedures | None, list[str]]:
    """The procedures and sectors in `folder`, or None and every problem found (file: problem)."""
    problems: list[str] = []
    forms: dict[str, Procedure] = {}
    sectors: SectorList | None = None
    folder = Path(folder)
    if not folder.is_dir():
        return None, [f"{folder}: no such folder (GEO_SERVICE_PROCEDURES_DIR)"]
    for path in sorted(folder.glob("*.toml")):
        name = path.stem
        if path.name != SECTORS_FILE and name not in FORMS:
            problems.append(
                f"{path.name}: not an investment form (one of {', '.join(FORMS)}) "
                f"nor {SECTORS_FILE}"
            )
            continue
        try:
            document = _read_toml(path)
            if path.name == SECTORS_FILE:
                sectors = SectorList.model_validate(document)
            else:
                forms[name] = Procedure.model_validate({**document, "form": name})
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"{path.name}: not valid TOML: {exc}")
        except ValidationError as exc:
            problems.append(f"{path.name}: {described(exc, 'file')}")
    problems += [
        f"{form}.toml: missing (every investment form needs its procedure)"
        for form in FORMS
        if form not in forms and not any(p.startswith(f"{form}.toml") for p in problems)
    ]
    if sectors is None and not any(p.startswith(SECTORS_FILE) for p in problems):
        problems.append(f"{SECTORS_FILE}: missing (the coded sector list)")
    if problems or sectors is None:
        return None, problems
    return Procedures(forms, {s.code: s for s in sectors.sectors}, sectors.source), []


_folders = DefinitionFolders(
    read_procedures,
    lambda problems: InvalidProcedures(
        "the investment procedures are not valid (run `geo-service procedures`): "
        + "; ".join(problems)
    ),
)


def load_procedures(folder: Path) -> Procedures:
    """The procedures, read again only when a file has changed; `InvalidProcedures` on errors."""
    return _folders.load(folder)


def stamped_procedures(folder: Path) -> tuple[tuple, Procedures]:
    """The procedures, and their folder's stamp taken before they were read (see
    `DefinitionFolders.stamped`)."""
    return _folders.stamped(folder)
