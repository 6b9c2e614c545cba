"""The one settings object of Convoy Ops.

Every value can be set from the environment with the ``CONVOY_`` prefix (``CONVOY_DATABASE_URL``,
``CONVOY_TIMEZONE`` …) or from a ``.env`` file in the working directory.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.errors import ConfigurationError
from config.rules import Rules, load_rules

CONFIG_DIR = Path(__file__).resolve().parent
DATA_DIR = CONFIG_DIR / "data"


def _login_name() -> str:
    """The OS login name (the default CLI operator); 'operator' when the system has none."""
    try:
        return getpass.getuser() or "operator"
    except (KeyError, OSError):  # a container user with no passwd entry and no $USER
        return os.environ.get("USER") or "operator"


def _own_address() -> str:
    """This machine's address on its network (no packet is sent), or 127.0.0.1 when it has none."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # UDP connect only picks the outgoing interface
            return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"


class Settings(BaseSettings):
    """Runtime configuration. Defaults are the embedded ones: SQLite under ``var/``, offline."""

    model_config = SettingsConfigDict(
        env_prefix="CONVOY_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    var_dir: Path = Field(default=Path("var"), description="Working folder for data and state.")
    database_url: str = Field(
        default="",
        repr=False,  # may hold a password: never in a printed settings object
        description="SQLAlchemy URL; empty means a SQLite file under var_dir.",
    )
    timezone: str = Field(default="Asia/Shanghai", description="Display and input time zone.")
    locale: Literal["zh-CN", "en"] = "zh-CN"
    output_dir: Path = Field(
        default=Path(""), description="Maps, reports, error files; empty means var_dir/output."
    )
    rules_file: Path = Field(
        default=CONFIG_DIR / "rules.toml", description="The rule file (config/rules.py)."
    )
    gazetteer_file: Path = Field(default=DATA_DIR / "gazetteer.csv")
    places_file: Path = Field(default=DATA_DIR / "places.csv")

    # Geocoding: offline gazetteer by default; an online service is an optional plug-in.
    geocoder: Literal["offline", "nominatim", "photon"] = "offline"
    geocoder_domain: str = Field(default="", description="Self-hosted Nominatim/Photon host.")
    geocoder_scheme: Literal["http", "https"] = "https"
    geocoder_min_delay_seconds: float = 1.0

    # Waiting for people: how often a flow stage polls for an escort check-in.
    checkin_poll_seconds: float = 2.0

    # Notifications (Apprise URLs) per role, e.g. {"coordinator": ["mailto://…"]}.
    notify_roles: dict[str, list[str]] = Field(default_factory=dict)

    # Maps: empty tile URL means the embedded boundary basemap (offline).
    tile_url: str = ""
    tile_crs: Literal["wgs84", "gcj02"] = "wgs84"
    tile_attribution: str = ""
    chromium: str = Field(
        default="",
        description="Chromium used to render map PNGs; empty: chromium/chrome on the PATH.",
    )

    # -- tracking and alerts (issue 4)
    monitor_interval_minutes: float = Field(
        default=2.0, gt=0, description="How often the delay monitor checks every active convoy."
    )
    monitor_misfire_grace_seconds: int = Field(
        default=60, ge=1, description="A check this late is still run (once: runs coalesce)."
    )
    outbox_poll_seconds: float = Field(
        default=15.0, gt=0, description="How often queued notifications are delivered."
    )
    outbox_backoff_seconds: float = Field(
        default=30.0, gt=0, description="First retry delay of a failed notification; doubles."
    )
    outbox_backoff_max_seconds: float = Field(default=1800.0, gt=0)
    outbox_max_attempts: int = Field(
        default=0, ge=0, description="Give up after this many attempts; 0 keeps trying."
    )
    alert_escalate_after_minutes: float = Field(
        default=15.0, gt=0, description="Escalate an alert nobody acknowledged in this time."
    )
    alert_max_escalations: int = Field(default=1, ge=0)
    alert_snooze_minutes: float = Field(default=30.0, gt=0)
    alert_roles: list[str] = Field(
        default_factory=lambda: ["duty"],
        description="Roles (keys of notify_roles) told of every new alert, besides the escorts.",
    )
    escalation_roles: list[str] = Field(default_factory=lambda: ["coordinator"])
    prefect_events: bool = Field(
        default=True, description="Emit alerts as Prefect events for automations."
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=5055, ge=1, le=65535)
    public_url: str = Field(
        default="",
        description="The address phones and browsers reach the HTTP API at (scheme, host, port; "
        "e.g. https://convoy.example.gov.cn behind the agency's reverse proxy or "
        "http://10.1.2.3:5055); every printed link uses it. Empty: http://HTTP_HOST:HTTP_PORT.",
    )
    api_max_body_bytes: int = Field(
        default=262144, ge=1024, description="Largest request body the HTTP API takes (413)."
    )
    escort_link_days: int = Field(default=14, ge=1, description="Validity of an escort's link.")
    router: Literal["none", "osrm", "valhalla"] = Field(
        default="none", description="Road router for ETA (off: geodesic legs × road factor)."
    )
    router_url: str = Field(default="", description="Base URL of the OSRM/Valhalla server.")
    router_timeout_seconds: float = 3.0

    # -- intake (issue 3)
    registry_files: list[Path] = Field(
        default_factory=list,
        description="Registry lists (CSV/XLSX: id_number, category, reason) for pre-verification.",
    )
    registry_dir: Path | None = Field(
        default=None,
        description="Every CSV/XLSX in this folder is a registry list too; "
        "None means var_dir/registry.",
    )
    registration_secret: str = Field(
        default="",
        repr=False,  # a key: never in a printed settings object
        description="Key that signs registration links; empty: a key generated "
        "once and kept in var_dir/registration.key.",
    )
    registration_base_url: str = Field(
        default="http://127.0.0.1:8765",
        description="Public address of the registration form; when unset and public_url is "
        "set, public_url (route /r/ and /e/ to the registration form there).",
    )
    registration_link_days: int = Field(default=30, ge=1, description="Validity of a QR link.")
    registration_host: str = "127.0.0.1"
    registration_port: int = Field(default=8765, ge=1, le=65535)
    registration_max_body_bytes: int = Field(
        default=16384, ge=1024, description="Largest registration form body accepted (413)."
    )
    registration_per_address_per_minute: int = Field(
        default=20, ge=1, description="Form submissions one client address may make a minute."
    )
    registration_per_link_per_minute: int = Field(
        default=120, ge=1, description="Form submissions one registration link may take a minute."
    )

    # -- people and rights (issue 11)
    operator: str = Field(
        default_factory=_login_name,
        description="Who runs the CLI (recorded in the audit; once users exist, a user's name "
        "whose role limits the CLI). Default: the OS login name.",
    )
    user_token_days: int = Field(default=30, ge=1, description="Validity of a new user token.")
    console_session_minutes: float = Field(
        default=480,
        gt=0,
        le=7 * 24 * 60,
        description="How long a sign-in to the console lasts (never past the token's expiry).",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except Exception as exc:
            raise ValueError(f"The time zone {value!r} is not a known IANA time zone.") from exc
        return value

    @model_validator(mode="after")
    def _derived_paths(self) -> Settings:
        if self.output_dir == Path(""):
            self.output_dir = self.var_dir / "output"
        return self

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        value = value.strip().rstrip("/")
        if not value:
            return value
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError as exc:
            raise ValueError(f"{value[:80]!r} is not a URL") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError(
                "it must be an http:// or https:// address such as https://convoy.example.gov.cn"
            )
        return value

    @model_validator(mode="after")
    def _registration_follows_public_url(self) -> Settings:
        if self.public_url and "registration_base_url" not in self.model_fields_set:
            self.registration_base_url = self.public_url
        return self

    def api_url(self, port: int | None = None) -> str:
        """Where phones and browsers reach the HTTP API: ``public_url``, else this machine's
        ``http_host`` and ``port`` (default ``http_port``); a wildcard host is shown as this
        machine's own address on the network (never 0.0.0.0)."""
        if self.public_url:
            return self.public_url
        host = self.http_host
        if host in ("0.0.0.0", "::", ""):
            host = _own_address()
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port or self.http_port}"

    @model_validator(mode="after")
    def _rules_are_valid(self) -> Settings:
        load_rules(str(self.rules_file))  # a wrong rule file stops the start, not a later step
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def db_url(self) -> str:
        """The database URL in force (a SQLite file under ``var_dir`` unless one is set)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'convoy.db').as_posix()}"

    @property
    def rule_set(self) -> Rules:
        """The rule file, typed (screening, speed profiles, delay thresholds, tracking …)."""
        return load_rules(str(self.rules_file))


_settings: Settings | None = None


def _build(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        if isinstance(first.get("ctx", {}).get("error"), ConfigurationError):
            raise first["ctx"]["error"] from None
        key = ".".join(str(part) for part in first["loc"])
        env = f"CONVOY_{key.upper()}" if key else "the settings"
        raise ConfigurationError(f"The setting {key} ({env}) is wrong: {first['msg']}.") from None


def get_settings() -> Settings:
    """The process-wide settings object (built once from the environment)."""
    global _settings
    if _settings is None:
        _settings = _build()
    return _settings


def reset_settings(**overrides: Any) -> Settings:
    """Rebuild the settings (tests and the CLI use this after changing the environment)."""
    global _settings
    _settings = _build(**overrides)
    return _settings
