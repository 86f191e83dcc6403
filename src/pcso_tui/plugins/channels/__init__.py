"""The built-in notification channels: email (SMTP), webhook and sms (signed JSON POSTs),
and portal (shown in the customer portal). Registered like any third-party plugin."""

from __future__ import annotations

from pcso_tui.domain.core.channels import NotificationChannel
from pcso_tui.domain.core.settings import Settings
from pcso_tui.domain.hookspecs import hookimpl


@hookimpl
def pcso_notification_channels(settings: Settings) -> list[NotificationChannel]:
    from pcso_tui.plugins.channels.email import EmailChannel, ReplyAddresses
    from pcso_tui.plugins.channels.portal import PortalChannel
    from pcso_tui.plugins.channels.webhook import SmsChannel, WebhookChannel

    delivery = settings.delivery
    return [
        EmailChannel(
            delivery.email,
            concurrency=delivery.concurrency,
            replies=ReplyAddresses.from_settings(settings.mail_in),
        ),
        WebhookChannel(delivery.webhook, concurrency=delivery.concurrency),
        SmsChannel(delivery.webhook, concurrency=delivery.concurrency),
        PortalChannel(),
    ]
