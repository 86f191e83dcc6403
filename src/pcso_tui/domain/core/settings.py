"""What can be configured, with its defaults.

Plain dataclasses, one per section of the config file (``[workflow]``, ``[correlation]`` …).
``pcso_tui.config`` fills them from TOML and the environment; the domain only reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class WorkflowSettings:
    """What happens when a proactive case opens (DESIGN §2 step 5)."""

    # none | propose | accept
    on_proactive_case: str = "propose"
    # The rule acts only when this many accounts are affected.
    account_threshold: int = 2
    # never | on_incident: open the proactive case by itself when an incident opens, or its
    # impact grows, at or above ``proactive_min_severity`` with at least
    # ``proactive_min_accounts`` external accounts affected (docs/incidents.md).
    open_proactive_case: str = "never"
    proactive_min_severity: str = "major"
    proactive_min_accounts: int = 1

    def __post_init__(self) -> None:
        if self.open_proactive_case not in ("never", "on_incident"):
            raise ValueError(f"open_proactive_case = {self.open_proactive_case!r} is not never or on_incident")
        if self.proactive_min_severity not in ("critical", "major", "minor", "warning", "info"):
            raise ValueError(
                f"proactive_min_severity = {self.proactive_min_severity!r} is not critical, major, minor, warning"
                " or info"
            )
        if self.proactive_min_accounts < 0:
            raise ValueError(f"proactive_min_accounts = {self.proactive_min_accounts} must be at least 0")


@dataclass(frozen=True, slots=True)
class CaseworkSettings:
    """``[casework]``: housekeeping of cases (docs/casework.md), and the neutral customer-facing
    wording a proactive or major case starts with until a person words it
    (``set_case_wording``; docs/wording.md). ``{service}``: the case's public service name."""

    # Resolved cases (children included) close by themselves this many days after they were
    # resolved; 0: never. The delivery worker runs it; ``pcso case auto-close`` by hand.
    auto_close_days: int = 3
    # Tell the case's contacts when it closes by itself.
    notify_on_auto_close: bool = False
    public_title: str = "{service}: service disruption"
    public_summary: str = "We are investigating a problem affecting {service}. We will keep you informed."

    def __post_init__(self) -> None:
        if self.auto_close_days < 0:
            raise ValueError(f"auto_close_days = {self.auto_close_days} must be at least 0 (0: never)")
        _check_template("public_title", self.public_title, 150)
        _check_template("public_summary", self.public_summary, 2000)


BELLS = ("never", "critical", "incidents")


@dataclass(frozen=True, slots=True)
class WorkspaceSettings:
    """``[workspace]``: the terminal workspace of the user whose config file this is.

    ``bell``: ring the terminal bell and say so when something arrives that must not go unseen:
    ``"critical"`` a new critical alert or critical incident, ``"incidents"`` those and every
    new incident; ``"never"`` (the default) stays quiet."""

    bell: str = "never"

    def __post_init__(self) -> None:
        if self.bell not in BELLS:
            raise ValueError(f"bell = {self.bell!r} is not one of {', '.join(BELLS)}")


@dataclass(frozen=True, slots=True)
class Settings:
    workflow: WorkflowSettings = field(default_factory=WorkflowSettings)
    casework: CaseworkSettings = field(default_factory=CaseworkSettings)
    # Sections defined further down (each area appends its own); a lambda defers the lookup.
    correlation: CorrelationSettings = field(default_factory=lambda: CorrelationSettings())
    healthchecks: HealthCheckSettings = field(default_factory=lambda: HealthCheckSettings())
    delivery: DeliverySettings = field(default_factory=lambda: DeliverySettings())
    ingest: IngestSettings = field(default_factory=lambda: IngestSettings())
    insight: InsightSettings = field(default_factory=lambda: InsightSettings())
    mail_in: MailInSettings = field(default_factory=lambda: MailInSettings())
    web: WebSettings = field(default_factory=lambda: WebSettings())
    workspace: WorkspaceSettings = field(default_factory=WorkspaceSettings)
    # The plugins' own sections, ``[plugins.NAME]``, each built into the dataclass its plugin
    # declares (``pcso_config_sections``); see :meth:`plugin`.
    plugins: dict[str, Any] = field(default_factory=dict)

    def plugin(self, section: PluginSection) -> Any:
        """A plugin's section as configured, or its defaults when the file has none."""
        found = self.plugins.get(section.name)
        return found if found is not None else section.settings()


