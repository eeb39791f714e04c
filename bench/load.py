"""Three ``pledge serve`` instances on one PostgreSQL under sustained authenticated load, then the same with one
instance SIGKILLed mid-run: zero 5xx, zero lost events, p50/p99 latency (issue 15, item 5).

``python -m bench load [--seconds 60] [--rate 40]``: Connect webhooks and Forge invocations alternate at ``--rate``
deliveries a second, round-robin over the instances and over three Connect sites and three Forge installations.
A delivery not acknowledged (connection refused, 503, ...) is retried on the next instance, as Atlassian retries.
Each run ends by reading every tenant's store back: every acknowledged delivery must be in it.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from contextlib import ExitStack

from bench._fleet import Action, Driver, Fleet, Outcome, fleet, print_outcomes, settle
from bench.harness import BenchError, postgres_schema

MAX_SECONDS = 300
DEFAULT_SECONDS = 60
DEFAULT_RATE = 40.0


def run(name: str, *, seconds: float, rate: float, kill_one: bool, database_url: str | None = None) -> Outcome:
    """One run on ``database_url`` (default: a fresh schema of the PostgreSQL at ``PLEDGE_BENCH_POSTGRES_URL``)."""
    with ExitStack() as stack:
        running = stack.enter_context(fleet(database_url or stack.enter_context(postgres_schema())))
        driver = Driver(running, rate=rate)
        events = [(seconds / 2, f"SIGKILL {running.instances[-1].name}", _killer(running))] if kill_one else []
        elapsed = asyncio.run(driver.run(seconds, events, title=name))
        return settle(name, driver, running, elapsed)


def _killer(running: Fleet) -> Action:
    async def kill() -> None:
        running.instances[-1].kill()

    return kill


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench load", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="length of each run (at most 300)")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, help="deliveries a second, both kinds together")
    options = parser.parse_args(list(argv))
    if not 0 < options.seconds <= MAX_SECONDS:
        raise BenchError(f"--seconds must be in (0, {MAX_SECONDS}], not {options.seconds}")
    if not 0 < options.rate <= 1000:
        raise BenchError(f"--rate must be in (0, 1000], not {options.rate}")
    outcomes = [
        run("3 instances", seconds=options.seconds, rate=options.rate, kill_one=False),
        run("3 instances, one SIGKILLed midway", seconds=options.seconds, rate=options.rate, kill_one=True),
    ]
    print()
    print_outcomes(outcomes)
    failed = [f"{outcome.name}: {problem}" for outcome in outcomes for problem in outcome.failures]
    for problem in failed:
        print(f"FAILED: {problem}")
    if failed:
        raise BenchError("; ".join(failed))
