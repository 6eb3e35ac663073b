"""The `geo-service` command: serve the API, build the sample catalogue, list layers."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path

from .catalogue import LAYER_ID_PATTERN
from .i18n import LANGUAGES, _l
from .settings import Settings


class Choices:
    """An argument's `choices`: the names in the attribute `name` of `module`, imported when
    the argument is given or its help shown. The tables of export formats, report formats and
    roles import GDAL, pandas or the records database, which would otherwise add a second to
    the start of every command (see `add_named_choice`)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(getattr(importlib.import_module(self.module, __package__), self.name))

    def __contains__(self, value: object) -> bool:
        return value in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)


def add_named_choice(
    parser: argparse.ArgumentParser, flag: str, choices: Choices, help: str, **options
) -> None:
    """An option taking one of `choices`, which its help can name as `%(choices)s`. It is given
    a metavar (`--format` → FORMAT): without one argparse would list the choices, and so import
    their table, as the option is added."""
    metavar = flag.lstrip("-").upper()
    parser.add_argument(flag, choices=choices, metavar=metavar, help=help, **options)


def layer_id(text: str) -> str:
    """An argument that must be a whole layer id (no trailing newline, no path)."""
    if not LAYER_ID_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(
            _l(
                "{text!r} is not a layer id: a lower-case letter, then at most 62 lower-case letters, digits or '_'",
                text=text,
            )
        )
    return text


