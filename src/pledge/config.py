"""Settings: environment (``PLEDGE_*``) and an optional TOML file, checked before anything starts.

S1 (we host in one region) starts here: the region is a setting the statement quotes and verification reads.
"""

from __future__ import annotations

import importlib
import ipaddress
import os
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from pledge.errors import ConfigurationError
from pledge.regions import provider_code, provider_name, region_of

ENV_PREFIX = "PLEDGE_"
CONFIG_VARIABLE = "PLEDGE_CONFIG"
# Variables of the same prefix that are not settings: the config file's path, and the test suite's own.
_NOT_SETTINGS = re.compile(r"PLEDGE_(CONFIG|TEST_\w+|BENCH_\w+)")  # not settings: the tests' and benchmarks' own
_DOMAIN = re.compile(r"(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}|[a-z]+(-[a-z]+)+\d{1,2}|[a-z]{6,24}\d?")
"""AWS (us-west-2), Google Cloud (us-west1) and Azure (westus2) region codes."""
MINIMUM_RETENTION_DAYS = 30
MAX_WORKERS = 64
MAXIMUM_BACKUP_PERIOD_HOURS = 24
MINIMUM_DELETION_GRACE_DAYS = 30
# A URL's userinfo up to the last "@" before a space (a password may hold an unencoded "@", "/" or quote), and
# password=… pairs: whatever echoes a setting or a driver's message masks these first.
_URL_PASSWORD = re.compile(r"(?P<head>://[^:/@\s]*:)\S*@")
_KEY_VALUE_PASSWORD = re.compile(r"(?P<head>password\s*[=:]\s*)[^\s&,;]+", re.IGNORECASE)


