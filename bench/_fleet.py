"""Several ``pledge serve`` instances on one database, the simulated Atlassian site, and a driver that acts as the
products at a fixed rate: the machinery of ``bench/load.py`` and ``bench/faults.py``.

The driver sends signed Connect webhooks (to a small ledger app that stores each delivery's id) and Forge invocations
(``examples.forge_notes``: each one stores a note) round-robin over the instances. Like Atlassian, it retries a
delivery that was not acknowledged — a connection that failed, a 408/425/429/5xx — on the next instance, and counts
why. After the run it reads every tenant's records back through the store: each acknowledged delivery must be
there (none lost), and none may have ended unacknowledged.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

import httpx
from examples.forge_notes.app import APP_ID
from examples.forge_notes.app import app as forge_notes
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from starlette.responses import JSONResponse
from starlette.types import ASGIApp

from bench.harness import ROOT, BenchError, free_port
from pledge.app import App, RequestContext
from pledge.clock import SystemClock
from pledge.config import load_settings
from pledge.forge.routes import INSTALLED_PATH
from pledge.runtime import Runtime
from pledge.sim.connect_site import ConnectSim
from pledge.sim.forge_site import ForgeSite
from pledge.sim.forge_site import Installation as ForgeInstallation
from pledge.sim.loopback import serve_on_loopback
from pledge.sim.server import build_simulator
from pledge.store.data_manifest import Category, Collection, DataManifest, Field
from pledge.tenants import Tenant

STARTUP_TIMEOUT_SECONDS: Final = 60.0
REQUEST_TIMEOUT_SECONDS: Final = 10.0
MAX_ATTEMPTS: Final = 40
RETRY_PAUSE_SECONDS: Final = 0.5
"""How long the driver waits before retrying a 503: Atlassian keeps its own schedule (seconds to minutes); a short
pause keeps a bounded run short and still shows every retry."""
RETRIED_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
"""What Atlassian redelivers a webhook or a Forge trigger after, besides a connection that failed."""

_DELIVERY: Final = re.compile(r"[a-z]{1,8}-[0-9]{1,9}")

ledger = App(
    key="load-ledger",
    name="Load ledger",
    description="Records which webhook deliveries arrived, for the load benchmark.",
    vendor_name="Pledge benchmarks",
    vendor_url="https://example.com/pledge",
    data=DataManifest(
        (
            Collection(
                "deliveries",
                "Which webhook deliveries arrived",
                (Field("delivery", Category.CONFIGURATION, "The delivery's id, to check that none was lost"),),
            ),
        )
    ),
)


@ledger.webhook("jira:issue_updated")
async def record_delivery(context: RequestContext) -> JSONResponse | None:
    """Store the delivery's id: a 2xx answer means it is committed."""
    payload = await context.json()
    delivery = payload.get("delivery") if isinstance(payload, dict) else None
    if not isinstance(delivery, str) or not _DELIVERY.fullmatch(delivery):
        return JSONResponse({"error": "bad_request", "message": "no delivery id in the event"}, status_code=400)
    await context.store.create("deliveries", {"delivery": delivery})
    return None


APPS: Final = ("bench._fleet:ledger", "examples.forge_notes.app:app")

Kind = Literal["connect", "forge"]


# The fleet ---------------------------------------------------------------------------------------------------------


@dataclass
class Instance:
    """One ``pledge serve`` process."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def kill(self) -> None:
        """SIGKILL: no shutdown, no goodbye, as when a machine dies."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()


@dataclass
class Tenants:
    """The simulated sites the app is installed on, and how to sign as each."""

    connect: list[ConnectSim]
    forge_site: ForgeSite
    forge: list[ForgeInstallation]


@dataclass
class Fleet:
    instances: list[Instance]
    tenants: Tenants
    database_url: str
    keyring_path: Path
    public_url: str