@dataclass(frozen=True, slots=True)
class PluginSection:
    """A config section a plugin declares: ``[plugins.NAME]``, read into ``settings``.

    ``settings`` is a frozen dataclass with defaults; its ``__post_init__`` raises ValueError
    with one line naming the key for a bad value (the loader prefixes where it was).
    """

    name: str
    settings: type


# --- correlation and health checks (docs/incidents.md) ----------------------------------------

_SEVERITIES = ("critical", "major", "minor", "warning", "info")
CHECK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True, slots=True)
class CorrelationSettings:
    """How alerts group into incidents (DESIGN §2 step 2)."""

    # Alerts on related CIs group when each is within this many minutes of another one.
    window_minutes: int = 15
    # An alert at or above this severity opens an incident by itself.
    open_at_severity: str = "major"
    # This many related alerts within the window open one even below that severity.
    open_at_count: int = 3
    # "Related": one depends on the other, or both on a common upstream, within this many hops.
    max_hops: int = 3
    # How far up the root-cause search looks for a CI that every CI of an incident depends on.
    root_cause_max_hops: int = 10
    # A common upstream of these kinds (a whole datacentre, region or site) is too broad to
    # make the alerts below it related by itself: two clusters failing in one datacentre are
    # usually two outages …
    broad_kinds: tuple[str, ...] = ("datacentre", "datacenter", "region", "site", "zone", "cluster")
    # … unless it alerts itself, or alerting CIs reach it through at least this many of the CIs
    # that depend on it directly (several of its clusters at once point at it).
    broad_min_branches: int = 3
    # … and through at least this share of them (a whole datacentre failing shows on most of it).
    broad_min_share: float = 0.5
    # An incident stops taking new alerts once no alert of it has opened or changed for this
    # many minutes (0: never by time), or once its major case is resolved: new alerts open a
    # new incident, which names the one it follows.
    quiet_minutes: int = 240

    def __post_init__(self) -> None:
        if self.quiet_minutes < 0:
            raise ValueError(f"quiet_minutes = {self.quiet_minutes} must not be negative")
        if not 0 <= self.broad_min_share <= 1:
            raise ValueError(f"broad_min_share = {self.broad_min_share} must be between 0 and 1")
        if self.broad_min_branches < 2:
            raise ValueError(f"broad_min_branches = {self.broad_min_branches} must be at least 2")
        if self.window_minutes < 1:
            raise ValueError(f"window_minutes = {self.window_minutes} must be at least 1")
        if self.open_at_severity not in _SEVERITIES:
            raise ValueError(f"open_at_severity = {self.open_at_severity!r} is not one of {', '.join(_SEVERITIES)}")
        if self.open_at_count < 1:
            raise ValueError(f"open_at_count = {self.open_at_count} must be at least 1")
        if not 0 <= self.max_hops <= 20:
            raise ValueError(f"max_hops = {self.max_hops} must be between 0 and 20")
        if not 1 <= self.root_cause_max_hops <= 50:
            raise ValueError(f"root_cause_max_hops = {self.root_cause_max_hops} must be between 1 and 50")


def _check_common(name: str, interval: float, timeout: float | None = None) -> None:
    if not CHECK_NAME.match(name):
        raise ValueError(f"check name {name!r}: use letters, digits, _ . - (at most 100)")
    if interval <= 0:
        raise ValueError(f"check {name!r}: interval_seconds must be positive")
    if timeout is not None and timeout <= 0:
        raise ValueError(f"check {name!r}: timeout_seconds must be positive")


