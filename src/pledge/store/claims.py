"""The store's claims: every app declares the data it keeps, the declarations are enforced, and every record is a
ciphertext of its own site (S2, S4).

The checks read the store's own evidence (:mod:`pledge.store.evidence`): record counts per collection, the
columns of the record table, and a sample of records opened through the vault, taken once per verification run.
The write guard is probed through its pure function (:func:`~pledge.store.tenant_store.checked_values`): the same
code every write runs before anything is encrypted or written, so the probe needs no database and no key.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Engine, inspect

from pledge.errors import PledgeError
from pledge.promises import Claim, Evidence, Section, plural
from pledge.store.data_manifest import Category, Collection, DataManifest, Field
from pledge.store.evidence import DeclaringApp, Opened, SampledRecord, store_evidence
from pledge.store.pii import scan_value
from pledge.store.tables import INDEX_COLUMNS, records_table
from pledge.store.tenant_store import PersonalDataRefused, UndeclaredData, checked_values, declared_collection

SAMPLE_TENANTS = 100
"""At most this many sites per app have their records sampled in one verification."""
SAMPLE_PER_COLLECTION = 10
"""At most this many random records per collection and site are opened in one verification."""


class StoredData(Protocol):
    """The deployment as the store's checks read it."""

    @property
    def engine(self) -> Engine: ...

    @property
    def apps(self) -> Sequence[object]:
        """Every app the deployment serves, Pledge app or not."""
        ...

    @property
    def served_apps(self) -> Sequence[DeclaringApp]: ...

    def sampled_records(self, app: DeclaringApp) -> list[SampledRecord]:
        """At most :data:`SAMPLE_PER_COLLECTION` random records per collection of at most :data:`SAMPLE_TENANTS`
        sites of ``app``, opened through the vault; one sample per verification run, shared by the checks."""
        ...


class DeclaredData(Protocol):
    """What the statement states about the apps' data: their manifests."""

    @property
    def apps(self) -> Sequence[DeclaringApp]: ...

    @property
    def undeclared_apps(self) -> Sequence[str]:
        """Keys of served apps that declare no data manifest."""
        ...


# What S4 allows a store record's row to hold besides its ciphertext: metadata Pledge chose and keyed blind-index
# digests, never a value an app wrote (docs/storage-format.md). A column outside this set would be app data in clear.
RECORD_ROW_COLUMNS = frozenset(
    {"tenant_id", "app_key", "collection", "id", "key_version", "revision", "payload", "created_at", "updated_at"}
) | frozenset(INDEX_COLUMNS)
_RECORD_ROW = (
    f"{records_table.name} has no column besides ids, times, revision, key version, blind-index digests and ciphertext"
)

# Writes the guard must refuse, each with the refusal it must raise: tried against a manifest of one collection.
_PROBE_MANIFEST = DataManifest(
    (Collection("probe", "Written by verification only", (Field("note", Category.CONTENT, "A probe value"),)),)
)
_GUARD_PROBES: tuple[tuple[str, str, dict[str, Any], type[PledgeError]], ...] = (
    ("an undeclared collection", "undeclared", {"note": "probe"}, UndeclaredData),
    ("an undeclared field", "probe", {"undeclared": "probe"}, UndeclaredData),
    ("an e-mail address in a content field", "probe", {"note": "mail probe.person@example.com"}, PersonalDataRefused),
)
_GUARD_REFUSED = (
    "the store's write guard refused "
    + ", ".join(what for what, *_ in _GUARD_PROBES[:-1])
    + f" and {_GUARD_PROBES[-1][0]}"
)


def guard_failures() -> list[str]:
    """The probe writes the store's guard did not refuse as it must (empty when it refused them all)."""
    return [
        f"the store did not refuse {what}"
        for what, collection, values, refusal in _GUARD_PROBES
        if not _refuses(collection, values, refusal)
    ]


