"""Dashboard and pipeline benchmark: 100,000 synthetic projects and 2,000,000 dossier events in
SQLite and in PostgreSQL, served by a real `geo-service serve --workers 2`, at concurrency 8.

    .venv/bin/python benchmarks/dashboard_bench.py [--projects 100000] [--events 2000000]
        [--databases sqlite postgresql] [--requests 400] [--seed 7] [--reuse] [--cases …]

Data (fixed seed, `data_quality = synthetic_demo`, source "synthetic benchmark data") go to
`benchmarks/data/dashboard/` (git-ignored): each project walks its form's procedure from a random
day since 2020 (some stop early, some are suspended or revoked), and notes (a tenth flagged as
obstacles) bring the events to the number asked. Every event sequence is one the pipeline allows:
each project's progress row and its replayed states and milestones are computed with the
service's own `derive` and `history.replay`, then all rows are bulk-inserted. PostgreSQL runs in
a throwaway cluster started like the tests' (`tests/postgres.py`: initdb in a temporary folder,
a free 127.0.0.1 port, stopped by PID) with the benchmarks' settings (`postgres.conf`, memory
for this machine as a deployment would give it).

Cases (`benchmarks/loadgen.py`, closed loop, 8 in flight): the summary of four periods in six
groupings, warm (each answer already computed by each worker), first after a change (a note
appended, a step started or completed, or a capital changed through the pipeline's store, in
turn, then 8 of those summaries at once, 30 times) and for a
period never asked before; `/projects?behind=true&limit=100`; one project's timeline; then the
2026 report in each format, one at a time. The machine's load averages are recorded before and
after each database's run. Results: `benchmarks/results/dashboard.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import os
import random
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from loadgen import percentile  # noqa: E402
from loadgen import run as load  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from geo_service.dashboard.summary import Dashboard  # noqa: E402
from geo_service.errors import ServiceError  # noqa: E402
from geo_service.pipeline import history  # noqa: E402
from geo_service.pipeline.documents import (  # noqa: E402
    EventDocument,
    ProjectDocument,
    check_project,
)
from geo_service.pipeline.procedures import FORMS, load_procedures  # noqa: E402
from geo_service.pipeline.progress import DossierEvent, derive  # noqa: E402
from geo_service.pipeline.projects import ProjectStore, _progress_values  # noqa: E402
from geo_service.places import communes_of_province  # noqa: E402
from geo_service.records import Records, upgrade  # noqa: E402
from geo_service.records.schema import (  # noqa: E402
    dossier_events,
    project_progress,
    project_states,
    projects,
)
from geo_service.settings import Settings  # noqa: E402
from tests.postgres import throwaway_cluster  # noqa: E402
from tests.server import running_server  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "dashboard"
TUNED = {
    name.strip(): value.split("#")[0].strip()
    for name, _, value in (
        line.partition("=")
        for line in (ROOT / "benchmarks" / "postgres.conf").read_text().splitlines()
    )
    if value and not name.lstrip().startswith("#")
}
"""The benchmarks' PostgreSQL settings (`postgres.conf`), which the throwaway cluster runs with."""
RESULTS = ROOT / "benchmarks" / "results"
TODAY = dt.date(2026, 11, 30)
CREATED = "2026-01-01T00:00:00Z"
BATCH = 20_000