class Settings(BaseSettings):
    """Everything an operator can set. Defaults make ``pledge serve`` work on a fresh machine."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)
    toml_file: ClassVar[Path | None] = None

    data_dir: Path = Field(
        default=Path("pledge-data"), description="Where the embedded database, keyring and backups live."
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite in the data dir. PostgreSQL: postgresql+psycopg://…"
    )
    host: str = Field(default="127.0.0.1", description="Address `pledge serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `pledge serve` binds to.")
    base_url: str | None = Field(default=None, description="Public URL of this server; default http://HOST:PORT.")
    dev_mode: bool = Field(default=True, description="Development mode: plain HTTP, allowed on loopback only.")
    # HTTPS (docs/deployment.md#tls-and-proxies)
    tls_cert_file: Path | None = Field(
        default=None, description="PEM certificate chain: `pledge serve` then terminates TLS itself (TLS 1.2 or later)."
    )
    tls_key_file: Path | None = Field(default=None, description="PEM private key of TLS_CERT_FILE.")
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated addresses or networks (CIDR) of reverse proxies whose `X-Forwarded-Proto: "
        "https` is believed; from any other peer the header is ignored.",
    )
    hsts_max_age: int = Field(
        default=63_072_000,
        ge=0,
        description="Strict-Transport-Security max-age in seconds; under 31536000 (a year) fails the HTTPS claim.",
    )
    region: str = Field(default="us-east-1", description="Hosting region the statement promises (S1).")
    apps: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Apps to serve: comma-separated `module:attribute` import paths."
    )
    sub_processors: str | None = Field(
        default=None,
        pattern=r"^[\w.]+:[\w.]+$",
        description="The service's own sub-processors: `module:attribute` of a tuple of SubProcessor (docs/egress.md).",
    )
    tenant_domains: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("atlassian.net", "jira.com"),
        description="Domains a site's base URL must be under (comma-separated); development mode adds loopback.",
    )
    egress_guard: Literal["strict", "off"] = Field(
        default="strict",
        description="strict: `pledge serve` refuses any connection, by any code, to an undeclared destination (S13).",
    )
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$", description="Log level.")
    keyring_path: Path | None = Field(
        default=None, description="Key-encryption keyring file; default: in the data dir."
    )
    backup_target: str | None = Field(
        default=None, description="file:///path or s3://bucket/prefix; default: data dir."
    )
    backup_retention_days: int = Field(default=30, ge=1, description="How long backups are kept (S5).")
    backup_keep_weekly: int = Field(
        default=0, ge=0, le=520, description="Also keep the newest backup of each of the last N weeks (0: none)."
    )
    backup_keep_monthly: int = Field(
        default=0, ge=0, le=240, description="Also keep the newest backup of each of the last N months (0: none)."
    )
    # S3-compatible backup storage (docs/backup-s3.md)
    backup_s3_endpoint_url: str | None = Field(
        default=None,
        description="S3-compatible server, e.g. https://minio.example:9000; default: AWS S3 in BACKUP_S3_REGION.",
    )
    backup_s3_region: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,31}$", description="The bucket's region; default: REGION (S1)."
    )
    backup_s3_path_style: bool = Field(
        default=False,
        description="Address the bucket in the path (host/bucket/key), as most S3-compatible servers need.",
    )
    backup_s3_access_key_id: SecretStr | None = Field(
        default=None, description="Access key id; unset: boto3's own chain (AWS_* variables, ~/.aws, instance role)."
    )
    backup_s3_secret_access_key: SecretStr | None = Field(
        default=None, description="Secret access key, set together with BACKUP_S3_ACCESS_KEY_ID."
    )
    backup_s3_require_object_lock: bool = Field(
        default=False, description="Refuse a bucket without S3 Object Lock (objects then deletable before retention)."
    )
    backup_period_hours: float = Field(
        default=24, gt=0, description="How often a backup is made, in hours: at most 24 (S5 promises daily)."
    )
    deletion_grace_days: int = Field(default=30, description="Days data is kept after uninstall (S7).")
    connect_install_keys_url: str = Field(
        default="https://connect-install-keys.atlassian.com", description="Connect signed-install key server."
    )
    forge_jwks_url: str = Field(
        default="https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json", description="Forge FIT JWKS."
    )
    forge_staging_jwks_url: str | None = Field(
        default=None,
        description="Forge staging JWKS (https://forge.cdn.stg.atlassian-dev.net/.well-known/jwks.json) for FITs of "
        "api.stg.atlassian.com installations; unset: those are refused.",
    )
    atlassian_api_url: str = Field(default="https://api.atlassian.com", description="Atlassian platform API.")
    forge_region: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{2,8}$",
        description="Forge data residency realm this deployment serves (US, EU, AU, …); default derived from region.",
    )
    forge_peers: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="The other regional deployments: comma-separated REALM=URL, e.g. EU=https://eu.example.com.",
    )
    forge_transfer_key: SecretStr | None = Field(
        default=None, description="Base64 32-byte key shared by regional deployments to seal realm migrations."
    )
    # Scheduled jobs (docs/jobs.md)
    jobs_enabled: bool = Field(
        default=True, description="Run scheduled jobs in `pledge serve` (each runs once across instances)."
    )
    jobs_tick_seconds: float = Field(
        default=5.0, gt=0, le=3600, description="How often `pledge serve` checks which jobs are due."
    )
    # Several instances (docs/operations.md)
    workers: int = Field(
        default=1, description="Worker processes of `pledge serve` (1 to 64), each serving on the one port."
    )
    tenant_changes_poll_seconds: float = Field(
        default=0.5,
        gt=0,
        le=1.0,
        description="How often each process looks for tenant changes other instances made: uninstall, disable and "
        "secret rotation are honoured everywhere within this plus one query.",
    )

    # Hosting facts the statement declares (docs/statement.md): who hosts the service, the region's name, and where
    # the database may answer from; verification checks them against the live database connection.
    hosting_provider: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 .,&()'-]{1,79}$",
        description="Who hosts this deployment: aws, gcp, azure, or the provider's name; the statement names it.",
    )
    region_name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 .,()'/-]{1,79}$",
        description="The region's name for readers, e.g. US West (Oregon); default from the known AWS, Google Cloud "
        "and Azure regions; required for any other region.",
    )
    database_networks: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated addresses or networks (CIDR) the PostgreSQL server may answer from, e.g. "
        "10.0.0.0/16; unset: the database must run on this host.",
    )

    @field_validator("database_networks", "trusted_proxies", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("database_networks", "trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not an address or network such as 10.0.0.0/16") from None
        return value

    @model_validator(mode="after")
    def _hosting_is_named(self) -> Settings:
        known = region_of(self.region)
        provider = provider_code(self.hosting_provider)
        if known is not None and provider is not None and known.provider != provider:
            raise ValueError(
                f"{ENV_PREFIX}REGION={self.region!r} is not a region of {self.hosting_provider}: check "
                f"{ENV_PREFIX}HOSTING_PROVIDER"
            )
        if known is None and self.region_name is None:
            raise ValueError(
                f"{ENV_PREFIX}REGION={self.region!r} is not a region Pledge can name: set {ENV_PREFIX}REGION_NAME "
                "to its name for readers (e.g. Frankfurt)"
            )
        return self

    @property
    def resolved_region_name(self) -> str:
        """The region's name for readers: the setting, else the provider's own name for it."""
        known = region_of(self.region)
        return self.region_name or (known.name if known is not None else self.region)

    @property
    def hosting_provider_name(self) -> str | None:
        """The provider's name as the statement prints it (a known code expanded), None when not declared."""
        return provider_name(self.hosting_provider)

    # Many tenants (docs/connect.md: memory per cached tenant)
    tenant_cache_size: int = Field(
        default=20_000,
        ge=1,
        description="Connect tenants (with their secrets) kept in memory: at least the active ones.",
    )
    tenant_cache_ttl_seconds: float = Field(
        default=300.0,
        ge=0,
        le=3600,
        description="How long a cached tenant is kept before it is read again: other instances' changes reach it "
        "within the tenant changes poll, so this only bounds what an unnumbered change (an import) waits for.",
    )
    tenant_preload: bool = Field(
        default=True,
        description="Load every active Connect tenant (as many as the tenant cache holds) into memory before the "
        "server starts serving, so a restart does not make each site's first request read the database.",
    )
    key_cache_size: int = Field(
        default=20_000, ge=1, description="Unwrapped tenant data keys kept in memory: at least the active tenants."
    )
    database_pool_size: int = Field(
        default=10, ge=1, le=1000, description="Database connections kept open per process (PostgreSQL, SQLite)."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
        if cls.toml_file is not None:
            sources += (TomlConfigSettingsSource(settings_cls, toml_file=cls.toml_file),)
        return sources

    @field_validator("apps", mode="before")
    @classmethod
    def _split_apps(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("tenant_domains", mode="before")
    @classmethod
    def _split_domains(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip().lower() for part in value.split(",") if part.strip())
        return value

    @field_validator("tenant_domains")
    @classmethod
    def _domain_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for domain in value:
            if not _DOMAIN.fullmatch(domain):
                raise ValueError(f"{domain!r} is not a domain name with at least two labels")
        return value

    @field_validator("apps")
    @classmethod
    def _import_paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for path in value:
            if not re.fullmatch(r"[\w.]+:[\w.]+", path):
                raise ValueError(f"{path!r} is not a `module:attribute` import path")
        return value

    @field_validator("forge_peers", mode="before")
    @classmethod
    def _split_peers(cls, value: object) -> object:
        if isinstance(value, str):
            pairs = [part.strip().partition("=") for part in value.split(",") if part.strip()]
            return {realm.strip(): url.strip().rstrip("/") for realm, _, url in pairs}
        return value

    @field_validator("forge_peers")
    @classmethod
    def _peer_urls(cls, value: dict[str, str]) -> dict[str, str]:
        for realm, url in value.items():
            parts = urlsplit(url)
            if not re.fullmatch(r"[A-Z]{2,8}", realm) or parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"{realm}={url!r} is not REALM=http(s)://host, e.g. EU=https://eu.example.com")
        return value

    @field_validator("workers")
    @classmethod
    def _worker_count(cls, value: int) -> int:
        if not 1 <= value <= MAX_WORKERS:
            raise ValueError(f"must be 1 to {MAX_WORKERS} worker processes (about one per CPU core)")
        return value

    @field_validator("region")
    @classmethod
    def _region_shape(cls, value: str) -> str:
        if not _REGION.fullmatch(value):
            raise ValueError("must be a cloud region name such as us-east-1, us-west1 or westus2")
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("sqlite://", "sqlite+pysqlite://", "postgresql+psycopg://")):
            raise ValueError("must start with sqlite:// or postgresql+psycopg://")
        try:
            make_url(value)
        except (ArgumentError, ValueError):
            # SQLAlchemy's own message quotes the whole URL, password included.
            raise ValueError(
                "is not a database URL SQLAlchemy can read, e.g. postgresql+psycopg://user@host:5432/db"
            ) from None
        return value

    @field_validator("backup_retention_days")
    @classmethod
    def _retention_keeps_promise(cls, value: int) -> int:
        if value < MINIMUM_RETENTION_DAYS:
            raise ValueError(
                f"must be at least {MINIMUM_RETENTION_DAYS}: the statement promises "
                '"we back up at least daily and keep backups at least a month"'
            )
        return value

    @field_validator("backup_period_hours")
    @classmethod
    def _period_keeps_promise(cls, value: float) -> float:
        if value > MAXIMUM_BACKUP_PERIOD_HOURS:
            raise ValueError(
                f"must be at most {MAXIMUM_BACKUP_PERIOD_HOURS}: the statement promises "
                '"we back up at least daily and keep backups at least a month"'
            )
        return value

    @field_validator("deletion_grace_days")
    @classmethod
    def _grace_keeps_promise(cls, value: int) -> int:
        if value < MINIMUM_DELETION_GRACE_DAYS:
            raise ValueError(
                f"must be at least {MINIMUM_DELETION_GRACE_DAYS}: the statement promises an uninstalled site's data "
                "is kept 30 days before it is deleted"
            )
        return value

    @field_validator("connect_install_keys_url", "forge_jwks_url", "forge_staging_jwks_url", "atlassian_api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("backup_s3_endpoint_url")
    @classmethod
    def _s3_endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.username
            or parts.path.strip("/")
            or parts.query
        ):
            raise ValueError("must be http(s)://host[:port], without a path, query or credentials")
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise ValueError("must be https, except on loopback (S12)")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _s3_credentials_paired(self) -> Settings:
        if (self.backup_s3_access_key_id is None) != (self.backup_s3_secret_access_key is None):
            raise ValueError(
                f"{ENV_PREFIX}BACKUP_S3_ACCESS_KEY_ID and {ENV_PREFIX}BACKUP_S3_SECRET_ACCESS_KEY are set together "
                "or not at all (then boto3 finds credentials itself)"
            )
        return self

    @model_validator(mode="after")
    def _transport_is_safe(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError(
                f"{ENV_PREFIX}TLS_CERT_FILE and {ENV_PREFIX}TLS_KEY_FILE are set together or not at all (S12)"
            )
        if self.dev_mode and not is_loopback(self.host):
            raise ValueError(
                f"{ENV_PREFIX}HOST={self.host!r}: development mode serves plain HTTP on loopback only (S12)"
            )
        if not self.dev_mode and not self.public_url.startswith("https://"):
            raise ValueError(
                f"{ENV_PREFIX}BASE_URL={self.public_url!r}: outside development mode the base URL must be https (S12)"
            )
        return self

    @property
    def public_url(self) -> str:
        scheme = "http" if self.tls_cert_file is None else "https"
        return (self.base_url or f"{scheme}://{self.host}:{self.port}").rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'pledge.db').resolve()}"

    @property
    def resolved_keyring_path(self) -> Path:
        return self.keyring_path or self.data_dir / "keyring.json"

    @property
    def resolved_forge_region(self) -> str:
        """The Forge realm of this deployment: the setting, else the realm that contains ``region``."""
        if self.forge_region is not None:
            return self.forge_region
        realm = _FORGE_REALMS.get(self.region) or _FORGE_REALMS.get(self.region.split("-", 1)[0])
        if realm is None:
            raise ConfigurationError(
                f"{ENV_PREFIX}REGION={self.region!r} is in no Forge realm Pledge knows: set {ENV_PREFIX}FORGE_REGION"
            )
        return realm


