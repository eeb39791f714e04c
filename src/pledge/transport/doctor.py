"""``pledge doctor URL``: a running deployment's transport, checked from outside as a browser or Atlassian meets it.

Each check asks the served address itself (never the settings): plain HTTP must be refused or redirected to
HTTPS, also when the request claims ``X-Forwarded-Proto: https``; TLS 1.0 and 1.1 must fail and TLS 1.2 work; the
certificate must verify for the host; HSTS must last a year or more; the security headers must be there; no
redirect may repeat a ``jwt`` query parameter; every cookie must be Secure, HttpOnly and SameSite. Each result is
one line a person can act on. The probes carry no data.
"""

from __future__ import annotations

import re
import socket
import ssl
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import httpx

from pledge.transport.https import MINIMUM_HSTS_SECONDS

PROBE_SECONDS: Final = 3.0
PROBE_TOKEN: Final = "pledge-doctor-probe"  # noqa: S105 (a marker, not a secret)
"""Sent as a page load's ``jwt`` to see whether a redirect repeats it; not a token anything would accept."""
EXPIRY_WARNING_DAYS: Final = 14
_MAX_AGE = re.compile(r"(?:^|;)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:;|$)", re.IGNORECASE)


@dataclass(frozen=True)
class Check:
    """One check's outcome: its name, whether it passed, and one line saying what was seen."""

    name: str
    passed: bool
    explanation: str

    def line(self) -> str:
        return f"{'pass' if self.passed else 'FAIL'}  {self.name}: {self.explanation}"