def output_file(text: str) -> Path:
    """An argument naming a file to write: not a folder, in a folder that exists (checked
    before the work, which may be long)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(_l("{path} is a folder; give a file name", path=path))
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(_l("no folder {folder}", folder=path.parent))
    return path


def _output_format(
    command: str, chosen: str | None, output: Path, extensions: Mapping[str, str]
) -> str | None:
    """The format asked for, else the one the output's name ends in (`extensions` maps a file
    extension to its format); None, having said why, when neither tells."""
    if chosen:
        return chosen
    found = extensions.get(output.suffix.lstrip(".").lower())
    if found is None:
        print(
            f"geo-service {command}: cannot tell the format of {output.name}; give --format "
            f"({', '.join(dict.fromkeys(extensions.values()))}) or a file name ending in one",
            file=sys.stderr,
        )
    return found


def _deliver(command: str, built: Path, output: Path) -> int:
    """Move a file built in a temporary folder to `output` and say so; a clear message and 1
    if it cannot be written there (no permission, a full disk)."""
    try:
        shutil.move(built, output)
    except OSError as exc:
        print(f"geo-service {command}: cannot write {output}: {exc.strerror}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(built.parent, ignore_errors=True)
    print(f"wrote {output} ({output.stat().st_size:,} bytes)", file=sys.stderr)
    return 0


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir) if args.data_dir else Settings().data_dir


def _settings(args: argparse.Namespace) -> Settings:
    """The settings, with the data directory the command names."""
    return Settings().model_copy(update={"data_dir": _data_dir(args)})


def _store(args: argparse.Namespace):
    """The layer store the settings name (`store.open_store`), closed when the command ends."""
    from .store import open_store

    store = open_store(_settings(args))
    args.opened.callback(store.dispose)
    return store


def _records(args: argparse.Namespace):
    """The records database of the data directory (or GEO_SERVICE_DATABASE_URL), migrated and
    holding what an earlier release kept in files there."""
    from .records import Records, database_url, upgrade

    data_dir = _data_dir(args)
    records = Records(database_url(Settings().database_url, data_dir))
    args.opened.callback(records.dispose)
    upgrade(records, data_dir)
    return records


def _project_store(args: argparse.Namespace):
    from .pipeline.projects import ProjectStore

    return ProjectStore(_records(args), Settings().procedures_dir)


def _catalogue(args: argparse.Namespace):
    """The catalogue as the service serves it: the data directory's layers, and the pipeline's
    projects as the `investment_projects` collection."""
    from .pipeline.layer import with_projects

    return with_projects(_store(args), _project_store(args))


def cmd_sample(args: argparse.Namespace) -> int:
    from .clock import today_in_vietnam
    from .sample import build_sample
    from .sample.projects import load_pipeline_sample

    data_dir = _data_dir(args)
    store = _store(args)
    for meta in build_sample(data_dir, store):
        print(f"built {meta.id}: {meta.title_en}")
    added = load_pipeline_sample(_project_store(args), store, today_in_vietnam())
    print(f"pipeline sample: {added} projects added (projects already stored are kept)")
    print(f"sample catalogue written to {data_dir.resolve()}")
    return 0


def cmd_layers(args: argparse.Namespace) -> int:
    """A table of the readable layers; unreadable ones are named on stderr (exit status 1)."""
    from .errors import ServiceError
    from .query import Query

    if args.keep_geojson:
        return keep_geojson(args)
    store = _catalogue(args)
    layers = store.layers()
    if not layers and not layers.skipped:
        print("no layers in the store; build the sample with: geo-service sample")
        return 1
    rows = [("id", "kind", "geometry", "features", "version", "title")]
    for meta in layers:
        try:
            count = str(store.query(meta.id, Query(limit=0)).number_matched)
        except ServiceError:  # archived or damaged since it was listed
            count = "?"
        rows.append(
            (meta.id, meta.kind, meta.geometry_type, count, str(meta.version), meta.title_en)
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)) + "  " + row[-1])
    for skipped in layers.skipped:
        print(f"geo-service layers: skipped {skipped.id}: {skipped.reason}", file=sys.stderr)
    return 1 if layers.skipped else 0


def keep_geojson(args: argparse.Namespace) -> int:
    """Each layer's GeoJSON kept where its served version lacks it; a layer that cannot be
    written is named on stderr (exit status 1), the others are written all the same."""
    from .errors import ServiceError

    store = _store(args)
    failed = False
    for meta in store.layers():
        try:
            written = store.keep_geojson(meta.id)
        except ServiceError as exc:
            print(f"geo-service layers: {meta.id}: {exc.description}", file=sys.stderr)
            failed = True
            continue
        print(f"{meta.id}: " + (f"{written:,} features written" if written else "nothing to write"))
    return 1 if failed else 0


def cmd_maps(args: argparse.Namespace) -> int:
    from .errors import ServiceError
    from .maps.definition import load_map, map_ids

    settings = Settings()
    published = {meta.id: meta for meta in _catalogue(args).layers()}
    ids = map_ids(settings.maps_dir)
    if not ids:
        print(f"no map definitions (*.toml) in {settings.maps_dir.resolve()}", file=sys.stderr)
        return 1
    failed = False
    for map_id in ids:
        try:
            definition = load_map(settings.maps_dir, map_id)
        except ServiceError as exc:
            print(f"{map_id}: ERROR {exc.description}")
            failed = True
            continue
        errors, notes = definition.problems(published)
        failed = failed or bool(errors)
        print(f"{map_id}: {'ERRORS' if errors else 'ok'} — {definition.title_en}  (/map/{map_id})")
        for line in errors:
            print(f"  error: {line}")
        for line in notes:
            print(f"  note: {line}")
    return 1 if failed else 0


def _records_unreachable(settings: Settings, data_dir: Path) -> str | None:
    """None when the records database answers, else why not and what to do."""
    from .doctor import shown_url, unreachable
    from .records import Records, database_url

    records = Records(database_url(settings.database_url, data_dir))
    try:
        reason = unreachable(records)
    finally:
        records.dispose()
    if reason is None:
        return None
    return (
        f"cannot reach the records database {shown_url(records.url)}: {reason}; start its "
        "server or correct GEO_SERVICE_DATABASE_URL (`geo-service doctor` checks everything)"
    )


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .maps.assets import missing_assets_message

    settings = Settings()
    problem = missing_assets_message(settings.assets_dir)
    if problem:
        print(f"geo-service serve: {problem}", file=sys.stderr)
        return 1
    problem = _records_unreachable(settings, _data_dir(args))
    if problem:
        print(f"geo-service serve: {problem}", file=sys.stderr)
        return 1
    data_dir = _data_dir(args)
    listing = _store(args).layers()
    if not listing and not listing.skipped:
        print("the store holds no layers: building the sample catalogue first", file=sys.stderr)
        cmd_sample(args)
    os.environ["GEO_SERVICE_DATA_DIR"] = str(data_dir.resolve())
    os.environ["GEO_SERVICE_ASSETS_DIR"] = str(settings.assets_dir.resolve())
    os.environ["GEO_SERVICE_MAPS_DIR"] = str(settings.maps_dir.resolve())
    os.environ["GEO_SERVICE_PROCEDURES_DIR"] = str(settings.procedures_dir.resolve())
    uvicorn.run(
        "geo_service.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        access_log=args.access_log,
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 by default; the app itself
        # believes it from GEO_SERVICE_TRUSTED_PROXIES only (none by default), under any server
        proxy_headers=False,
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:

    from tqdm import tqdm

    from .errors import ServiceError
    from .exports import export_query, export_shortlist
    from .exports.formats import FORMATS
    from .query_text import EVERY_FEATURE, build_query
    from .shortlists import ShortlistStore

    extensions = {f.extension: name for name, f in FORMATS.items()} | {n: n for n in FORMATS}
    fmt = _output_format("export", args.format, args.output, extensions)
    if fmt is None:
        return 2
    store = _catalogue(args)
    bar = tqdm(unit=" features", file=sys.stderr, disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        if args.shortlist:
            shortlists = ShortlistStore.from_settings(_records(args), Settings())
            path, _ = export_shortlist(
                store, shortlists.get(args.shortlist), fmt, args.crs, args.lang
            )
        else:
            query = build_query(
                store.layer(args.layer),
                EVERY_FEATURE,
                bbox=args.bbox,
                filter=args.filter,
                filter_lang=args.filter_lang,
                q=args.q,
            )
            path, _ = export_query(
                store,
                args.layer,
                query,
                fmt,
                args.crs,
                args.lang,
                args.max_features,
                progress,
            )
    except ServiceError as exc:
        print(f"geo-service export: {exc.description}", file=sys.stderr)
        return 2
    finally:
        bar.close()
    return _deliver("export", path, args.output)


def cmd_token(args: argparse.Namespace) -> int:
    from .admin_store import AdminStore

    admin = AdminStore(_records(args))
    if args.action == "create":
        _, secret = admin.create_token(args.role, args.label or "")
        print(secret)
        return 0
    if args.action == "revoke":
        if admin.revoke(args.token_id):
            print(f"revoked {args.token_id}", file=sys.stderr)
            return 0
        print(f"geo-service token revoke: no live token {args.token_id!r}", file=sys.stderr)
        return 1
    for token in admin.tokens():
        state = f"revoked {token.revoked}" if token.revoked else "live"
        print(f"{token.id}  {token.role:<8}  {token.created}  {state}  {token.label}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    import getpass

    from . import strict_json
    from .admin_store import AdminStore
    from .errors import ServiceError
    from .ingest import UploadRequest, ingest
    from .ingest.mapping import parse_mapping
    from .ingest.read import ReadOptions, UploadLimits
    from .kind_versions import KindRegistry

    settings = Settings()
    try:
        metadata = strict_json.loads(Path(args.metadata).read_bytes()) if args.metadata else {}
    except (OSError, strict_json.StrictJSONError) as exc:
        print(f"geo-service import: --metadata: {exc}", file=sys.stderr)
        return 2
    if not isinstance(metadata, dict):
        print("geo-service import: --metadata: the file must hold a JSON object", file=sys.stderr)
        return 2
    try:
        mapping = parse_mapping(Path(args.fields).read_bytes() if args.fields else None)
    except OSError as exc:
        print(f"geo-service import: --fields: {exc}", file=sys.stderr)
        return 2
    except ServiceError as exc:
        print(f"geo-service import: --fields: {exc.description}", file=sys.stderr)
        return 2
    source = Path(args.file)
    if not source.is_file():
        print(f"geo-service import: no file {source}", file=sys.stderr)
        return 2
    request = UploadRequest(
        args.layer,
        source,
        source.name,
        metadata,
        ReadOptions(args.table, args.wkt_field, args.x_field, args.y_field),
        args.crs,
        args.dry_run,
        args.draft or settings.review_required,
        fields=mapping,
    )
    limits = UploadLimits.from_settings(settings)
    print(f"importing {source} into {args.layer} …", file=sys.stderr)
    try:
        report = ingest(
            request,
            _catalogue(args),
            limits,
            settings.province,
            AdminStore(_records(args)),
            f"cli:{getpass.getuser()}",
            KindRegistry(settings.kinds_dir, _data_dir(args)).current(),
        )
    except ServiceError as exc:
        print(f"geo-service import: {exc.description}", file=sys.stderr)
        return 2
    print(report.to_text())
    return 0 if report.ok else 1


def cmd_migrate_store(args: argparse.Namespace) -> int:
    """Move a catalogue of GeoPackage layers into the PostGIS store of a database."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from .errors import ServiceError
    from .records import Records, database_url, upgrade
    from .store.postgis import PostGISStore
    from .store.transfer import transfer

    source = Path(args.source)
    if not source.is_dir():
        print(f"geo-service migrate-store: no folder {source}", file=sys.stderr)
        return 2
    url = database_url(args.target, source)
    if make_url(url).get_backend_name() != "postgresql":
        print("geo-service migrate-store: --to must be a PostgreSQL URL", file=sys.stderr)
        return 2
    try:
        records = Records(url)
        try:
            upgrade(records)
        finally:
            records.dispose()
        target = PostGISStore(url)
        try:
            moved = transfer(source, target, progress=print)
        finally:
            target.dispose()
    except (ServiceError, SQLAlchemyError) as exc:
        reason = getattr(exc, "description", None) or str(getattr(exc, "orig", None) or exc)
        print(f"geo-service migrate-store: {reason.strip().splitlines()[0]}", file=sys.stderr)
        return 1
    print(f"moved {len(moved)} layers into the PostGIS store", file=sys.stderr)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from .records import Records, current_revision, database_url, head_revision, upgrade
    from .records.legacy import LegacyFileError

    data_dir = _data_dir(args)
    records = Records(database_url(Settings().database_url, data_dir))
    try:
        if args.action == "upgrade":
            try:
                before, after = upgrade(records, data_dir)
            except LegacyFileError as exc:
                print(f"geo-service db upgrade: {exc}", file=sys.stderr)
                return 2
            print(f"records database {records.engine.url!r}: {before or 'empty'} → {after}")
            return 0
        current, head = current_revision(records), head_revision()
        state = "up to date" if current == head else f"behind (newest is {head})"
        print(f"{current or 'empty (no revision)'}: {state}")
        return 0 if current == head else 1
    finally:
        records.dispose()