def _refuses(collection: str, values: Mapping[str, Any], refusal: type[PledgeError]) -> bool:
    try:
        checked_values(declared_collection(_PROBE_MANIFEST, "pledge-probe", collection), "pledge-probe", values)
    except refusal:
        return True
    except PledgeError:  # refused, but for another reason than the one probed: the probe proves nothing
        return False
    return False


def _sampled(deployment: StoredData) -> list[tuple[DeclaringApp, SampledRecord]]:
    return [(app, record) for app in deployment.served_apps for record in deployment.sampled_records(app)]


def _sample_size(sample: list[tuple[DeclaringApp, SampledRecord]]) -> str:
    sites = len({(app.key, record.tenant_id) for app, record in sample})
    return f"{plural(len(sample), 'sampled record')} of {plural(sites, 'site')}"


def _fields_of(apps: Sequence[DeclaringApp], category: Category | None = None) -> int:
    return sum(
        1
        for app in apps
        for collection in app.data.collections
        for declared in collection.fields
        if category is None or declared.category is category
    )


def check_data_declared(deployment: StoredData, facts: DeclaredData) -> Evidence:
    """Every app the deployment serves is a declaring app, and the statement describes each one."""
    served = {getattr(app, "key", type(app).__name__): app for app in deployment.apps}
    undeclared = sorted(
        str(key) for key, app in served.items() if not isinstance(getattr(app, "data", None), DataManifest)
    )
    if undeclared:
        return Evidence(False, f"served without a data manifest: {', '.join(undeclared)}")
    undescribed = sorted(set(map(str, served)) - {app.key for app in facts.apps})
    if undescribed:
        return Evidence(False, f"served but not described by the statement: {', '.join(undescribed)}")
    if not facts.apps:
        return Evidence(True, "no apps are served")
    collections = sum(len(app.data.collections) for app in facts.apps)
    personal = _fields_of(facts.apps, Category.PERSONAL)
    secret = _fields_of(facts.apps, Category.SECRET)
    return Evidence(
        True,
        f"{plural(len(facts.apps), 'app')}, {plural(collections, 'collection')}, "
        f"{plural(_fields_of(facts.apps), 'field')} declared ({personal} personal data, {secret} secret)",
    )


def check_stored_data_declared(deployment: StoredData, facts: DeclaredData) -> Evidence:
    """The store's guard refuses probe writes; no records in undeclared collections; in a sample of records, no
    undeclared field and no PII outside the fields declared personal data (the same detector as the guard)."""
    guard = guard_failures()
    if guard:
        return Evidence(False, "; ".join(guard))
    apps = deployment.served_apps
    if not apps:
        return Evidence(True, f"{_GUARD_REFUSED}; no apps are served")
    problems = [
        f"{evidence.app_key}: {plural(collection.records, 'record')} in undeclared collection {collection.name}"
        for evidence in store_evidence(deployment.engine, apps)
        for collection in evidence.undeclared
    ]
    sample = _sampled(deployment)
    findings: Counter[str] = Counter()
    unopened = 0
    for app, record in sample:
        if record.opened is not Opened.OPENED:
            unopened += 1
            continue
        declared = app.data.collection(record.collection)
        for name, value in record.values.items():
            declared_field = declared.field(name) if declared is not None else None
            where = f"{app.key}: {record.collection}.{name}"
            if declared_field is None:
                findings[f"{where} is stored but not declared"] += 1
            elif declared_field.category is not Category.PERSONAL:
                finding = scan_value(value)
                if finding is not None:
                    category = declared_field.category.value
                    findings[f"{where} ({category}) holds what looks like personal data ({finding.kind.value})"] += 1
    problems += [f"{finding} in {plural(count, 'sampled record')}" for finding, count in sorted(findings.items())]
    if problems:
        return Evidence(False, "; ".join(problems))
    personal = _fields_of(facts.apps, Category.PERSONAL)
    unread = f"; {unopened} could not be opened (see app-data-encrypted)" if unopened else ""
    return Evidence(
        True,
        f"{_GUARD_REFUSED}; no records in undeclared collections; {_sample_size(sample)}: every stored field "
        f"declared, no personal data outside the {plural(personal, 'field')} declared personal data{unread}",
    )


