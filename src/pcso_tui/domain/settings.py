"""What can be configured, with its defaults.

Plain dataclasses, one per section of the config file (``[workflow]``, ``[correlation]`` …).
``pcso_tui.config`` fills them from TOML and the environment; the domain only reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class WorkflowSettings:
    """What happens when a proactive case opens (DESIGN §2 step 5)."""

    # none | propose | accept
    on_proactive_case: str = "propose"
    # The rule acts only when this many accounts are affected.
    account_threshold: int = 2


@dataclass(frozen=True, slots=True)
class Settings:
    workflow: WorkflowSettings = field(default_factory=WorkflowSettings)
    delivery: DeliverySettings = field(default_factory=lambda: DeliverySettings())


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