@dataclass(frozen=True, slots=True)
class HttpCheckSettings:
    """``[[healthchecks.http]]``: GET a URL on an interval; any other status is a failure."""

    name: str
    url: str
    ci: str = ""
    interval_seconds: float = 30.0
    timeout_seconds: float = 5.0
    expect_status: int = 200
    method: str = "GET"

    def __post_init__(self) -> None:
        _check_common(self.name, self.interval_seconds, self.timeout_seconds)
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"check {self.name!r}: url {self.url!r} must start with http:// or https://")
        if not 100 <= self.expect_status <= 599:
            raise ValueError(f"check {self.name!r}: expect_status {self.expect_status} is not an HTTP status")
        if self.method.upper() not in ("GET", "HEAD", "POST", "OPTIONS"):
            raise ValueError(f"check {self.name!r}: method {self.method!r} is not GET, HEAD, POST or OPTIONS")


@dataclass(frozen=True, slots=True)
class TcpCheckSettings:
    """``[[healthchecks.tcp]]``: open a TCP connection on an interval."""

    name: str
    host: str
    port: int
    ci: str = ""
    interval_seconds: float = 30.0
    timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        _check_common(self.name, self.interval_seconds, self.timeout_seconds)
        if not 1 <= self.port <= 65535:
            raise ValueError(f"check {self.name!r}: port {self.port} is not between 1 and 65535")
        if not self.host:
            raise ValueError(f"check {self.name!r}: host is empty")


@dataclass(frozen=True, slots=True)
class HeartbeatCheckSettings:
    """``[[healthchecks.heartbeat]]``: a source that must report in (dead-man switch)."""

    name: str
    ci: str = ""
    max_silence_seconds: float = 300.0

    def __post_init__(self) -> None:
        _check_common(self.name, self.max_silence_seconds)


@dataclass(frozen=True, slots=True)
class HealthCheckSettings:
    """Built-in probes and the anomaly detector on their latency and error rate."""

    http: tuple[HttpCheckSettings, ...] = ()
    tcp: tuple[TcpCheckSettings, ...] = ()
    heartbeat: tuple[HeartbeatCheckSettings, ...] = ()
    # At most this many probes in flight at once.
    concurrency: int = 20
    # Consecutive failed probes (timeout, refused, bad status) that make a hard failure: critical.
    failures_to_critical: int = 2
    # A sample is anomalous when it lies more than k deviations above the learned mean …
    anomaly_k: float = 4.0
    # … once the baseline has seen this many samples …
    warmup_samples: int = 10
    # … where the deviation is never taken below these floors (a noiseless baseline must not
    # fire on jitter): milliseconds for latency, a fraction of the mean, a rate for errors.
    latency_floor_ms: float = 25.0
    latency_floor_ratio: float = 0.5
    error_floor: float = 0.1
    # Weight of a new sample in the exponentially weighted mean and variance.
    alpha: float = 0.1
    # A latency warning opens after this many anomalous probes in a row (one spike is not an
    # outage) and closes after this many normal ones in a row (one good probe is not recovery).
    anomaly_open_after: int = 2
    anomaly_close_after: int = 3
    # How often heartbeats are looked at, and baselines written, by the runner.
    heartbeat_poll_seconds: float = 5.0
    flush_seconds: float = 10.0

    def __post_init__(self) -> None:
        names = [c.name for c in self.http] + [c.name for c in self.tcp] + [c.name for c in self.heartbeat]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"check names must be unique; used twice: {', '.join(duplicates)}")
        if (
            min(self.concurrency, self.failures_to_critical, self.warmup_samples) < 1
            or min(self.anomaly_open_after, self.anomaly_close_after) < 1
        ):
            raise ValueError(
                "concurrency, failures_to_critical, warmup_samples, anomaly_open_after and "
                "anomaly_close_after must be at least 1"
            )
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha = {self.alpha} must be in (0, 1]")
        if self.anomaly_k <= 0 or self.latency_floor_ms < 0 or self.latency_floor_ratio < 0 or self.error_floor < 0:
            raise ValueError("anomaly_k must be positive and the floors not negative")
        if self.heartbeat_poll_seconds <= 0 or self.flush_seconds <= 0:
            raise ValueError("heartbeat_poll_seconds and flush_seconds must be positive")


