"""Settings: every FRONTDESK_* variable is declared once here, with its default, help and
the commands that use it.

Every command reads every FRONTDESK_* variable; each command offers as flags only the
settings it uses (``commands``; a new setting defaults to ``serve`` only). The CLI builds
its flags from these fields and the README's configuration table is checked against them
by a test, so a setting cannot go undocumented.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from dataclasses import dataclass, field
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any, Mapping

from .files import private_dir, warn_if_shared


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names it."""


# The commands that take a setting as a flag (its FRONTDESK_* variable is read by all).
SERVE = ("serve",)
RUNNING = ("serve", "demo")  # the commands that run a server
EVERY = "every"  # every command: they all open the database
# Operator commands that end console sessions: with Redis, open consoles on every node hear it at once.
SESSION_ENDING = ("set-password", "set-role", "set-sites", "deactivate-operator", "activate-operator", "end-sessions")


def _setting(default: Any, help: str, *, commands: tuple[str, ...] | str = SERVE, secret: bool = False) -> Any:
    return field(default=default, metadata={"help": help, "secret": secret, "commands": commands})


@dataclass(frozen=True)
class Settings:
    # create-site prints a snippet pointing at the server: FRONTDESK_PUBLIC_URL, else host and port.
    host: str = _setting("127.0.0.1", "Interface the server listens on.", commands=("serve", "demo", "create-site"))
    port: int = _setting(8000, "Port the server listens on.", commands=("serve", "demo", "create-site"))
    workers: int = _setting(1, "Server processes of `frontdesk serve` (more than 1 needs FRONTDESK_REDIS_URL).")
    data_dir: str = _setting(
        "frontdesk-data", "Directory for the SQLite database and the generated secret key.", commands=EVERY
    )
    database_url: str = _setting(
        "", "Database URL: sqlite:///path/to.db or postgresql://user@host/db. Empty: SQLite in the data directory.",
        commands=EVERY,
    )
    redis_url: str = _setting(
        "", "Redis URL (redis://host:6379/0) for the live hub, presence and rate limits of several nodes. "
        "Empty: in-process (one process only).",
        commands=(*SERVE, *SESSION_ENDING),
    )
    redis_prefix: str = _setting(
        "frontdesk:", "Prefix of every Redis key and channel (to share one Redis).", commands=(*SERVE, *SESSION_ENDING)
    )
    secret_key: str = _setting(
        "", "Key that signs visitor tokens and sessions. Empty: generated once and kept in the data directory.",
        secret=True, commands=RUNNING,
    )
    public_url: str = _setting(
        "", "Public base URL of this server (e.g. https://chat.example.com), used in the snippet. Empty: taken from each request.",
        commands=("serve", "create-site"),
    )
    log_level: str = _setting("info", "Log level: debug, info, warning, error.", commands=RUNNING)
    log_format: str = _setting(
        "text", "Log format: text, or json (one object per line, with the request id).", commands=RUNNING
    )
    max_body_bytes: int = _setting(65536, "Largest HTTP request body accepted, in bytes.")
    max_frame_bytes: int = _setting(
        65536, "Largest websocket frame accepted, in bytes (a larger one gets a too_large error; one over 4x this "
        "is cut off by the server with close code 1009)."
    )
    max_message_chars: int = _setting(5000, "Longest chat message, in characters.")
    visitor_messages_per_minute: int = _setting(
        120, "Messages one visitor may send a minute (a flood gets rate_limited errors; the widget retries)."
    )
    visitor_identifies_per_minute: int = _setting(
        20, "visitor.identify frames one visitor may send a minute (more get rate_limited errors)."
    )
    visitor_typing_per_minute: int = _setting(
        60, "Typing frames one visitor may send a minute (the widget sends at most ~40; more get rate_limited errors)."
    )
    visitor_frames_per_minute: int = _setting(
        60, "Other frames (ping, malformed or unknown ones) one visitor may send a minute."
    )
    new_visitors_per_ip_per_minute: int = _setting(
        60, "New visitors one IP address may start a minute (more get 429 rate_limited)."
    )
    visitor_pages_per_minute: int = _setting(
        30, "page.viewed frames (pages a registered visitor reports, single-page-app navigation included) one "
        "visitor may send a minute (more get rate_limited errors)."
    )
    geoip_database: str = _setting(
        "", "Path to a MaxMind-format (.mmdb) city database, e.g. DB-IP Lite City, for leads' region and city. "
        "Empty: country only, from the registry data shipped with Frontdesk (docs/leads.md).",
        commands=RUNNING,
    )
    callback_requests_per_minute: int = _setting(
        10, "Callback requests and cancels one visitor may send a minute (more get 429 rate_limited)."
    )
    callback_reads_per_minute: int = _setting(
        120, "Reads of callback slots and pending callbacks one IP address may make a minute (more get 429 rate_limited)."
    )
    faq_searches_per_ip_per_minute: int = _setting(
        120, "FAQ searches (typed as the visitor types) and answer votes one IP address may send a minute."
    )
    sockets_per_ip: int = _setting(
        100, "Visitor websockets one IP address may hold open on one node (more are closed with code 4429)."
    )
    admin_requests_per_minute: int = _setting(
        300, "Admin pages and admin API requests one admin may make a minute (operators, site settings, "
        "FAQ; more get 429 rate_limited)."
    )
    operator_actions_per_minute: int = _setting(
        120, "Conversation actions (close, reopen, assign, note), canned-answer changes and callback changes "
        "(outcome, assignment) one operator may make a minute (more get rate_limited errors)."
    )
    operator_messages_per_minute: int = _setting(
        300, "Messages one operator may send a minute from the console socket (more get rate_limited errors; "
        "nothing is stored)."
    )
    operator_typing_per_minute: int = _setting(
        120, "Typing frames one operator may send a minute (the console sends at most ~30 while typing; more get "
        "rate_limited errors)."
    )
    operator_frames_per_minute: int = _setting(
        300, "Other console socket frames (conversation.read, ping, malformed or unknown ones) one operator may "
        "send a minute."
    )
    lead_searches_per_minute: int = _setting(
        60, "Lead searches (the Leads page with a query or filters) one operator may run a minute (more get an "
        "error on the page)."
    )
    csv_exports_per_minute: int = _setting(
        10, "CSV exports (leads, conversation transcripts) one operator may download a minute (more get 429)."
    )
    login_attempts_per_minute: int = _setting(
        5, "Console login attempts allowed a minute for one email from one client address (4x for one address "
        "over all emails, 10x for one email over all addresses); counted before the password is checked."
    )
    session_check_seconds: float = _setting(
        30.0, "Seconds between an open console socket's checks that its session still exists (a session ended "
        "where the hub does not reach, e.g. by the CLI of a node without Redis, closes its consoles this late).",
        commands=RUNNING,
    )
    trusted_proxies: str = _setting(
        "", "Reverse proxies whose X-Forwarded-For / Forwarded headers name the client, as comma-separated IP "
        "addresses or CIDR networks (e.g. 127.0.0.1,10.0.0.0/8). Empty: the client is the connecting address.",
        commands=RUNNING,
    )
    visitor_token_days: int = _setting(365, "Days a visitor token stays valid after the visitor's last visit.")
    sqlite_synchronous: str = _setting(
        "FULL", "SQLite synchronous pragma (FULL keeps acked messages across power loss; NORMAL only across crashes)."
    )
    sqlite_wal_pages: int = _setting(
        10_000, "SQLite: pages the write-ahead log grows to before a commit copies it into the database (a "
        "checkpoint, a pause of the writes) while writes come a few at a time; fewer checkpoints, a shorter "
        "delivery tail at steady load, a log file of up to ~4 KiB a page. Saturated (batches of 16 writes or "
        "more), SQLite's own 1000, for shorter pauses."
    )
    commit_batch_max: int = _setting(
        256, "Most writes the group-commit writer puts in one transaction (on PostgreSQL 64 at the most: "
        "smaller batches keep a long queue moving there)."
    )
    commit_hold_ms: float = _setting(
        0.0, "At moderate load (writes under 2 ms apart), how long a lone write waits for others to share its "
        "commit (0: never; more: fewer disk syncs and less CPU, more latency)."
    )
    commit_on_loop_ms: float = _setting(
        2.0, "SQLite: chat messages, read marks and page views are written on the event loop while the disk's "
        "commits take under this many ms on average (a thread's hand-offs cost more than a fast disk's sync); "
        "slower, in a thread (0: always in a thread)."
    )
    webhook_timeout_seconds: int = _setting(10, "Seconds a webhook receiver has to answer before the attempt counts as failed.")
    webhook_retry_seconds: str = _setting(
        "5,300,1800,7200,18000,36000,36000",
        "Pauses before each webhook retry, in seconds, comma-separated (its length is the number of retries).",
    )
    webhook_concurrency: int = _setting(16, "Webhook requests one node sends at the same time.")
    webhook_allow_private_networks: bool = _setting(
        False, "Let webhooks go to loopback, private and link-local addresses (off: a URL cannot reach the "
        "server's own network).",
        commands=("serve", "create-webhook"),
    )
    worker_lease_seconds: int = _setting(
        60, "Seconds a node holds a claimed job (webhook delivery) before another node may take it over; "
        "longer than the webhook timeout."
    )
    worker_poll_seconds: float = _setting(1.0, "Seconds between a worker's looks for due jobs written by other nodes.")
    smtp_host: str = _setting(
        "", "SMTP server that sends email (notifications, copies, replies). Empty: no email is sent.",
        commands=RUNNING,
    )
    smtp_port: int = _setting(587, "SMTP server port (587 for STARTTLS, 465 for TLS, 25 plain).", commands=RUNNING)
    smtp_security: str = _setting(
        "starttls", "How the SMTP connection is secured: starttls (upgrade after connecting), tls (TLS from the "
        "start, usually port 465) or none (only for a relay on the same machine or network).", commands=RUNNING,
    )
    smtp_username: str = _setting("", "SMTP login name. Empty: no login.", commands=RUNNING)
    smtp_password: str = _setting("", "SMTP password.", secret=True, commands=RUNNING)
    smtp_from: str = _setting(
        "", "From address of every email, e.g. Frontdesk <desk@example.com> (needed with FRONTDESK_SMTP_HOST).",
        commands=RUNNING,
    )
    smtp_timeout_seconds: int = _setting(
        30, "Seconds the SMTP server has to take a message before the attempt counts as failed.", commands=RUNNING
    )
    email_retry_seconds: str = _setting(
        "30,120,600,1800,3600,7200,14400,28800,43200,86400",
        "Pauses before each email retry, in seconds, comma-separated (an SMTP outage within them delays mail; "
        "its length is the number of retries).", commands=RUNNING,
    )
    email_concurrency: int = _setting(4, "Emails one node sends at the same time.", commands=RUNNING)
    inbound_smtp_port: int = _setting(
        0, "Port of the built-in SMTP receiver that takes visitors' email answers back into their conversations "
        "(docs/email.md). 0: off.", commands=RUNNING,
    )
    inbound_smtp_host: str = _setting(
        "127.0.0.1", "Interface the built-in SMTP receiver listens on.", commands=RUNNING
    )
    reply_domain: str = _setting(
        "", "Domain of the signed reply addresses (reply+CONVERSATION.SIGNATURE@DOMAIN) whose mail reaches the "
        "built-in SMTP receiver (directly, or forwarded by a mail provider). Empty: answers to emails are not taken back.", commands=RUNNING,
    )
    contact_per_ip_per_hour: int = _setting(
        10, "Contact-form messages one IP address may send an hour (a person sends one or two; more are refused "
        "politely)."
    )
    contact_per_site_per_minute: int = _setting(
        30, "Contact-form messages one site may take a minute from all addresses together."
    )
    contact_min_fill_seconds: float = _setting(
        3.0, "Fewest seconds between the widget showing the contact form and its sending (faster is a robot)."
    )

    @classmethod
    def env_name(cls, name: str) -> str:
        return "FRONTDESK_" + name.upper()

    @classmethod
    def fields(cls) -> tuple[dataclasses.Field[Any], ...]:
        return dataclasses.fields(cls)

    @classmethod
    def commands_of(cls, f: dataclasses.Field[Any]) -> tuple[str, ...] | str:
        return f.metadata["commands"]  # type: ignore[no-any-return]

    @classmethod
    def fields_for(cls, command: str) -> tuple[dataclasses.Field[Any], ...]:
        """The settings that ``command`` uses, offered as its flags."""
        return tuple(f for f in cls.fields() if cls.commands_of(f) == EVERY or command in cls.commands_of(f))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults, then FRONTDESK_* variables, then explicit overrides (CLI flags, tests)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in cls.fields():
            raw = environ.get(cls.env_name(f.name))
            if raw is not None:
                values[f.name] = _coerce(f, raw, cls.env_name(f.name))
        for name, value in overrides.items():
            if value is None:
                continue
            f = next((f for f in cls.fields() if f.name == name), None)
            if f is None:
                raise SettingsError(f"unknown setting {name!r}")
            values[name] = _coerce(f, value, "--" + name.replace("_", "-")) if isinstance(value, str) else value
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if not (0 < self.port < 65536):
            raise SettingsError(f"FRONTDESK_PORT: {self.port} is not a port number (1-65535)")
        if self.workers > 1 and not self.redis_url:
            raise SettingsError(
                "FRONTDESK_WORKERS: more than one worker needs FRONTDESK_REDIS_URL "
                "(the in-process hub cannot be shared between processes)"
            )
        for name in ("workers", "visitor_messages_per_minute", "visitor_identifies_per_minute",
                     "visitor_typing_per_minute", "visitor_frames_per_minute", "visitor_pages_per_minute", "new_visitors_per_ip_per_minute",
                     "faq_searches_per_ip_per_minute", "sockets_per_ip", "max_body_bytes", "max_frame_bytes", "max_message_chars", "login_attempts_per_minute",
                     "operator_actions_per_minute", "operator_messages_per_minute", "operator_typing_per_minute",
                     "operator_frames_per_minute", "lead_searches_per_minute", "csv_exports_per_minute",
                     "visitor_token_days", "commit_batch_max", "webhook_timeout_seconds", "webhook_concurrency",
                     "worker_lease_seconds", "smtp_timeout_seconds", "email_concurrency",
                     "contact_per_ip_per_hour", "contact_per_site_per_minute", "admin_requests_per_minute"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{self.env_name(name)}: must be at least 1")
        if self.worker_lease_seconds <= self.webhook_timeout_seconds:
            raise SettingsError(
                "FRONTDESK_WORKER_LEASE_SECONDS: must be longer than FRONTDESK_WEBHOOK_TIMEOUT_SECONDS "
                "(a lease must outlive the request it covers)"
            )
        if self.email_enabled and self.worker_lease_seconds <= self.smtp_timeout_seconds:
            raise SettingsError(
                "FRONTDESK_WORKER_LEASE_SECONDS: must be longer than FRONTDESK_SMTP_TIMEOUT_SECONDS "
                "(a lease must outlive the send it covers)"
            )
        self._validate_email()
        if not 0 < self.session_check_seconds <= 3600:
            raise SettingsError("FRONTDESK_SESSION_CHECK_SECONDS: must be more than 0 and at most 3600")
        if not 0 < self.worker_poll_seconds <= 60:
            raise SettingsError("FRONTDESK_WORKER_POLL_SECONDS: must be more than 0 and at most 60")
        if not 0 <= self.commit_hold_ms <= 50:
            raise SettingsError("FRONTDESK_COMMIT_HOLD_MS: must be from 0 to 50")
        if not 0 <= self.commit_on_loop_ms <= 50:
            raise SettingsError("FRONTDESK_COMMIT_ON_LOOP_MS: must be from 0 to 50")
        self.webhook_retry_schedule  # raises if malformed
        if self.geoip_database and not Path(self.geoip_database).is_file():
            raise SettingsError(f"FRONTDESK_GEOIP_DATABASE: {self.geoip_database} is not a readable file")
        if not 100 <= self.sqlite_wal_pages <= 1_000_000:
            raise SettingsError("FRONTDESK_SQLITE_WAL_PAGES: must be from 100 to 1000000")
        if self.sqlite_synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise SettingsError("FRONTDESK_SQLITE_SYNCHRONOUS: must be OFF, NORMAL, FULL or EXTRA")
        if self.log_format not in {"text", "json"}:
            raise SettingsError("FRONTDESK_LOG_FORMAT: must be text or json")
        if self.log_level.lower() not in {"debug", "info", "warning", "error"}:
            raise SettingsError("FRONTDESK_LOG_LEVEL: must be debug, info, warning or error")
        self.trusted_proxy_networks  # raises if malformed
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError("FRONTDESK_REDIS_URL: must start with redis://, rediss:// or unix://")
        url = self.resolved_database_url
        if not (url.startswith("sqlite") or url.startswith("postgres")):
            raise SettingsError("FRONTDESK_DATABASE_URL: only sqlite:/// and postgresql:// URLs are supported")

    @property
    def webhook_retry_schedule(self) -> tuple[int, ...]:
        """Pauses before retries 1, 2, …; empty: no retries."""
        return _schedule(self.webhook_retry_seconds, "FRONTDESK_WEBHOOK_RETRY_SECONDS")

    @property
    def email_retry_schedule(self) -> tuple[int, ...]:
        return _schedule(self.email_retry_seconds, "FRONTDESK_EMAIL_RETRY_SECONDS")

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_host)

    def _validate_email(self) -> None:
        self.email_retry_schedule  # raises if malformed
        if self.smtp_security not in {"starttls", "tls", "none"}:
            raise SettingsError("FRONTDESK_SMTP_SECURITY: must be starttls, tls or none")
        if not (0 < self.smtp_port < 65536):
            raise SettingsError(f"FRONTDESK_SMTP_PORT: {self.smtp_port} is not a port number (1-65535)")
        if not (0 <= self.inbound_smtp_port < 65536):
            raise SettingsError(f"FRONTDESK_INBOUND_SMTP_PORT: {self.inbound_smtp_port} is not a port number (0-65535)")
        if self.contact_min_fill_seconds < 0 or self.contact_min_fill_seconds > 600:
            raise SettingsError("FRONTDESK_CONTACT_MIN_FILL_SECONDS: must be 0 to 600")
        if self.smtp_host:
            from email.utils import parseaddr

            address = parseaddr(self.smtp_from)[1]
            if "@" not in address or any(c in self.smtp_from for c in "\r\n"):
                raise SettingsError(
                    "FRONTDESK_SMTP_FROM: give the From address of the emails, e.g. Frontdesk <desk@example.com>"
                )
        if self.reply_domain and ("@" in self.reply_domain or "." not in self.reply_domain or " " in self.reply_domain):
            raise SettingsError("FRONTDESK_REPLY_DOMAIN: give a domain name such as reply.example.com")

    @cached_property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """FRONTDESK_TRUSTED_PROXIES parsed (a bare address is a one-address network)."""
        networks = []
        for part in self.trusted_proxies.split(","):
            if not part.strip():
                continue
            try:
                networks.append(ip_network(part.strip(), strict=False))
            except ValueError:
                raise SettingsError(
                    f"FRONTDESK_TRUSTED_PROXIES: {part.strip()!r} is not an IP address or CIDR network"
                ) from None
        return tuple(networks)

    @property
    def transport_frame_bytes(self) -> int:
        """The websocket server's own frame limit: well above max_frame_bytes, so the app
        can answer an oversized frame with its too_large error instead of a bare 1009."""
        return self.max_frame_bytes * 4

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return "sqlite:///" + str(Path(self.data_dir).resolve() / "frontdesk.db")

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated on first start and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        path = Path(self.data_dir) / "secret_key"
        if path.exists():
            warn_if_shared(path)
            return path.read_text().strip()
        private_dir(path.parent)
        key = secrets.token_urlsafe(48)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key