def project_rows(count: int, events_total: int, seed: int):
    """Yield (project row, events) for each synthetic project."""
    rng = random.Random(seed)
    procedures = load_procedures(Settings().procedures_dir)
    sectors = list(procedures.sectors)
    communes = communes_of_province("14")
    per_project = events_total / count
    made = 0
    for n in range(count):
        form = rng.choice(FORMS) if rng.random() > 0.05 else None
        commune = rng.choice(communes)
        row = {
            "id": f"SL-BM-{n:06d}",
            "name_vi": f"Dự án mô phỏng {n}",
            "name_en": f"Synthetic project {n}",
            "summary_vi": "",
            "summary_en": "",
            "sector": rng.choice(sectors),
            "investment_form": form,
            "commune_code": commune.code,
            "capital_planned_billion_vnd": round(rng.uniform(5, 5000), 1),
            "capital_registered_billion_vnd": round(rng.uniform(5, 5000), 1),
            "capital_disbursed_billion_vnd": round(rng.uniform(0, 2000), 1),
            "responsible_agency": rng.choice(["Sở Tài chính", "Sở Nông nghiệp và Môi trường",
                                              "Ban Quản lý các khu công nghiệp", "UBND xã"]),
            "source": "synthetic benchmark data",
            "data_quality": "synthetic_demo",
            "search_text": f"sl-bm-{n:06d} du an mo phong {n}",
            "created_at": CREATED,
            "updated_at": CREATED,
            "version": 1,
        }  # fmt: skip
        day = dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(0, 2400))
        events = [DossierEvent("listed", date=day)]
        procedure = procedures.procedure(form)
        for step in procedure.steps if procedure else ():
            if step.optional and rng.random() < 0.5:
                continue
            if rng.random() < 0.1:
                break
            day += dt.timedelta(days=rng.randrange(1, 60))
            if day > TODAY:
                break
            planned = day + dt.timedelta(days=rng.randrange(20, 200))
            events.append(DossierEvent("step_started", step.code, day, planned))
            done = day + dt.timedelta(days=rng.randrange(5, 150))
            if done > TODAY or rng.random() < 0.08:
                break
            day = done
            events.append(DossierEvent("step_completed", step.code, day))
        # about per_project events each, the total kept on course for events_total
        wanted = round((n + 1) * per_project - made + rng.uniform(-0.5, 0.5) * per_project)
        notes = max(0, wanted - len(events) - 1)
        for _ in range(notes):
            day = min(TODAY, day + dt.timedelta(days=rng.randrange(0, 10)))
            events.append(DossierEvent("note", date=day, note="ghi chú", obstacle=rng.random() < 0.1,
                                       public=rng.random() < 0.8))  # fmt: skip
        if rng.random() < 0.05:
            events.append(DossierEvent("revoked", date=min(TODAY, day + dt.timedelta(days=30))))
        events = [
            dataclasses.replace(e, seq=i + 1, actor="benchmark", recorded_at=CREATED)
            for i, e in enumerate(events)
        ]
        made += len(events)
        yield row, events, procedure, procedures


def load_database(records: Records, count: int, events_total: int, seed: int) -> dict:
    started = time.perf_counter()
    upgrade(records)
    buffers: dict = {t: [] for t in ("p", "e", "g", "s")}
    written = {"projects": 0, "events": 0}

    def flush(force: bool = False) -> None:
        if not force and len(buffers["e"]) < BATCH * 5:
            return
        with records.engine.begin() as connection:
            for key, table in (("p", projects), ("g", project_progress), ("s", project_states),
                               ("e", dossier_events)):  # fmt: skip
                if buffers[key]:
                    connection.execute(insert(table), buffers[key])
                    buffers[key].clear()

    for row, events, procedure, procedures in project_rows(count, events_total, seed):
        progress = derive(procedure, events, TODAY)
        spans, milestones = history.replay(
            procedures, row["investment_form"], dt.date(2026, 1, 1), events
        )
        buffers["p"].append(row)
        buffers["g"].append({"project_id": row["id"], **_progress_values(progress)})
        counted = {n: row[n] for n in history.PROJECT_VALUES}
        buffers["s"] += [
            {"project_id": row["id"], **counted, **dataclasses.asdict(s),
             **dataclasses.asdict(milestones)}
            for s in spans
        ]  # fmt: skip
        buffers["e"] += [{"project_id": row["id"], **dataclasses.asdict(e)} for e in events]
        written["projects"] += 1
        written["events"] += len(events)
        flush()
    flush(force=True)
    # the log of the spans written, pruned as the service's first count prunes it
    settings = Settings()
    store = ProjectStore(records, settings.procedures_dir)
    Dashboard(store, settings.targets_dir, settings.province).prune()
    # the spans' indexes built once, as PostgreSQL's documentation advises after a bulk load,
    # not page by page as spans arrive in random date order: a quarter smaller (README: "a
    # new period each" p95 73–89 ms before, 65–76 ms after, on PostgreSQL)
    with records.engine.begin() as connection:
        table = "TABLE project_states" if records.dialect == "postgresql" else "project_states"
        connection.exec_driver_sql(f"REINDEX {table}")
    if records.dialect == "postgresql":
        with records.engine.connect() as connection:
            run = connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql
            # what autovacuum does to a table after many inserts and deletes (PostgreSQL 13
            # and later), here before the cases instead of during them: the statistics, and
            # the visibility map that lets the summary read the index alone
            run(
                "VACUUM ANALYZE projects, project_progress, project_states, dossier_events, "
                "project_state_changes, project_state_months"
            )
    return {**written, "load_seconds": round(time.perf_counter() - started, 1)}