# Atlassian's data residency realms by AWS region (exact region first, then its prefix).
_FORGE_REALMS = {
    "us": "US",
    "eu": "EU",
    "eu-central-2": "CH",
    "eu-west-2": "GB",
    "ap-southeast-1": "SG",
    "ap-southeast-2": "AU",
    "ap-south-1": "IN",
    "ap-northeast-1": "JP",
    "ap-northeast-2": "KR",
    "ca": "CA",
}


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (``[::1]`` and a zone suffix allowed)."""
    name = host.strip().rstrip(".").lower().removeprefix("[").removesuffix("]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def under_domain(host: str, domains: Iterable[str]) -> bool:
    """``host`` is a name under one of ``domains`` (a label boundary: ``evilatlassian.net`` is not under
    ``atlassian.net``, and neither is ``atlassian.net`` itself, which is no site)."""
    name = host.strip().rstrip(".").lower()
    return any(name.endswith("." + domain) for domain in domains)


def import_object(path: str, setting: str) -> Any:
    """The object a ``module:attribute`` setting names, found from the working directory too (as uvicorn finds
    apps); :class:`ConfigurationError` naming the setting when it cannot be imported."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module_name, _, attribute = path.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"invalid setting {setting}={path!r}: cannot import it ({exc})") from None
    return found


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings from the environment and ``config_file``; raise ConfigurationError naming the bad setting.

    The error is one line and never shows a password: values are echoed with :func:`mask_passwords`, and a
    secret setting's value not at all.
    """
    if config_file is not None:
        read_config_file(config_file)
    for variable in unknown_variables(os.environ):
        raise ConfigurationError(f"unknown setting {variable}: see `pledge config` for the settings there are")
    settings_cls = type("FileSettings", (Settings,), {"toml_file": config_file}) if config_file else Settings
    try:
        settings: Settings = settings_cls(**overrides)
        return settings
    except ValidationError as exc:
        raise ConfigurationError(one_line(mask_passwords(_one_line(exc)))) from None
    except SettingsError as exc:
        raise ConfigurationError(one_line(mask_passwords(f"invalid settings: {exc}"))) from None


def read_config_file(config_file: Path) -> dict[str, Any]:
    """The TOML file's table, or ConfigurationError in one line (where it is malformed, never its content)."""
    if not config_file.is_file():
        raise ConfigurationError(f"config file {config_file} does not exist")
    try:
        with config_file.open("rb") as file:
            return tomllib.load(file)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {config_file} is not valid TOML: {one_line(str(exc))}") from None
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"config file {config_file} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigurationError(f"config file {config_file} cannot be read: {exc.strerror}") from None