@contextmanager
def simulated_site(connect_sites: int) -> Iterator[tuple[list[ConnectSim], ForgeSite]]:
    """``pledge sim``'s site on loopback (Connect and Forge sides), with ``connect_sites`` Connect sites signing
    with one install key (as Atlassian's sites do), so every site's installs verify against one key server."""
    built: list[tuple[list[ConnectSim], ForgeSite]] = []

    def make(url: str) -> ASGIApp:
        simulator = build_simulator(url, SystemClock(), forge_app_id=APP_ID)
        assert simulator.forge is not None
        others = [ConnectSim(simulator.site, signer=simulator.connect.signer) for _ in range(connect_sites - 1)]
        built.append(([simulator.connect, *others], simulator.forge))
        return simulator.site.asgi()

    with serve_on_loopback(make):
        yield built[0]


def start_instance(name: str, env: Mapping[str, str], root: Path, port: int) -> Instance:
    data = root / name
    data.mkdir(parents=True, exist_ok=True)
    child_env = {key: value for key, value in os.environ.items() if not key.startswith("PLEDGE_")}
    child_env |= {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PLEDGE_DATA_DIR": str(data),
        "PLEDGE_PORT": str(port),
        "PLEDGE_APPS": ",".join(APPS),
        "PLEDGE_LOG_LEVEL": "WARNING",
        **env,
    }
    log_path = data / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("pledge")), "serve"],
            cwd=ROOT,
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    instance = Instance(name, f"http://127.0.0.1:{port}", process, log_path)
    _wait_ready(instance)
    return instance