def summary_paths(rng: random.Random) -> list[str]:
    groupings = ["", "investment_form", "sector", "stage", "year", "commune_code"]
    periods = [("2026-01-01", "2026-11-30"), ("2025-01-01", "2025-12-31"),
               ("2025-01-01", "2026-11-30"), ("2026-06-01", "2026-11-30")]  # fmt: skip
    paths = []
    for _ in range(200):
        start, end = rng.choice(periods)
        group = rng.choice(groupings)
        paths.append(
            f"/dashboard/summary?from={start}&to={end}" + (f"&group_by={group}" if group else "")
        )
    return paths


def a_change(store: ProjectStore, rng: random.Random, kind: str) -> None:
    """One write through the pipeline's store to a random project: a note (no span changes,
    yet its spans are rewritten), the next step of its procedure started or completed (its
    stage changes), or its registered capital changed (a PATCH's write)."""
    while True:
        project = f"SL-BM-{rng.randrange(store.count()):06d}"
        if kind == "note":
            note = EventDocument(kind="note", date=TODAY.isoformat(), note="benchmark change")
            try:
                store.append_event(project, note, "benchmark", TODAY)
                return
            except ServiceError:  # a revoked project takes no event: another project
                continue
        record = store.get(project)
        if kind == "capital":
            document = {**record.document(), "capital_registered_billion_vnd": rng.uniform(5, 5000)}
            checked, problems = check_project(
                ProjectDocument(**document), store.procedures, lambda _c, _i: True
            )
            assert checked is not None, problems
            store.update(project, checked, record.etag, TODAY, "benchmark")
            return
        progress = store.progress(project, TODAY)[1]
        step = next((s for s in progress.steps if s.state != "completed"), None)
        if step is None or progress.stage in ("revoked", "suspended"):
            continue
        started = step.state == "in_progress"
        event = EventDocument(kind="step_completed" if started else "step_started",
                              step=step.code, date=TODAY.isoformat())  # fmt: skip
        try:
            store.append_event(project, event, "benchmark", TODAY)
            return
        except ServiceError:  # a step the procedure does not allow yet: another project
            continue


def after_changes(url: str, records_url: str, paths: list[str], rounds: int, seed: int) -> dict:
    """Each round writes to a random project through the pipeline's own store (its transaction
    bumps the change counter), in turn a note, a step started or completed and a capital
    changed, then 8 clients each ask one of the summaries at once: every answer is the first
    after a change, each worker bringing its kept summary up to date (or counting it). Each
    worker is first given every summary several times over, so that the answers measured are
    summaries brought up to date, not counted for the first time (the case "a new period
    each" measures those)."""
    rng = random.Random(seed)
    records = Records(records_url)
    store = ProjectStore(records, Settings().procedures_dir)
    distinct = sorted(set(paths))
    load(url, distinct * 8, 8, 600.0, len(distinct) * 8)
    latencies: list[float] = []
    errors = 0
    try:
        for n in range(rounds):
            a_change(store, rng, ("note", "step", "capital")[n % 3])
            result = load(url, rng.sample(distinct, 8), 8, 120.0, 8, keep_latencies=True)
            latencies += result["latencies"]
            errors += result["errors"]
    finally:
        records.dispose()
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "max_ms": latencies[-1] * 1000,
    }


CASES = (
    "summary, warm",
    "summary, first after a change",
    "summary, a new period each",
    "projects behind",
    "project timeline",
    "report",
)


