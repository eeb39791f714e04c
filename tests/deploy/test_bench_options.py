"""`python -m bench NAME OPTION ...` hands the options to that module: the load and fault scenarios take theirs."""

from __future__ import annotations

import pytest
from bench.__main__ import main


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