def _wait_ready(instance: Instance) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if instance.process.poll() is not None:
            raise BenchError(f"{instance.name} exited ({instance.process.returncode}): {instance.log_lines()[-5:]}")
        try:
            if httpx.get(instance.url + "/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise BenchError(f"{instance.name} not ready after {STARTUP_TIMEOUT_SECONDS:.0f} s: {instance.log_lines()[-5:]}")


def stop_instance(instance: Instance) -> None:
    if instance.process.poll() is not None:
        return
    instance.process.send_signal(signal.SIGTERM)
    try:
        instance.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        instance.process.kill()
        instance.process.wait()


@contextmanager
def fleet(database_url: str, *, instances: int = 3, connect_sites: int = 3, forge_sites: int = 3) -> Iterator[Fleet]:
    """``instances`` ``pledge serve`` processes on ``database_url`` sharing one keyring and one public URL (as
    behind a load balancer), the ledger app installed on ``connect_sites`` Connect sites and Forge Notes on
    ``forge_sites`` Forge installations."""
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pledge-fleet-")))
        connect, forge_site = stack.enter_context(simulated_site(connect_sites))
        ports = [free_port() for _ in range(instances)]
        public_url = f"http://127.0.0.1:{ports[0]}"
        keyring = root / "keyring.json"
        env = {
            "PLEDGE_DATABASE_URL": database_url,
            "PLEDGE_KEYRING_PATH": str(keyring),
            "PLEDGE_BASE_URL": public_url,
            "PLEDGE_CONNECT_INSTALL_KEYS_URL": connect[0].install_keys_url,
            **forge_site.pledge_environment(),
        }
        running: list[Instance] = []
        for number, port in enumerate(ports, start=1):
            # One at a time: the first creates the keyring and migrates; the others find both.
            running.append(start_instance(f"instance-{number}", env, root, port))
            stack.callback(stop_instance, running[-1])
        installations = asyncio.run(_install(connect, forge_site, public_url, forge_sites))
        yield Fleet(running, Tenants(connect, forge_site, installations), database_url, keyring, public_url)


async def _install(
    connect: Sequence[ConnectSim], forge_site: ForgeSite, public_url: str, forge_sites: int
) -> list[ForgeInstallation]:
    for site in connect:
        await site.install(f"{public_url}/apps/{ledger.key}/atlassian-connect.json")
    installations = [forge_site.new_installation() for _ in range(forge_sites)]
    for installation in installations:
        attempts = await forge_site.install(f"{public_url}/apps/{forge_notes.key}{INSTALLED_PATH}", installation)
        if attempts[-1].status != 200:
            raise BenchError(f"the Forge install was answered {attempts[-1].status}")
    return installations


# The driver --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    kind: Kind
    tenant: int
    id: str


@dataclass
class Tally:
    """What the driver saw, attempt by attempt, and which deliveries were acknowledged."""

    statuses: Counter[int] = field(default_factory=Counter)
    retried: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    acknowledged: set[Delivery] = field(default_factory=set)
    unacknowledged: dict[Delivery, str] = field(default_factory=dict)
    refusals: Counter[str] = field(default_factory=Counter)
    """Reason code and Retry-After of every 5xx answer (``storage_unavailable, Retry-After 30``)."""
    failing_between: tuple[float, float] | None = None
    """Seconds into the run of the first and the last 5xx answer or connection failure."""
    sent: int = 0

    def failed_at(self, seconds: float) -> None:
        first = self.failing_between[0] if self.failing_between else seconds
        self.failing_between = (first, seconds)

    def by_class(self, first_digit: int) -> int:
        return sum(count for status, count in self.statuses.items() if status // 100 == first_digit)


Action = Callable[[], Coroutine[None, None, None]]


class Driver:
    """Sends deliveries at a fixed rate, round-robin over instances and tenants, retrying as Atlassian does."""

    def __init__(self, fleet: Fleet, *, rate: float) -> None:
        self._fleet = fleet
        self._rate = rate
        self.tally = Tally()
        self._next_instance = 0
        self._started = time.perf_counter()

    def _instances_from_next(self) -> Iterator[str]:
        """The next instance in turn, then the one after it if a retry is needed, and so on: each delivery walks
        the instances from its own start (one shared turn for every retry would let retries of several deliveries
        fall on the same dead instance in lockstep)."""
        instances = self._fleet.instances
        start = self._next_instance
        self._next_instance += 1
        for attempt in range(MAX_ATTEMPTS):
            yield instances[(start + attempt) % len(instances)].url

    def request_for(self, delivery: Delivery, base: str) -> httpx.Request:
        tenants = self._fleet.tenants
        if delivery.kind == "connect":
            payload = {"delivery": delivery.id, "issue": {"key": "SIM-1"}}
            signed = tenants.connect[delivery.tenant].webhook_request(ledger.key, "jira:issue_updated", payload)
            # Signed for the public URL; sent to one instance behind it, as a load balancer would.
            url = base + str(signed.url).removeprefix(self._fleet.public_url)
            return httpx.Request("POST", url, headers=signed.headers, content=signed.content)
        installation = tenants.forge[delivery.tenant]
        fit = tenants.forge_site.mint_fit(
            installation, module_type="jira:issuePanel", module_key="pledge-ui", principal="load-user"
        )
        url = f"{base}/apps/{forge_notes.key}/notes"
        body = {"issueKey": "SIM-1", "text": delivery.id}
        return httpx.Request("POST", url, json=body, headers={"authorization": f"Bearer {fit}"})

    async def deliver(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        """Until acknowledged: a fresh token each attempt (Atlassian signs every delivery anew), the next instance."""
        reason = "never sent"
        for base in self._instances_from_next():
            request = self.request_for(delivery, base)
            started = time.perf_counter()
            try:
                response = await client.send(request)
            except httpx.ConnectError:
                self.tally.failed_at(time.perf_counter() - self._started)
                self.tally.retried["connection refused"] += 1
                reason = "connection refused"
                continue
            except httpx.TransportError as exc:
                self.tally.failed_at(time.perf_counter() - self._started)
                self.tally.retried[f"no answer ({type(exc).__name__})"] += 1
                reason = type(exc).__name__
                continue
            elapsed_ms = (time.perf_counter() - started) * 1000
            self.tally.statuses[response.status_code] += 1
            if response.status_code < 300:
                self.tally.latencies_ms.append(elapsed_ms)
                self.tally.acknowledged.add(delivery)
                return
            if response.status_code >= 500:
                self.tally.failed_at(time.perf_counter() - self._started)
                self.tally.refusals[_describe(response)] += 1
            reason = f"{response.status_code} {_describe(response)}"
            if response.status_code not in RETRIED_STATUSES:
                break  # a 4xx Atlassian does not retry: the delivery is refused for good
            self.tally.retried[f"{response.status_code}"] += 1
            await asyncio.sleep(RETRY_PAUSE_SECONDS)
        self.tally.unacknowledged[delivery] = reason

    async def run(self, seconds: float, events: Sequence[tuple[float, str, Action]] = (), title: str = "") -> float:
        """Deliver at the fixed rate for ``seconds``, running each event (``at``, what, action) on time; wait for
        every delivery to end; return the measured duration."""
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
        timeout = httpx.Timeout(REQUEST_TIMEOUT_SECONDS)
        tasks: set[asyncio.Task[None]] = set()
        progress = Progress(TextColumn(title), BarColumn(), TimeElapsedColumn(), TextColumn("{task.description}"))
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
            with progress:
                bar = progress.add_task(self._status(0), total=seconds)
                loop = asyncio.get_running_loop()
                start = loop.time()
                self._started = time.perf_counter()
                pending = sorted(events, key=lambda event: event[0])
                event_tasks: list[asyncio.Task[None]] = []
                sequence = 0
                while (now := loop.time() - start) < seconds:
                    while pending and pending[0][0] <= now:
                        _at, what, action = pending.pop(0)
                        progress.console.log(f"{now:5.1f} s: {what}")
                        event_tasks.append(asyncio.create_task(_logged(action, what, progress, start)))
                    delivery = self.next_delivery(sequence)
                    sequence += 1
                    self.tally.sent += 1
                    task = asyncio.create_task(self.deliver(client, delivery))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    progress.update(bar, completed=now, description=self._status(len(tasks)))
                    await asyncio.sleep(max(0.0, start + sequence / self._rate - loop.time()))
                elapsed = loop.time() - start
                progress.update(bar, completed=seconds, description=self._status(len(tasks)))
                await asyncio.gather(*tasks, *event_tasks)
                progress.update(bar, description=self._status(0))
        return elapsed

    def next_delivery(self, sequence: int) -> Delivery:
        tenants = self._fleet.tenants
        if sequence % 2 == 0:
            return Delivery("connect", (sequence // 2) % len(tenants.connect), f"c-{sequence}")
        return Delivery("forge", (sequence // 2) % len(tenants.forge), f"f-{sequence}")

    def _status(self, in_flight: int) -> str:
        tally = self.tally
        retries = sum(tally.retried.values())
        return (
            f"sent {tally.sent}  2xx {tally.by_class(2)}  4xx {tally.by_class(4)}  5xx {tally.by_class(5)}"
            f"  retries {retries}  in flight {in_flight}"
        )


async def _logged(action: Action, what: str, progress: Progress, start: float) -> None:
    await action()
    progress.console.log(f"{asyncio.get_running_loop().time() - start:5.1f} s: {what}: done")


def _describe(response: httpx.Response) -> str:
    try:
        code = response.json().get("error", "?")
    except ValueError:
        code = "not JSON"
    retry_after = response.headers.get("retry-after")
    return f"{code}, Retry-After {retry_after}" if retry_after else str(code)


# Reading back ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """What every tenant's store holds after the run."""

    deliveries: Counter[Delivery]

    def lost(self, acknowledged: set[Delivery]) -> set[Delivery]:
        return {delivery for delivery in acknowledged if self.deliveries[delivery] == 0}

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.deliveries.values() if count > 1)


def read_back(fleet: Fleet) -> Stored:
    """Every delivery id each tenant's store holds, read as the app reads it (decrypted, tenant by tenant)."""
    with tempfile.TemporaryDirectory(prefix="pledge-readback-") as scratch:
        settings = load_settings(
            data_dir=Path(scratch), database_url=fleet.database_url, keyring_path=fleet.keyring_path
        )
        runtime = Runtime.open(settings)
        try:
            found: Counter[Delivery] = Counter()
            tenants = fleet.tenants
            for index, site in enumerate(tenants.connect):
                tenant = runtime.tenants.by_client_key(ledger.key, site.client_key)
                for value in _all(runtime, ledger, tenant, "deliveries", "delivery"):
                    found[Delivery("connect", index, value)] += 1
            for index, installation in enumerate(tenants.forge):
                tenant = runtime.tenants.by_installation_id(forge_notes.key, installation.installation_id)
                for value in _all(runtime, forge_notes, tenant, "notes", "text"):
                    found[Delivery("forge", index, value)] += 1
            return Stored(found)
        finally:
            runtime.close()


def _all(runtime: Runtime, app: App, tenant: Tenant, collection: str, name: str) -> Iterator[str]:
    store = runtime.store_for(app, tenant)
    after: str | None = None
    while page := store.list(collection, limit=500, after=after):
        yield from (str(record[name]) for record in page)
        after = page[-1].id


# Results -----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    name: str
    seconds: float
    tally: Tally
    lost: int
    duplicates: int

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.tally.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    @property
    def failures(self) -> list[str]:
        """What makes the run fail: a 5xx other than a storage outage's 503, a delivery lost or given up on."""
        problems = []
        unexpected = {s: n for s, n in self.tally.statuses.items() if s >= 500}
        if unexpected:
            problems.append(f"5xx answers: {dict(sorted(unexpected.items()))}")
        if self.lost:
            problems.append(f"{self.lost} acknowledged deliveries are not in the store")
        if self.tally.unacknowledged:
            reasons = Counter(self.tally.unacknowledged.values())
            problems.append(f"{len(self.tally.unacknowledged)} deliveries never acknowledged: {dict(reasons)}")
        return problems


def settle(name: str, driver: Driver, fleet: Fleet, seconds: float) -> Outcome:
    stored = read_back(fleet)
    return Outcome(name, seconds, driver.tally, len(stored.lost(driver.tally.acknowledged)), stored.duplicates)


def print_outcomes(outcomes: Sequence[Outcome]) -> None:
    header = (
        f"{'scenario':<34} {'sent':>6} {'req/s':>6} {'2xx':>6} {'4xx':>4} {'5xx':>4} "
        f"{'retried':>7} {'lost':>4} {'dup':>4} {'p50 ms':>7} {'p99 ms':>7}"
    )
    print(header)
    print("-" * len(header))
    for outcome in outcomes:
        tally = outcome.tally
        print(
            f"{outcome.name:<34} {tally.sent:>6} {tally.sent / outcome.seconds:>6.1f} {tally.by_class(2):>6} "
            f"{tally.by_class(4):>4} {tally.by_class(5):>4} {sum(tally.retried.values()):>7} {outcome.lost:>4} "
            f"{outcome.duplicates:>4} {outcome.percentile_ms(0.5):>7.1f} {outcome.percentile_ms(0.99):>7.1f}"
        )
    for outcome in outcomes:
        if outcome.tally.retried:
            print(f"{outcome.name}: retried after {dict(outcome.tally.retried)}")
        if outcome.tally.failing_between:
            first, last = outcome.tally.failing_between
            print(f"{outcome.name}: failed attempts from {first:.1f} s to {last:.1f} s into the run")
        if outcome.tally.refusals:
            print(f"{outcome.name}: 5xx answers {dict(outcome.tally.refusals)}")