# --- [delivery]: the notice worker, its channels and the status page ------------------------


@dataclass(frozen=True, slots=True)
class EmailSettings:
    """``[delivery.email]``: the SMTP relay notices are sent through."""

    host: str = "localhost"
    port: int = 25
    # starttls (upgrade a plain connection; the usual on 587) | tls (implicit TLS, 465) | none
    security: str = "starttls"
    username: str = ""
    # Empty: taken from $PCSO_SMTP_PASSWORD, so the secret need not sit in the file.
    password: str = ""
    from_address: str = "pcso@localhost"
    from_name: str = "Service status"
    # The name we greet the server with (EHLO); empty: this host's name.
    helo_name: str = ""
    # Add an HTML alternative to the plain-text body.
    html: bool = True
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """``[delivery.webhook]``: signed JSON POSTs (chat, ticketing and SMS gateways)."""

    # Where notices go for contacts without a webhook URL of their own; empty: skipped.
    default_url: str = ""
    # The HMAC-SHA256 key of the X-Pcso-Signature header. Empty: $PCSO_WEBHOOK_SECRET.
    secret: str = ""
    # The SMS gateway notices on the ``sms`` channel are POSTed to; empty: SMS is not set up.
    sms_url: str = ""
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """``[delivery]``: how the worker drains the notice outbox (see docs/notifications.md)."""

    # Notices claimed per batch, and messages in flight at once per channel.
    batch_size: int = 200
    concurrency: int = 8
    # A notice is dead-lettered after this many failed attempts.
    max_attempts: int = 8
    # Retry n waits min(backoff_max, backoff_base * 2**(n-1)) seconds, less up to `jitter` of it.
    backoff_base: float = 30.0
    backoff_max: float = 3600.0
    jitter: float = 0.5
    # A claimed notice comes back to the queue after this long if its worker vanished.
    lease_seconds: float = 300.0
    # How often an idle worker looks for due notices (it also wakes on new events).
    poll_interval: float = 2.0
    # Where the worker keeps the static status page; empty: it does not publish one.
    status_page_dir: str = ""
    status_page_title: str = "Service status"
    # Past outages shown on the status page: those that ended within this many days.
    status_page_past_days: int = 14
    email: EmailSettings = field(default_factory=lambda: EmailSettings())
    webhook: WebhookSettings = field(default_factory=lambda: WebhookSettings())
    # Which contacts of an affected account get notices: "all" (every contact), "primary" (the
    # primary contact), or a list of contact roles, where "primary" in the list means the
    # primary contact whatever its role: ["primary", "technical"]. Opted-out contacts among
    # them get a skipped notice, never a message.
    notify: str | tuple[str, ...] = "all"

    def __post_init__(self) -> None:
        object.__setattr__(self, "notify", check_notify(self.notify))


NOTIFY_WORDS = ("all", "primary")
ROLE_MAX = 16


def check_notify(value: Any) -> str | tuple[str, ...]:
    """``[delivery] notify`` made canonical (roles lower-case, sorted, once each), or
    ValueError naming the key."""
    if isinstance(value, str):
        if value in NOTIFY_WORDS:
            return value
        raise ValueError(
            f'notify = {value!r} must be "all", "primary" or a list of contact roles'
            f' (e.g. notify = ["primary", {value!r}])'
        )
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f'notify = {value!r} must be "all", "primary" or a list of contact roles')
    roles = sorted({v.strip().lower() for v in value})
    if not roles:
        raise ValueError('notify = [] would notify no one; name at least one role, or use "primary"')
    for role in roles:
        if not role or len(role) > ROLE_MAX or role == "all":
            raise ValueError(
                f"notify = {list(value)!r}: {role!r} is not a contact role"
                f' (a role is 1 to {ROLE_MAX} characters; "all" goes alone: notify = "all")'
            )
    return tuple(roles)


MAIL_IN_PROTOCOLS = ("smtp", "lmtp")


