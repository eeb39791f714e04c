"""`python -m bench NAME OPTION ...` hands the options to that module: the load and fault scenarios take theirs."""

from __future__ import annotations

import pytest
from bench.__main__ import main
from bench.serve import Options as ServeOptions
from bench.serve import parse_options as parse_serve_options


def test_options_after_a_module_name_reach_that_module(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", "--seconds", "301"]) == 1  # refused by load.py itself, before anything starts
    assert "bench load: --seconds must be in (0, 300], not 301.0" in capsys.readouterr().err


def test_a_fault_scenario_that_does_not_exist_is_refused_with_the_ones_that_do(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["faults", "power-cut"])
    assert exited.value.code == 2
    assert "no fault scenario power-cut: there are postgres-restart, disk-full" in capsys.readouterr().err


def test_an_unknown_module_is_refused_with_the_ones_there_are(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-module"]) == 2
    assert "bench: no scenario module no-such-module" in capsys.readouterr().err


def test_the_serve_bench_takes_its_load_length_rounds_tenants_and_sections() -> None:
    options = parse_serve_options(["--seconds", "2", "--rounds", "1", "--tenants", "500", "--only", "public", "forge"])
    assert options == ServeOptions(seconds=2, rounds=1, tenants=500, memory_seconds=20, sections=("public", "forge"))
    assert parse_serve_options([]) == ServeOptions(seconds=3, rounds=3, tenants=10_000, memory_seconds=20)


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["serve", "--seconds", "0"], "--seconds must be 1..60"),
        (["serve", "--memory-seconds", "61"], "--memory-seconds must be 1..60"),
        (["serve", "--tenants", "0"], "--rounds and --tenants must be at least 1"),
        (["serve", "--only", "granian"], "invalid choice: 'granian'"),
    ],
)
def test_the_serve_bench_refuses_options_before_starting_anything(
    argv: list[str], why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert why in capsys.readouterr().err
