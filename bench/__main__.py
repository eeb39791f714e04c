"""``python -m bench [NAME ...]``: run every scenario module in ``bench/`` (or the named ones), baseline first.

``python -m bench NAME OPTION ...``: one module whose ``main`` takes arguments, given the rest of the command line
(``python -m bench load --seconds 30``, ``python -m bench faults disk-full``, ``python -m bench serve --seconds 2``).

A module takes part by defining ``scenarios() -> list[Row]`` (load scenarios: printed as a table, then all of
them together against the first baseline row) or ``main() -> None`` (anything else; it prints its own figures).
See bench/README.md.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from dataclasses import replace
from pathlib import Path

from bench.harness import LOAD_CPU, SERVER_CPU, BenchError, Row, print_table

FIRST = "baseline"
NOT_SCENARIOS = frozenset({"harness", "__main__"})


def discover() -> list[str]:
    names = [info.name for info in pkgutil.iter_modules([str(Path(__file__).parent)])]
    names = sorted(name for name in names if name not in NOT_SCENARIOS and not name.startswith("_"))
    return sorted(names, key=lambda name: name != FIRST)


def main(argv: list[str]) -> int:
    available = discover()
    names = argv or available
    options: list[str] = []
    if len(argv) > 1 and argv[0] in available and argv[1] not in available:
        names, options = argv[:1], argv[1:]
    unknown = [name for name in names if name not in available]
    if unknown:
        print(f"bench: no scenario module {', '.join(unknown)}; there are: {', '.join(available)}", file=sys.stderr)
        return 2
    print(
        f"{os.cpu_count()} CPU(s); servers on CPU {SERVER_CPU}, wrk on CPU {LOAD_CPU}: "
        "compare rows within one run, not across machines."
    )
    combined: list[Row] = []
    failed: list[str] = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        try:
            if hasattr(module, "scenarios"):
                rows: list[Row] = module.scenarios()
                print_table(rows, title=f"== {name}")
                combined += [replace(row, name=f"{name}: {row.name}") for row in rows]
            elif hasattr(module, "main"):
                print(f"\n== {name}")
                module.main(options) if options else module.main()
            else:
                raise BenchError("defines neither scenarios() nor main()")
        except BenchError as exc:
            print(f"bench {name}: {exc}", file=sys.stderr)
            failed.append(name)
    if len({row.name.partition(":")[0] for row in combined}) > 1:
        print_table(combined, title="== all load scenarios, ratio to the first row")
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
