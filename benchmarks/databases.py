"""Measure "build the schema per worker" against "build once, clone per worker" on PostgreSQL.

Run by hand from the repository root, with a PostgreSQL server the URL can create
databases on::

    python benchmarks/databases.py                       # 2 and 4 workers, 50 tables
    python benchmarks/databases.py --url postgresql://me@db:5432/postgres --tables 200

N threads start together, as N xdist workers do, and each gets its database through
pytest-tempo's PostgreSQL provisioner:

- ``per worker``: each creates an empty database and builds the schema into it;
- ``template``: one builds the schema into a template database (the others wait on the
  advisory lock), then each clones it with ``CREATE DATABASE ... TEMPLATE``.

The schema is ``--tables`` tables, each with a primary key, four columns, a foreign key to
the previous table, a unique constraint and an index, and ``--rows`` reference rows per
table (default 0: DDL only). Real migrations (an ORM and a migration tool in Python, data
migrations, seed data) cost more per table than bare DDL, and favour the template more.
Every run's wall time runs from the start to the last worker holding its database; the
databases are dropped between runs (not timed). The medians and the ratio are printed.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid

from pytest_tempo.databases.postgresql import PostgresProvisioner
from pytest_tempo.databases.urls import DbUrl, parse_db_url


def schema(tables: int, rows: int = 0) -> list[str]:
    statements = []
    for n in range(tables):
        ref = f", parent_id integer REFERENCES t{n - 1} (id)" if n else ""
        statements.append(
            f"CREATE TABLE t{n} (id serial PRIMARY KEY, name text NOT NULL, "
            f"code varchar(32) UNIQUE, amount numeric(12, 2), created timestamptz "
            f"DEFAULT now(){ref})"
        )
        statements.append(f"CREATE INDEX t{n}_name ON t{n} (name)")
        if rows:
            statements.append(
                f"INSERT INTO t{n} (name, code, amount) SELECT 'row ' || i, 'c' || i, i "
                f"FROM generate_series(1, {rows}) AS i"
            )
    return statements


def make_builder(statements: list[str]) -> object:
    import psycopg

    def build(url: str) -> None:
        with psycopg.connect(url) as conn:
            for statement in statements:
                conn.execute(statement)

    return build


def one_run(base: DbUrl, workers: int, statements: list[str], template: bool) -> float:
    run_id = uuid.uuid4().hex
    prefix = "bench_" + run_id[:8]
    urls = [base.with_database(f"{prefix}_gw{n}") for n in range(workers)]
    tmpl = base.with_database(f"{prefix}_tmpl") if template else None
    build = make_builder(statements)
    start = threading.Barrier(workers)
    errors: list[BaseException] = []
    # One provisioner per worker, kept to the end: each owns its database on the server.
    owners = {url.database: PostgresProvisioner() for url in urls}

    def worker(url: DbUrl) -> None:
        start.wait()
        try:
            owners[url.database].create(url, run_id, template=tmpl, build=build)  # type: ignore[arg-type]
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(u,)) for u in urls]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    prov = PostgresProvisioner()
    for url in urls:
        prov.drop(url, run_id)
    if tmpl is not None:
        prov.drop_template(tmpl, run_id)
    for owner in [prov, *owners.values()]:
        owner.close()
    if errors:
        raise errors[0]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--tables", type=int, default=50)
    parser.add_argument("--rows", type=int, default=0, help="reference rows per table")
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    base = parse_db_url(args.url)
    statements = schema(args.tables, args.rows)
    print(
        f"schema: {args.tables} tables, {args.rows} rows each ({len(statements)} statements); "
        f"{args.runs} runs each"
    )
    print(f"{'workers':>7}  {'per worker':>10}  {'template':>10}  {'ratio':>6}")
    for workers in args.workers:
        one_run(base, workers, statements, template=True)  # warm-up, not counted
        per: list[float] = []
        tpl: list[float] = []
        for _ in range(args.runs):  # alternating, so drift hits both alike
            per.append(one_run(base, workers, statements, template=False))
            tpl.append(one_run(base, workers, statements, template=True))
        p, t = statistics.median(per), statistics.median(tpl)
        print(f"{workers:>7}  {p:>9.3f}s  {t:>9.3f}s  {p / t:>5.2f}x")


if __name__ == "__main__":
    main()
