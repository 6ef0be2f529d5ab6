"""``pytest-tempo``: a small command line for the durations store and the reference.

``pytest-tempo merge -o OUT IN [IN ...]`` joins the stores of several runs (the shards of a CI
matrix) into one, so the next run balances its shards on everything the last one measured.
Each IN is a store file (``.pytest_cache/v/tempo/durations``, a ``durations_path`` file) or a
cache folder (``.pytest_cache``). OUT is a cache folder, created when missing (with the files
pytest puts in one), or a store file: a name with an extension such as ``.json``, or ending
in ``v/tempo/durations``. Any input or output it cannot use: one line, exit code 2.
When the cache folders hold the records of ``--shard`` runs, it also checks that the shards
fit together (see ``pytest_tempo.shards.verify``) and exits 1 when they do not.

``pytest-tempo reference`` prints the configuration reference (every flag, ini key, marker,
fixture, plugin name and hook) as Markdown.

``pytest-tempo load-judge SUMMARY [SUMMARY ...]`` judges k6 summaries made elsewhere (the
runners of a distributed run) by the script's thresholds and the load baselines: see
:mod:`pytest_tempo.load.judge`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .durations import merge_stores
from .durations_io import load_file, output_path, save_file

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pytest-tempo", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    merge = commands.add_parser("merge", help="merge durations stores into one")
    merge.add_argument(
        "inputs", nargs="+", type=Path, metavar="IN", help="store file or cache folder"
    )
    merge.add_argument("-o", "--output", type=Path, required=True, metavar="OUT")
    merge.add_argument(
        "--verify", action="store_true", help="fail (exit 1) unless the inputs hold shard records"
    )
    commands.add_parser("reference", help="print the configuration reference as Markdown")
    from .load.judge import add_parser as add_load_judge

    add_load_judge(commands)
    args = parser.parse_args(argv)
    if args.command == "load-judge":
        from .load.judge import run as load_judge

        return load_judge(args)
    if args.command == "reference":
        from .reference import render_reference  # imports the plugin: only when asked

        sys.stdout.write(render_reference())
        return 0
    from .shards import read_runs, verify_runs

    try:
        stores = [load_file(path) for path in args.inputs]
        runs = [run for path in args.inputs for run in read_runs(path)]
        target, readable = output_path(args.output)
    except ValueError as exc:
        print(f"pytest-tempo merge: {exc}", file=sys.stderr)
        return 2
    merged = merge_stores(stores)
    try:
        save_file(target, merged, readable)
    except OSError as exc:
        print(
            f"pytest-tempo merge: cannot write {args.output}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2
    print(f"pytest-tempo merge: {len(merged)} tests from {len(stores)} stores into {args.output}")
    problem = _merge_outcomes(args.inputs, args.output)
    if problem:
        print(f"pytest-tempo merge: {problem}", file=sys.stderr)
        return 2
    verdict = verify_runs(runs, required=args.verify)
    if verdict is None:
        return 0
    for line in verdict.lines:
        print(f"pytest-tempo merge: {line}", file=sys.stdout if verdict.ok else sys.stderr)
    return 0 if verdict.ok else 1


def _merge_outcomes(inputs: list[Path], output: Path) -> str | None:
    """Join the outcome histories (the advice's flaky tests) of the input cache folders into
    the output cache folder; a problem in one line, or None."""
    from .advice.flaky import FILE, FOLDER, merge_histories, read_history, write_history

    histories = []
    for path in inputs:
        if not path.is_dir():
            continue
        history, problem = read_history(path / "d" / FOLDER / FILE)
        if problem:
            return problem
        histories.append(history)
    if not histories or not output.is_dir():
        return None
    target = output / "d" / FOLDER / FILE
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_history(target, merge_histories(histories))
    except OSError as exc:
        return f"cannot write {target}: {exc.strerror or exc}"
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