def check_records_encrypted(deployment: StoredData, facts: object) -> Evidence:
    """The record table has no column beyond ids, times and the ciphertext; each sampled payload opens with its own
    tenant's data key and the associated data of its collection and id."""
    columns = {column["name"] for column in inspect(deployment.engine).get_columns(records_table.name)}
    extra = sorted(columns - RECORD_ROW_COLUMNS)
    if extra:
        return Evidence(False, f"the {records_table.name} table also has the columns: {', '.join(extra)}")
    sample = _sampled(deployment)
    if not sample:
        return Evidence(True, f"{_RECORD_ROW}; no app records are stored")
    invalid: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for app, record in sample:
        where = f"{app.key}/{record.collection}"
        totals[where] += 1
        if record.opened is Opened.INVALID:
            invalid[where] += 1
    if invalid:
        listed = "; ".join(
            f"{where}: {count} of {plural(totals[where], 'sampled record')} not a ciphertext of its own site, "
            "collection and id"
            for where, count in sorted(invalid.items())
        )
        return Evidence(False, listed)
    shredded = sum(1 for _, record in sample if record.opened is Opened.SHREDDED)
    destroyed = f"; {plural(shredded, 'record')} of crypto-shredded sites unreadable" if shredded else ""
    return Evidence(
        True,
        f"{_RECORD_ROW}; {_sample_size(sample)}: each opened under its own site's data key, bound to its collection "
        f"and id{destroyed}",
    )


DATA_DECLARED: Claim[StoredData, DeclaredData] = Claim(
    "data-declared",
    "S2",
    Section.STORAGE,
    "Each app declares every collection and field it stores, with its category (configuration, content, "
    "personal data, secret), purpose and retention; the app sections below are generated from those "
    "declarations. An app section that lists no personal data is its app's declaration that it stores none: "
    "the store can detect only the kinds of personal data named in the next point.",
    check_data_declared,
)
UNDECLARED_DATA_REFUSED: Claim[StoredData, DeclaredData] = Claim(
    "undeclared-data-refused",
    "S2",
    Section.STORAGE,
    "Those declarations are enforced: the store refuses to write a collection or field its app does not "
    "declare, and refuses any value that looks like personal data (an e-mail address, phone number, payment "
    "card number, IBAN or Atlassian account ID) in a field not declared as personal data. Names, postal "
    "addresses, IP addresses and other personal data are not detected. Each verification "
    "finds no records in an undeclared collection and opens a random sample of stored records (up to "
    f"{SAMPLE_PER_COLLECTION} per collection for each of up to {SAMPLE_TENANTS} sites per app) to find no "
    "undeclared field and no such value outside the fields declared personal data.",
    check_stored_data_declared,
)
APP_DATA_ENCRYPTED: Claim[StoredData, object] = Claim(
    "app-data-encrypted",
    "S4",
    Section.SECURITY,
    "Every app record is stored as one AES-256-GCM ciphertext under your site's own data key: the field "
    "names are sealed inside it with the values, and it is bound to your site, the app's collection, the "
    "record and the key version, so it cannot be read with another site's key or moved to another record. "
    "Besides the ciphertext, a record's row holds only its ids, collection name, times, revision, key "
    "version and, for fields the app marks as searchable, keyed digests (HMAC-SHA256 under a key derived from "
    "your site's data key) that match equal values without revealing them.",
    check_records_encrypted,
)

CLAIMS: tuple[Claim[StoredData, DeclaredData], ...] = (DATA_DECLARED, UNDECLARED_DATA_REFUSED, APP_DATA_ENCRYPTED)
"""The store's claims; :mod:`pledge.statement.claims` places them in the statement."""