def _schedule(raw: str, name: str) -> tuple[int, ...]:
    """Pauses before retries 1, 2, …; empty: no retries."""
    raw = raw.strip()
    try:
        pauses = tuple(int(part) for part in raw.split(",")) if raw else ()
    except ValueError:
        raise SettingsError(f"{name}: expected whole seconds separated by commas, got {raw!r}") from None
    if any(p < 0 or p > 7 * 86400 for p in pauses) or len(pauses) > 20:
        raise SettingsError(f"{name}: at most 20 pauses of 0 to 604800 seconds each")
    return pauses


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _coerce(f: dataclasses.Field[Any], raw: Any, label: str) -> Any:
    if f.type in ("bool", bool):
        word = str(raw).strip().lower()
        if word not in _TRUE | _FALSE:
            raise SettingsError(f"{label}: expected true or false (1/0, yes/no, on/off), got {raw!r}")
        return word in _TRUE
    if f.type in ("float", float):
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{label}: expected a number, got {raw!r}") from None
    if f.type in ("int", int):
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{label}: expected a whole number, got {raw!r}") from None
    return str(raw)


def markdown_table() -> str:
    """The README's configuration table (a test keeps the README equal to it)."""
    lines = ["| Variable | Flag | Commands | Default | What it sets |", "|---|---|---|---|---|"]
    for f in Settings.fields():
        default = f"`{f.default}`" if f.default != "" else "(empty)"
        flag = "--" + f.name.replace("_", "-")
        lines.append(
            f"| `{Settings.env_name(f.name)}` | `{flag}` | {commands_label(f)} | {default} | {f.metadata['help']} |"
        )
    return "\n".join(lines)


def commands_label(f: dataclasses.Field[Any]) -> str:
    commands = Settings.commands_of(f)
    return "all" if commands == EVERY else ", ".join(commands)