def measure(
    url: str, records_url: str, count: int, requests: int, seed: int, only: Sequence[str]
) -> dict:
    rng = random.Random(seed)
    fresh, warm_up = (
        [  # a period never asked before: each answer is computed, none comes from the cache
            f"/dashboard/summary?from={start}&to={dt.date.fromisoformat(start) + dt.timedelta(days=k)}"
            f"&group_by={rng.choice(['investment_form', 'sector', 'stage', 'commune_code'])}"
            for k in range(120)
        ]
        for start in ("2026-01-01", "2023-01-01")
    )  # the warm-up's days (and the years before theirs) are none of the measured ones
    summaries = summary_paths(rng)
    cases = {
        "summary, warm": summaries,
        "summary, first after a change": summaries,
        "summary, a new period each": fresh,
        "projects behind": ["/projects?behind=true&limit=100"],
        "project timeline": [f"/projects/SL-BM-{rng.randrange(count):06d}" for _ in range(300)],
    }
    results = {}
    for name, paths in cases.items():
        if name not in only:
            continue
        if name == "summary, first after a change":
            results[name] = after_changes(url, records_url, paths, 30, seed)
        else:
            if name == "summary, warm":  # each worker computes each distinct answer first
                distinct = sorted(set(paths))
                load(url, distinct * 4, 8, 600.0, len(distinct) * 4)
            elif name == "summary, a new period each":  # a process warm, not just started
                load(url, warm_up, 8, 600.0, len(warm_up))
            else:
                load(url, paths[:20], 8, 5.0, 50)  # warm-up
            count = len(paths) if name == "summary, a new period each" else requests
            results[name] = load(url, paths, 8, 600.0, count)
        result = results[name]
        print(f"  {name}: {result['requests']} requests, {result['errors']} errors, "
              f"p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms", flush=True)  # fmt: skip
    for fmt in ("xlsx", "docx", "pdf") if "report" in only else ():
        started = time.perf_counter()
        with urllib.request.urlopen(f"{url}/dashboard/report?year=2026&f={fmt}", timeout=120) as r:
            size = len(r.read())
        seconds = time.perf_counter() - started
        results[f"report {fmt}"] = {"seconds": round(seconds, 2), "bytes": size}
        print(f"  report {fmt}: {seconds:.2f} s, {size:,} bytes", flush=True)
    return results


def machine() -> dict:
    """What the run shared the machine with: cores and load averages (1, 5, 15 min)."""
    return {"cores": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the databases already loaded (PostgreSQL: at --postgresql-url)",
    )
    parser.add_argument(
        "--postgresql-url",
        help="a PostgreSQL database to load and measure instead of a "
        "throwaway cluster's (its tables are replaced unless --reuse)",
    )
    parser.add_argument(
        "--cases", nargs="+", choices=CASES, default=CASES, help="only these (default: all)"
    )
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {"date": dt.date.today().isoformat(), "projects": args.projects}
    for database in args.databases:
        with contextlib.ExitStack() as stack:
            reuse = args.reuse and (database == "sqlite" or args.postgresql_url is not None)
            if database == "sqlite":
                path = DATA / "records.sqlite"
                for stale in [] if reuse else DATA.glob("records.sqlite*"):
                    stale.unlink()
                url = f"sqlite:///{path}"
            else:
                url = args.postgresql_url or stack.enter_context(throwaway_cluster(TUNED))
            loaded = {}
            if not reuse:
                records = Records(url)
                print(f"{database}: loading {args.projects:,} projects …", flush=True)
                loaded = load_database(records, args.projects, args.events, args.seed)
                records.dispose()
                print(f"  loaded {loaded}", flush=True)
            env = {"GEO_SERVICE_DATABASE_URL": url}
            with running_server(DATA, workers=2, timeout=300, env=env) as base:
                report[database] = {
                    **loaded,
                    "load_before": machine(),
                    **measure(base, url, args.projects, args.requests, args.seed, args.cases),
                    "load_after": machine(),
                }
                print(f"  machine: {report[database]['load_before']} → "
                      f"{report[database]['load_after']}", flush=True)  # fmt: skip
    name = "dashboard.json" if set(args.cases) == set(CASES) else "dashboard-cases.json"
    (RESULTS / name).write_text(json.dumps({**report, "cases": list(args.cases)}, indent=2))


if __name__ == "__main__":
    main()