@dataclass(frozen=True, slots=True)
class MailInSettings:
    """``[mail_in]``: customers' replies to notice emails, received by ``pcso mail-in``
    (docs/mail-in.md)."""

    # The mailbox replies go to, e.g. "replies@support.example". Notices carry
    # ``Reply-To: replies+TOKEN@support.example``; empty: notices carry no Reply-To.
    address: str = ""
    # The HMAC key that signs reply tokens. Empty: $PCSO_MAIL_IN_SECRET, else a random key kept
    # (mode 0600) in ``secret_file``. The delivery worker and ``pcso mail-in`` must share it.
    secret: str = ""
    # Empty: mail-in.secret in the user's data directory (~/.local/share/pcso-tui on Linux).
    secret_file: str = ""
    # A reply address stops working this many days after its notice was queued.
    token_days: int = 90
    # Where ``pcso mail-in`` listens, and what it speaks there.
    host: str = "127.0.0.1"
    port: int = 8025
    protocol: str = "smtp"
    # A larger message is refused during DATA (552).
    max_size: int = 262_144

    def __post_init__(self) -> None:
        if self.address:
            local, at, domain = self.address.partition("@")
            if not at or not local or not domain or "+" in local or not self.address.isascii():
                raise ValueError(f"address = {self.address!r} must be a plain mailbox such as replies@support.example")
            if any(c in self.address for c in ' <>"\r\n\t,;'):
                raise ValueError(f"address = {self.address!r} must be a plain mailbox such as replies@support.example")
        if self.protocol not in MAIL_IN_PROTOCOLS:
            raise ValueError(f"protocol = {self.protocol!r} must be smtp or lmtp")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port = {self.port} is not between 0 and 65535")
        if not 1 <= self.token_days <= 3650:
            raise ValueError(f"token_days = {self.token_days} must be between 1 and 3650")
        if not 1024 <= self.max_size <= 100 * 1024 * 1024:
            raise ValueError(f"max_size = {self.max_size} must be between 1024 and 104857600 bytes")


# --- ingest: alerts in (docs/alerts.md) -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class IngestSettings:
    """Alert ingestion (``[ingest]``): CI mapping, limits, flapping."""

    # Labels looked up, in order, to find an alert's CI by name (``instance`` loses its :port).
    ci_labels: tuple[str, ...] = ("ci", "instance", "service", "job")
    # The receiver refuses a request body larger than this (413).
    max_body_bytes: int = 1_048_576
    # An alert is flapping after this many state changes, each within the window of the last;
    # it settles once it has been quiet (no state change) for a whole window.
    flap_threshold: int = 4
    flap_window_seconds: int = 900
    # The receiver refuses a request carrying more alerts than this (413).
    max_alerts_per_batch: int = 10_000

    def __post_init__(self) -> None:
        for name, least in (
            ("max_body_bytes", 1024),
            ("flap_threshold", 2),
            ("flap_window_seconds", 1),
            ("max_alerts_per_batch", 1),
        ):
            if getattr(self, name) < least:
                raise ValueError(f"{name} = {getattr(self, name)} must be at least {least}")
        if not self.ci_labels or not all(label.strip() for label in self.ci_labels):
            raise ValueError("ci_labels must name at least one label, none of them empty")


# --- [insight]: recommendations, trending topics, likely affected (docs/insight.md) ---------------