def cmd_doctor(args: argparse.Namespace) -> int:
    """Every check of the installation, each with its fix when it fails (exit status 1)."""
    from .doctor import run_checks

    settings = Settings()
    if args.data_dir:
        settings = settings.model_copy(update={"data_dir": Path(args.data_dir)})
    checks = run_checks(settings)
    for check in checks:
        print(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.found}")
        if not check.ok:
            print(f"      fix: {check.fix}")
    failed = sum(not check.ok for check in checks)
    if failed:
        print(f"geo-service doctor: {failed} of {len(checks)} checks failed", file=sys.stderr)
    return 1 if failed else 0


def cmd_settings(args: argparse.Namespace) -> int:
    from .settings import settings_environment, settings_table

    print(settings_table() if args.markdown else settings_environment(Settings()), end="")
    return 0


class VersionAction(argparse.Action):
    """`--version`: the package's version and those of the libraries it runs on (imported only
    when asked, so other commands start as fast as before)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, help=kwargs.get("help"))

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from .doctor import version_text

        print(version_text())
        parser.exit()


def cmd_procedures(args: argparse.Namespace) -> int:
    from .pipeline.procedures import read_procedures

    folder = Settings().procedures_dir
    procedures, problems = read_procedures(folder)
    if procedures is None:
        for line in problems:
            print(f"error: {line}", file=sys.stderr)
        return 1
    for form, procedure in procedures.forms.items():
        timed = sum(s.duration_days is not None for s in procedure.steps)
        print(
            f"{form}: ok — {len(procedure.steps)} steps ({timed} with a standard duration), "
            f"{procedure.title_en}"
        )
    print(f"sectors: ok — {len(procedures.sectors)} codes")
    return 0


def cmd_targets(args: argparse.Namespace) -> int:
    from .dashboard.targets import read_targets
    from .pipeline.procedures import read_procedures

    settings = Settings()
    procedures, _ = read_procedures(settings.procedures_dir)
    plans, problems = read_targets(settings.targets_dir, procedures)
    if plans is None:
        for line in problems:
            print(f"error: {line}", file=sys.stderr)
        return 1
    for plan in plans.plans:
        measurable = sum(t.measurable for t in plan.targets)
        print(
            f"{plan.id}: ok — {len(plan.targets)} targets ({measurable} measurable), "
            f"{plan.period_start}–{plan.period_end}, {plan.title_en}"
        )
    return 0


def cmd_kinds(args: argparse.Namespace) -> int:
    from .kinds import read_kinds

    kinds, problems = read_kinds(Settings().kinds_dir)
    if kinds is None:
        for line in problems:
            print(f"error: {line}", file=sys.stderr)
        return 1
    print(f"common: ok — {len(kinds.common)} fields every kind has")
    for kind_id, kind in sorted(kinds.kinds.items()):
        definition = kind.definition
        coded = sum(f.codes is not None for f in definition.fields)
        print(
            f"{kind_id}: ok — {len(definition.fields)} fields of its own ({coded} coded), "
            f"{'/'.join(definition.geometry)}, {definition.label_en}"
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .clock import today_in_vietnam
    from .dashboard.report import FORMATS, build_report, write_report
    from .dashboard.summary import Dashboard
    from .errors import ServiceError

    output = args.output
    fmt = _output_format("report", args.format, output, {name: name for name in FORMATS})
    if fmt is None:
        return 2
    settings = Settings()
    try:
        dashboard = Dashboard(_project_store(args), settings.targets_dir, settings.province)
        report = build_report(dashboard, args.year, args.lang, today_in_vietnam(), True)
        write_report(report, fmt, output)
    except ServiceError as exc:
        print(f"geo-service report: {exc.description}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"geo-service report: cannot write {output}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"wrote {output} ({output.stat().st_size:,} bytes)", file=sys.stderr)
    return 0


def cmd_projects(args: argparse.Namespace) -> int:
    import getpass

    from .admin_store import AdminStore
    from .clock import today_in_vietnam
    from .errors import ServiceError
    from .pipeline.documents import site_checker
    from .pipeline.projects import ProjectFilters
    from .pipeline.spreadsheet import SPREADSHEETS, export_projects, import_projects

    today = today_in_vietnam()
    try:
        projects = _project_store(args)
        if args.action == "import":
            source = Path(args.file)
            if not source.is_file():
                print(f"geo-service projects import: no file {source}", file=sys.stderr)
                return 2
            store = _store(args)
            report = import_projects(source, projects, site_checker(store), today, args.dry_run)
            print(report.to_text(args.lang))
            if report.stored:
                AdminStore(projects.records).record(
                    f"cli:{getpass.getuser()}",
                    "project.import",
                    "investment_projects",
                    {"file": source.name, "created": report.created, "updated": report.updated},
                )
            return 0 if report.ok else 1
        if args.action == "export":
            fmt = _output_format(
                "projects export", args.format, args.output, {n: n for n in SPREADSHEETS}
            )
            if fmt is None:
                return 2
            path, _ = export_projects(projects, ProjectFilters(), today, fmt, args.lang)
            return _deliver("projects export", path, args.output)
        count = projects.rebuild_progress(today)
        print(f"rebuilt the progress of {count} projects from their events")
        return 0
    except ServiceError as exc:
        print(f"geo-service projects {args.action}: {exc.description}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geo-service",
        description="Investment-site catalogue: OGC API – Features over GeoPackage",
    )
    parser.add_argument(
        "--version",
        action=VersionAction,
        help="print the version, and those of GDAL, PROJ, GEOS and SQLite, and exit",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def with_data_dir(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument(
            "--data-dir", help="data directory (default: GEO_SERVICE_DATA_DIR or ./layers)"
        )
        return sub

    serve = with_data_dir(commands.add_parser("serve", help="run the HTTP service"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a line per request on stderr (default); behind a reverse proxy that logs "
        "requests itself, --no-access-log spares each worker the writing",
    )
    serve.set_defaults(handler=cmd_serve)
    sample = with_data_dir(commands.add_parser("sample", help="build the sample catalogue"))
    sample.set_defaults(handler=cmd_sample)
    layers = with_data_dir(commands.add_parser("layers", help="list layers with feature counts"))
    layers.add_argument(
        "--keep-geojson",
        action="store_true",
        help="instead, give each layer stored before pages were kept in GeoJSON its GeoJSON "
        "(GeoPackage store; a running service reads its pages so within seconds)",
    )
    layers.set_defaults(handler=cmd_layers)
    maps = with_data_dir(
        commands.add_parser("maps", help="check the map definitions against the layers")
    )
    maps.set_defaults(handler=cmd_maps)
    export = with_data_dir(
        commands.add_parser("export", help="export a layer (or part of it) to a file")
    )
    source = export.add_mutually_exclusive_group(required=True)
    source.add_argument("--layer", type=layer_id, help="layer id")
    source.add_argument(
        "--shortlist", help="shortlist id: every site of it, one table or file per layer"
    )
    formats = Choices(".exports.formats", "FORMATS")
    add_named_choice(
        export, "--format", formats, "file format: %(choices)s (default: from the file name)"
    )
    export.add_argument("-o", "--output", required=True, type=output_file, help="file to write")
    export.add_argument("--filter", help="CQL2 filter, e.g. \"status = 'operating'\"")
    export.add_argument("--filter-lang", default="cql2-text", choices=["cql2-text", "cql2-json"])
    export.add_argument("--bbox", help="minLon,minLat,maxLon,maxLat")
    export.add_argument("--q", help="free text over names")
    export.add_argument("--crs", help="output CRS, e.g. EPSG:9206 (default WGS 84)")
    export.add_argument("--lang", default="vi", choices=LANGUAGES, help="column header language")
    export.add_argument("--max-features", type=int, default=Settings().max_export)
    export.set_defaults(handler=cmd_export)
    importer = with_data_dir(
        commands.add_parser("import", help="validate a file and publish it as a layer")
    )
    importer.add_argument(
        "file", help="GeoPackage, zipped Shapefile, GeoJSON, KML/KMZ, CSV or FlatGeobuf"
    )
    importer.add_argument(
        "--layer",
        required=True,
        type=layer_id,
        help="layer id (a new layer, or a new version of one)",
    )
    importer.add_argument(
        "--metadata",
        help="JSON file: title_vi, title_en, kind, source, licence, data_quality (required for a "
        "new layer), …; a new version keeps what it does not give",
    )
    importer.add_argument(
        "--fields",
        help="JSON file mapping the file's columns and values to the kind's fields and codes: "
        '{"fields": {"name_vi": "TEN_KCN"}, "values": {"status": {"HD": "operating"}}} (a refused import prints the mapping it proposes)',
    )
    importer.add_argument("--table", help="which table of a multi-table GeoPackage")
    importer.add_argument("--crs", help="the CRS of a file that declares none, e.g. EPSG:9206")
    importer.add_argument("--wkt-field", help="CSV: the column holding WKT")
    importer.add_argument("--x-field", help="CSV: the longitude / easting column")
    importer.add_argument("--y-field", help="CSV: the latitude / northing column")
    importer.add_argument("--dry-run", action="store_true", help="validate only, publish nothing")
    importer.add_argument("--draft", action="store_true", help="store as a draft, not served yet")
    importer.set_defaults(handler=cmd_import)
    token = commands.add_parser("token", help="manage GIS staff tokens")
    actions = token.add_subparsers(dest="action", required=True)
    create = with_data_dir(
        actions.add_parser("create", help="create a token; prints only the token")
    )
    roles = Choices(".admin_store", "ROLES")
    add_named_choice(
        create,
        "--role",
        roles,
        "%(choices)s: each may do all the ones before it may",
        required=True,
    )
    create.add_argument("--label", help="who or what it is for")
    with_data_dir(actions.add_parser("list", help="list tokens (never their secrets)"))
    revoke = with_data_dir(actions.add_parser("revoke", help="revoke a token by its id"))
    revoke.add_argument("token_id")
    token.set_defaults(handler=cmd_token)
    migrate_store = commands.add_parser(
        "migrate-store",
        help="move the layers of a data directory's GeoPackages into the PostGIS store of a "
        "PostgreSQL database, every version with its number, metadata and state",
    )
    migrate_store.add_argument("--from", dest="source", required=True, help="data directory")
    migrate_store.add_argument(
        "--to", dest="target", required=True, help="postgresql+psycopg://user:password@host/db"
    )
    migrate_store.set_defaults(handler=cmd_migrate_store)
    db = commands.add_parser(
        "db", help="the records database (pipeline, enquiries, tokens, audit log, shortlists)"
    )
    db_actions = db.add_subparsers(dest="action", required=True)
    with_data_dir(db_actions.add_parser("upgrade", help="apply the migrations it lacks"))
    with_data_dir(db_actions.add_parser("current", help="its revision (exit 1 if behind)"))
    db.set_defaults(handler=cmd_db)
    procedures = commands.add_parser(
        "procedures",
        help="check the investment procedures and sectors (GEO_SERVICE_PROCEDURES_DIR)",
    )
    procedures.set_defaults(handler=cmd_procedures)
    doctor = with_data_dir(
        commands.add_parser(
            "doctor", help="check the installation; each failed check names its fix (exit 1)"
        )
    )
    doctor.set_defaults(handler=cmd_doctor)
    settings = commands.add_parser("settings", help="the settings in force (GEO_SERVICE_*)")
    settings.add_argument(
        "--markdown",
        action="store_true",
        help="instead, every setting's default, unit and effect as the README's Markdown table",
    )
    settings.set_defaults(handler=cmd_settings)
    targets = commands.add_parser(
        "targets", help="check the plans' targets (GEO_SERVICE_TARGETS_DIR)"
    )
    targets.set_defaults(handler=cmd_targets)
    kinds = commands.add_parser(
        "kinds", help="check the layer kinds' definitions (GEO_SERVICE_KINDS_DIR)"
    )
    kinds.set_defaults(handler=cmd_kinds)
    report = with_data_dir(
        commands.add_parser("report", help="the annual report on investment attraction")
    )
    report.add_argument("--year", type=int, required=True, help="the year reported on")
    report.add_argument(
        "-o", "--output", required=True, type=output_file, help="file to write (.xlsx, .docx, .pdf)"
    )
    report_formats = Choices(".dashboard.report", "FORMATS")
    add_named_choice(report, "--format", report_formats, "%(choices)s (default: from the name)")
    report.add_argument("--lang", default="vi", choices=LANGUAGES)
    report.set_defaults(handler=cmd_report)
    projects = commands.add_parser("projects", help="pipeline projects: import, export, rebuild")
    project_actions = projects.add_subparsers(dest="action", required=True)
    project_import = with_data_dir(
        project_actions.add_parser("import", help="add or replace projects from a spreadsheet")
    )
    project_import.add_argument("file", help=".xlsx or .csv, Vietnamese or English headers")
    project_import.add_argument(
        "--dry-run", action="store_true", help="validate and report, store nothing"
    )
    project_import.add_argument(
        "--lang", default="vi", choices=LANGUAGES, help="the report's language"
    )
    project_export = with_data_dir(
        project_actions.add_parser("export", help="every project to a spreadsheet")
    )
    project_export.add_argument(
        "-o", "--output", required=True, type=output_file, help="file to write"
    )
    project_export.add_argument(
        "--format", choices=["csv", "xlsx"], help="default: from the file name"
    )
    project_export.add_argument(
        "--lang", default="vi", choices=["vi", "en"], help="header language"
    )
    with_data_dir(
        project_actions.add_parser(
            "rebuild-progress", help="recompute every project's progress row from its events"
        )
    )
    projects.set_defaults(handler=cmd_projects)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; what it opened (stores, the records database) is closed when it ends,
    so that `main` can be called more than once in one process."""
    args = build_parser().parse_args(argv)
    with contextlib.ExitStack() as args.opened:
        try:
            return args.handler(args)
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    sys.exit(main())
