"""Reply addresses: where a customer's answer to a notice email goes, and how it finds its case.

A notice about a case carries ``Reply-To: replies+TOKEN@support.example`` (``[mail_in]
address`` with a plus extension). TOKEN names the case and the contact the notice went to,
the day it stops working, and an HMAC-SHA256 of those three under the ``[mail_in]`` secret, so
an address cannot be made up or altered: ``1234-56-20800-<20 hex digits>``. Only digits, ``-``
and lower-case hex, so it survives MTAs that fold the local part to lower case, and stays
within the 64 characters a local part may have.

The token is the same on every attempt of a notice (it is derived from when the notice was
queued), so a retried message is byte for byte the same.

Standard library only: the email channel imports it without the database stack.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from pcso_tui.domain.core.errors import InvalidInput
from pcso_tui.domain.core.settings import MailInSettings

SECRET_ENV = "PCSO_MAIL_IN_SECRET"
SECRET_FILE_NAME = "mail-in.secret"
_EPOCH = date(1970, 1, 1)
_MAC_HEX = 20  # 80 bits: guessing one is out of reach at any rate an MTA can deliver
_TOKEN = re.compile(r"^([1-9][0-9]{0,11})-([1-9][0-9]{0,11})-([1-9][0-9]{0,5})-([0-9a-f]{20})$")


class BadReplyToken(ValueError):
    """Why a reply address is not one we issued (one lower-case phrase)."""


@dataclass(frozen=True, slots=True)
class ReplyReference:
    """What a verified token names."""

    case_id: int
    contact_id: int
    # The last day the address works (UTC).
    expires: date


def _mac(secret: bytes, case_id: int, contact_id: int, day: int) -> str:
    message = f"pcso-reply:{case_id}:{contact_id}:{day}".encode("ascii")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:_MAC_HEX]


def reply_token(secret: bytes, case_id: int, contact_id: int, issued_at: datetime, days: int) -> str:
    day = ((issued_at.date() + timedelta(days=days)) - _EPOCH).days
    return f"{case_id}-{contact_id}-{day}-{_mac(secret, case_id, contact_id, day)}"


def read_reply_token(secret: bytes, token: str) -> ReplyReference:
    """The case and contact a token names, or :class:`BadReplyToken`. Expiry is the caller's
    to check (against its clock)."""
    found = _TOKEN.match(token.lower())
    if found is None:
        raise BadReplyToken("the reply address is not one we issued")
    case_id, contact_id, day = (int(g) for g in found.groups()[:3])
    if not hmac.compare_digest(_mac(secret, case_id, contact_id, day), found.group(4)):
        raise BadReplyToken("the reply address is not one we issued")
    return ReplyReference(case_id=case_id, contact_id=contact_id, expires=_EPOCH + timedelta(days=day))


def split_address(address: str) -> tuple[str, str, str]:
    """``local+ext@domain`` → (local, ext, domain), local and domain lower-cased."""
    local, _, domain = address.strip().strip("<>").rpartition("@")
    base, _, extension = local.partition("+")
    return base.lower(), extension, domain.lower()


def reply_address(settings: MailInSettings, secret: bytes, case_id: int, contact_id: int, issued_at: datetime) -> str:
    """``[mail_in] address`` with this case's and contact's token as its plus extension."""
    local, _, domain = settings.address.partition("@")
    return f"{local}+{reply_token(secret, case_id, contact_id, issued_at, settings.token_days)}@{domain}"


def secret_path(settings: MailInSettings) -> Path:
    if settings.secret_file:
        return Path(settings.secret_file).expanduser()
    from platformdirs import user_data_path

    return user_data_path("pcso-tui") / SECRET_FILE_NAME


def reply_secret(settings: MailInSettings) -> bytes:
    """The signing key: ``[mail_in] secret``, else $PCSO_MAIL_IN_SECRET, else the key file,
    created (random, mode 0600, never overwritten) on first use. Read once, at start-up."""
    configured = settings.secret or os.environ.get(SECRET_ENV, "")
    if configured:
        return configured.encode("utf-8")
    path = secret_path(settings)
    try:
        key = _key_file(path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidInput(f"cannot read or create the reply key {path}: {reason}") from None
    if len(key) < 16:
        raise InvalidInput(f"{path} holds no usable key (fewer than 16 characters); delete it to make a new one")
    return key.encode("ascii")


def _key_file(path: Path) -> str:
    if not path.exists():
        # Written whole under another name, then linked into place: a process starting at the
        # same moment either finds the complete key or loses the race and reads the winner's.
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32) + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)
        finally:
            draft.unlink()
    return path.read_text(encoding="ascii").strip()
