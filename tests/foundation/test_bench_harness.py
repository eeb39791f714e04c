"""The bench harness measures what it claims: the request it was told to send, read back from real wrk output."""

from __future__ import annotations

import shutil

import pytest
from bench.baseline import BODY, HEADERS, PATH
from bench.harness import BenchError, CpuPerRequest, parse_wrk, run_wrk, serve
from tests.conftest import require

WRK_OUTPUT = """\
Running 5s test @ http://127.0.0.1:40000/echo
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.60ms    1.10ms  21.30ms   91.02%
    Req/Sec     5.60k   310.12     6.01k    82.00%
  Latency Distribution
     50%  412.00us
     75%    5.80ms
     90%    6.50ms
     99%    1.20s
  27870 requests in 5.00s, 4.60MB read
  Non-2xx or 3xx responses: 12
Requests/sec:   5573.51
Transfer/sec:    941.10KB
"""


def test_wrk_figures_are_read_in_milliseconds() -> None:
    result, non_2xx, socket_errors = parse_wrk(WRK_OUTPUT)
    assert (result.rps, result.requests) == (5573.51, 27870)
    assert (result.p50_ms, result.p99_ms) == (pytest.approx(0.412), 1200.0)
    assert (non_2xx, socket_errors) == (12, 0)


@pytest.fixture
def wrk() -> None:
    require(shutil.which("wrk") is not None, "wrk is not installed: run scripts/system-deps")


@pytest.mark.usefixtures("wrk")
def test_a_served_app_receives_the_body_and_headers_given() -> None:
    # The bare route parses the JSON body: a lost body or content type would answer 500 and raise.
    with serve("bench.baseline:bare") as served:
        cpu = CpuPerRequest(served)
        load = cpu(
            "bare",
            lambda: run_wrk(
                served.url + PATH, method="POST", headers=HEADERS, body=BODY, duration=1, warmup=0, connections=4
            ),
        )
        result = load()
        assert result.requests > 0
        # The server's own CPU during the load (not the test's, not its start-up): some, and at most the second or so
        # it ran (one thread), with room for wrk's start and stop.
        assert 0 < cpu.median_us("bare") * result.requests < 2e6
        # Its resident set, read from /proc: a Python server with uvicorn loaded is tens of MiB, far from a GiB.
        assert 10 * 2**20 < served.rss_bytes() < 2**30
        with pytest.raises(BenchError, match="non-2xx/3xx responses"):
            run_wrk(served.url + "/missing", duration=1, warmup=0, connections=4)
