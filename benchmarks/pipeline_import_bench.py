"""Pipeline import benchmark: a planner's 10,000-row spreadsheet through `geo-service projects
import`, as CSV and as XLSX, into an empty records database and again over the same projects.

    python benchmarks/pipeline_import_bench.py [--rows 10000] [--database-url postgresql+psycopg://…]

Rows are synthetic (fixed seed): Vietnamese headers, a code or a name for form and sector, a real
Sơn La commune and a point near its centre. Each import runs in a fresh process (imports and
start-up included); the database is SQLite in a scratch folder unless a URL is given (it must be
an empty database the benchmark may fill).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from geo_service.places import communes_of_province

HEADER = ["Mã dự án", "Tên dự án", "Tên tiếng Anh", "Hình thức đầu tư", "Lĩnh vực",
          "Mã xã, phường", "Diện tích (ha)", "Vốn dự kiến (tỷ VND)", "Nguồn",
          "Chất lượng dữ liệu", "WKT"]  # fmt: skip
FORMS = ["policy_approval", "Đấu giá quyền sử dụng đất", "investor_bidding", "ppp", ""]
SECTORS = ["tourism", "Năng lượng tái tạo (điện mặt trời, điện gió, điện sinh khối)",
           "agro_processing", "logistics_trade"]  # fmt: skip


def write_rows(path: Path, rows: int) -> None:
    rng = random.Random(12)
    communes = communes_of_province("14")
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for n in range(rows):
            commune = rng.choice(communes)
            x = commune.lon + rng.uniform(-0.01, 0.01)
            y = commune.lat + rng.uniform(-0.01, 0.01)
            writer.writerow([
                f"SL-DA-B{n:06d}", f"Dự án thử nghiệm số {n}", f"Benchmark project {n}",
                rng.choice(FORMS), rng.choice(SECTORS), commune.code,
                f"{rng.uniform(1, 100):.1f}", f"{rng.uniform(10, 5000):.1f}".replace(".", ","),
                "benchmark", "synthetic_demo", f"POINT ({x:.6f} {y:.6f})",
            ])  # fmt: skip


def timed(command: list[str], environment: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, env=environment, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed, (done.stdout or done.stderr).strip().splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--database-url", help="an empty database (default: scratch SQLite)")
    args = parser.parse_args()
    cli = [sys.executable, "-m", "geo_service.cli", "projects"]
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as folder:
        scratch = Path(folder)
        source = scratch / "projects.csv"
        write_rows(source, args.rows)
        environment = dict(os.environ)
        if args.database_url:
            environment["GEO_SERVICE_DATABASE_URL"] = args.database_url
        where = ["--data-dir", str(scratch / "data")]
        workbook = scratch / "projects.xlsx"
        runs = [("CSV into an empty database", source)]
        seconds, line = timed([*cli, "import", str(source), *where], environment)
        print(f"{runs[0][0]}: {seconds:.1f} s — {line}")
        timed([*cli, "export", "-o", str(workbook), *where], environment)
        for label, path in (
            ("CSV over the same projects", source),
            ("XLSX (the export)", workbook),
        ):
            seconds, line = timed([*cli, "import", str(path), *where], environment)
            print(f"{label}: {seconds:.1f} s — {line}")


if __name__ == "__main__":
    main()