@dataclass(frozen=True)
class Target:
    """Where the deployment answers: its https URL, the port plain HTTP is tried on, and whom to trust for TLS."""

    url: str
    plain_port: int
    ca_file: str | None = None

    @classmethod
    def of(cls, url: str, *, plain_port: int | None = None, ca_file: str | None = None) -> Target:
        """The target of ``url``: plain HTTP on its own port when it names one (one port serving both is then
        checked), else on port 80."""
        parts = urlsplit(url.rstrip("/"))
        return cls(url.rstrip("/"), plain_port or parts.port or 80, ca_file)

    @property
    def hostname(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def tls_port(self) -> int:
        return urlsplit(self.url).port or 443

    def plain_url(self, path: str) -> str:
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return f"http://{host}:{self.plain_port}{path}"

    def verified_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


def diagnose(target: Target) -> list[Check]:
    """Every check against ``target``, in the order they are printed. Runs blocking probes: call it in a thread
    from async code."""
    if urlsplit(target.url).scheme != "https" or not target.hostname:
        return [Check("https", False, f"{target.url} is not an https:// address: nothing to check over TLS")]
    checks = [check_plain_http(target), check_forwarded_header(target), check_tls_versions(target)]
    certificate = check_certificate(target)
    checks.append(certificate)
    if not certificate.passed:
        return checks  # what follows needs a TLS connection the client trusts
    with httpx.Client(verify=target.verified_context(), timeout=PROBE_SECONDS, trust_env=False) as client:
        try:
            front = client.get(target.url + "/", headers={"Accept": "text/html"})
            slash = client.get(target.url + f"/healthz/?jwt={PROBE_TOKEN}", headers={"Accept": "text/html"})
        except httpx.HTTPError as exc:
            return [*checks, Check("https", False, f"HTTPS to {target.url}/ failed: {_reason(exc)}")]
    checks += [
        check_hsts(front),
        check_headers(front),
        check_redirect(target, slash),
        check_cookies([front, slash]),
    ]
    return checks


def check_plain_http(target: Target) -> Check:
    url = target.plain_url("/")
    answer = _plain(url, {"Accept": "text/html"})
    api = _plain(url, {"Accept": "application/json"})
    for said in (answer, api):
        if said is not None:
            return Check("plain-http", False, f"plain HTTP to {url} answered {said}: it must be refused or redirected")
    return Check("plain-http", True, f"plain HTTP to {url} is refused or redirected to https")


def check_forwarded_header(target: Target) -> Check:
    url = target.plain_url("/")
    said = _plain(url, {"Accept": "application/json", "X-Forwarded-Proto": "https"})
    if said is not None:
        return Check(
            "forwarded-proto",
            False,
            f"plain HTTP to {url} claiming X-Forwarded-Proto: https answered {said}: the header is believed from "
            "any peer (set PLEDGE_TRUSTED_PROXIES to the proxies' addresses only)",
        )
    return Check("forwarded-proto", True, "X-Forwarded-Proto: https from this client is not believed")


def check_tls_versions(target: Target) -> Check:
    outcomes = {version: _handshake(target, version) for version in _VERSIONS}
    offered = [name for version, name in _VERSIONS.items() if outcomes[version] is None]
    old = [name for name in ("TLS 1.0", "TLS 1.1") if name in offered]
    if old:
        return Check("tls-versions", False, f"{' and '.join(old)} accepted: the server must refuse versions below 1.2")
    if "TLS 1.2" not in offered:
        return Check("tls-versions", False, f"TLS 1.2 handshake failed: {outcomes[ssl.TLSVersion.TLSv1_2]}")
    return Check("tls-versions", True, f"offers {', '.join(offered)}; refuses TLS 1.0 and 1.1")


def check_certificate(target: Target) -> Check:
    try:
        with (
            socket.create_connection((target.hostname, target.tls_port), timeout=PROBE_SECONDS) as raw,
            target.verified_context().wrap_socket(raw, server_hostname=target.hostname) as tls,
        ):
            certificate = tls.getpeercert()
    except ssl.SSLCertVerificationError as exc:
        return Check("certificate", False, f"does not verify for {target.hostname}: {exc.verify_message}")
    except (OSError, ssl.SSLError) as exc:
        return Check("certificate", False, f"no TLS at {target.hostname}:{target.tls_port}: {_reason(exc)}")
    if not certificate:
        return Check("certificate", False, "the server sent no certificate")
    expires = ssl.cert_time_to_seconds(str(certificate["notAfter"]))
    days = int((expires - time.time()) // 86_400)
    if days < EXPIRY_WARNING_DAYS:
        return Check("certificate", False, f"expires in {days} days: renew it")
    return Check("certificate", True, f"verifies for {target.hostname}, expires in {days} days")


def check_hsts(response: httpx.Response) -> Check:
    value = response.headers.get("strict-transport-security")
    if value is None:
        return Check("hsts", False, "no Strict-Transport-Security header: browsers may try plain HTTP first")
    found = _MAX_AGE.search(value)
    max_age = int(found.group(1)) if found else 0
    if max_age < MINIMUM_HSTS_SECONDS:
        return Check("hsts", False, f"max-age={max_age} is under a year ({MINIMUM_HSTS_SECONDS} s)")
    if "includesubdomains" not in value.lower().replace(" ", ""):
        return Check("hsts", False, "Strict-Transport-Security lacks includeSubDomains")
    return Check("hsts", True, f"Strict-Transport-Security max-age={max_age}; includeSubDomains")


def check_headers(response: httpx.Response) -> Check:
    headers = response.headers
    csp = headers.get("content-security-policy", "")
    missing = [
        wanted
        for wanted, present in (
            ("X-Content-Type-Options: nosniff", headers.get("x-content-type-options", "").lower() == "nosniff"),
            ("Referrer-Policy: no-referrer", headers.get("referrer-policy", "").lower() == "no-referrer"),
            ("Content-Security-Policy frame-ancestors", "frame-ancestors" in csp),
        )
        if not present
    ]
    if missing:
        return Check("headers", False, f"missing {', '.join(missing)}")
    return Check("headers", True, "nosniff, no-referrer and frame-ancestors are set")


def check_redirect(target: Target, *responses: httpx.Response) -> Check:
    plain = _plain_response(target.plain_url(f"/?jwt={PROBE_TOKEN}"))
    for response in (*responses, *([plain] if plain is not None else [])):
        if PROBE_TOKEN in response.headers.get("location", ""):
            return Check("redirects", False, f"a redirect from {response.url.path} repeats the jwt query parameter")
    return Check("redirects", True, "no redirect repeats a jwt query parameter")


def check_cookies(responses: Iterable[httpx.Response]) -> Check:
    for response in responses:
        for cookie in response.headers.get_list("set-cookie"):
            name = cookie.split("=", 1)[0].strip()
            attributes = {part.split("=", 1)[0].strip().lower() for part in cookie.split(";")[1:]}
            lacking = [flag for flag in ("Secure", "HttpOnly", "SameSite") if flag.lower() not in attributes]
            if lacking:
                return Check("cookies", False, f"cookie {name!r} lacks {', '.join(lacking)}")
    return Check("cookies", True, "every cookie set is Secure, HttpOnly and SameSite (or none is set)")


def _plain(url: str, headers: dict[str, str]) -> str | None:
    """What plain HTTP to ``url`` got that it must not (e.g. ``200``); None when refused (a 4xx, no connection, no
    HTTP) or redirected to https."""
    response = _plain_response(url, headers)
    if response is None or 400 <= response.status_code < 500:
        return None
    if response.is_redirect and response.headers.get("location", "").startswith("https://"):
        return None
    return str(response.status_code)


def _plain_response(url: str, headers: dict[str, str] | None = None) -> httpx.Response | None:
    try:
        return httpx.get(url, headers=headers, timeout=PROBE_SECONDS, follow_redirects=False, trust_env=False)
    except httpx.HTTPError:
        return None


_VERSIONS: Final = {
    ssl.TLSVersion.TLSv1: "TLS 1.0",
    ssl.TLSVersion.TLSv1_1: "TLS 1.1",
    ssl.TLSVersion.TLSv1_2: "TLS 1.2",
    ssl.TLSVersion.TLSv1_3: "TLS 1.3",
}


def _handshake(target: Target, version: ssl.TLSVersion) -> str | None:
    """Why a handshake offering only ``version`` failed; None when the server took it. The certificate is not
    checked here (its own check does), and this client offers even the old versions the server must refuse."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # naming TLS 1.0/1.1 is the point
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_ciphers("ALL:@SECLEVEL=0")
        context.minimum_version = context.maximum_version = version
    try:
        with (
            socket.create_connection((target.hostname, target.tls_port), timeout=PROBE_SECONDS) as raw,
            context.wrap_socket(raw, server_hostname=target.hostname),
        ):
            return None
    except (OSError, ssl.SSLError) as exc:
        return _reason(exc)


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(reason).split())