def mask_passwords(text: str) -> str:
    """``text`` with the password of any URL in it, and any ``password=…``, replaced by ``***``."""
    return _KEY_VALUE_PASSWORD.sub(r"\g<head>***", _URL_PASSWORD.sub(r"\g<head>***@", text))


def one_line(text: str) -> str:
    """``text`` on one line, as every refusal is shown."""
    return " ".join(text.split("\n")).replace("\r", " ")


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """``PLEDGE_*`` variables that name no setting: a typo would otherwise be silently ignored."""
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    return sorted(
        name
        for name in environ
        if name.upper().startswith(ENV_PREFIX)
        and name.upper() not in known
        and not _NOT_SETTINGS.fullmatch(name.upper())
    )


def _one_line(exc: ValidationError) -> str:
    error = exc.errors()[0]
    name = ".".join(str(part) for part in error["loc"]) or "settings"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"unknown setting {name!r}: see `pledge config` for the settings there are"
    if not error["loc"]:
        return f"invalid setting {message}"
    field = Settings.model_fields.get(str(error["loc"][0]))
    if field is not None and field.annotation in (SecretStr, SecretStr | None):
        return f"invalid setting {ENV_PREFIX}{name.upper()}: {message}"
    value = error.get("input")
    return f"invalid setting {ENV_PREFIX}{name.upper()}={value!r}: {message}"