@dataclass(frozen=True, slots=True)
class InsightSettings:
    """Thresholds of the predictive insight (``[insight]``); similarities are 0–1."""

    # Recommend attaching a case to an existing major case at or above this similarity.
    existing_major_threshold: float = 0.75
    # Cases at or above this similarity to a new case count as "similar".
    similar_threshold: float = 0.70
    # Recommend proposing a new major case when similar cases reach this many …
    min_cases: int = 10
    # … across at least this many accounts …
    min_accounts: int = 3
    # … opened since the start of the day this many days back (1: since the start of yesterday).
    window_days: int = 1
    # Added to the text similarity when two cases share their product, and again their CI.
    context_bonus: float = 0.10
    # At most this many recent active cases are compared with a new one.
    max_compared: int = 20_000
    # Trending topics: cases join a topic at this similarity to its first case …
    topic_similarity: float = 0.70
    # … the recent period, and the baseline it is compared with (the days before it) …
    topic_recent_hours: int = 24
    topic_baseline_days: int = 7
    # … and a topic is rising with at least this many recent cases, growing this many times
    # over its own baseline rate (recent + 1) / (expected + 1).
    topic_min_cases: int = 5
    topic_growth: float = 3.0
    # Likely affected: a characteristic counts when at least this many known-affected accounts
    # share it, it is this many times commoner among them than in the install base, and the
    # hypergeometric chance of sharing it that often at random is at most ``max_p``.
    min_support: int = 2
    min_lift: float = 1.5
    max_p: float = 0.01

    def __post_init__(self) -> None:
        for name in ("existing_major_threshold", "similar_threshold", "topic_similarity"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"{name} = {value} must be in (0, 1]")
        if not 0 <= self.context_bonus <= 0.5:
            raise ValueError(f"context_bonus = {self.context_bonus} must be between 0 and 0.5")
        for name, least in (
            ("min_cases", 1),
            ("min_accounts", 1),
            ("window_days", 0),
            ("max_compared", 1),
            ("topic_recent_hours", 1),
            ("topic_baseline_days", 1),
            ("topic_min_cases", 1),
            ("min_support", 1),
        ):
            if getattr(self, name) < least:
                raise ValueError(f"{name} = {getattr(self, name)} must be at least {least}")
        if self.topic_growth < 1 or self.min_lift < 1:
            raise ValueError("topic_growth and min_lift must be at least 1")
        if not 0 < self.max_p <= 1:
            raise ValueError(f"max_p = {self.max_p} must be in (0, 1]")


# --- [casework]: the customer-facing wording a case starts with (docs/wording.md) ---------------

WORDING_PLACEHOLDERS = ("service",)


def _check_template(name: str, template: str, limit: int) -> None:
    import string

    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ValueError(f"{name} = {template!r} is not a valid template ({exc})") from None
    unknown = sorted({f for f in fields if f not in WORDING_PLACEHOLDERS})
    if unknown:
        known = ", ".join("{" + p + "}" for p in WORDING_PLACEHOLDERS)
        raise ValueError(f"{name}: unknown placeholder {', '.join('{' + u + '}' for u in unknown)} (known: {known})")
    if not template.strip():
        raise ValueError(f"{name} must not be empty")
    if len(template) > limit:
        raise ValueError(f"{name} is {len(template)} characters long; the limit is {limit}")


# --- [web]: the customers' web portal (`pcso web`, docs/web.md) ------------------------------


@dataclass(frozen=True, slots=True)
class WebSettings:
    """``[web]``: where ``pcso web`` listens, and how it signs contacts in."""

    host: str = "127.0.0.1"
    port: int = 8080
    # The address customers reach the portal at; sign-in links point there. Empty: http://HOST:PORT.
    # Never taken from a request's Host header, which anyone can set.
    public_url: str = ""
    # Behind a reverse proxy that terminates TLS: trust its X-Forwarded-Proto and X-Forwarded-For.
    behind_proxy: bool = False
    # A sign-in link expires after this many minutes; a session after this many hours.
    link_minutes: int = 15
    session_hours: float = 12.0
    # Sign-in requests allowed per address and per client IP within the window.
    sign_in_per_address: int = 5
    sign_in_per_ip: int = 30
    rate_window_minutes: float = 15.0

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ValueError("port must be between 1 and 65535")
        if self.public_url and not self.public_url.startswith(("http://", "https://")):
            raise ValueError("public_url must start with http:// or https://")
        if not 1 <= self.link_minutes <= 60:
            raise ValueError("link_minutes must be between 1 and 60")
        if self.session_hours <= 0 or self.rate_window_minutes <= 0:
            raise ValueError("session_hours and rate_window_minutes must be positive")
        if self.sign_in_per_address < 1 or self.sign_in_per_ip < 1:
            raise ValueError("sign_in_per_address and sign_in_per_ip must be at least 1")
