"""SSH public keys per user (``pcso users keys``) and the gateway's lookups."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pcso_tui.domain.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pcso_tui.domain.core.event_kinds import GatewaySecretCreated, UserKeyAdded, UserKeyRemoved
from pcso_tui.domain.core.events import events_after
from pcso_tui.domain.core.models import UserKey
from pcso_tui.domain.core.roles import Actor, Role
from pcso_tui.domain.core.service import Domain
from pcso_tui.domain.core.user_keys import (
    add_user_key,
    gateway_secret,
    key_owner,
    list_user_keys,
    parse_public_key,
    remove_user_key,
)
from pcso_tui.domain.core.users import sign_in


@pytest.fixture(scope="module")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A real OpenSSH ed25519 public key and ssh-keygen's own SHA256 fingerprint of it."""
    path = tmp_path_factory.mktemp("keys") / "id"
    try:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ada@laptop", "-f", str(path)], check=True)
    except FileNotFoundError:
        pytest.skip("ssh-keygen is not installed")
    listed = subprocess.run(["ssh-keygen", "-lf", f"{path}.pub"], check=True, capture_output=True, text=True)
    return Path(f"{path}.pub").read_text(), listed.stdout.split()[1]


async def key_rows(domain: Domain) -> int:
    async with domain.reading() as session:
        return await session.scalar(select(func.count()).select_from(UserKey)) or 0


def test_parse_gives_ssh_keygens_fingerprint(keypair: tuple[str, str]) -> None:
    text, fingerprint = keypair
    key = parse_public_key(text)
    assert key.fingerprint == fingerprint and fingerprint.startswith("SHA256:")
    assert key.algorithm == "ssh-ed25519" and key.comment == "ada@laptop"
    assert key.openssh == " ".join(text.split()[:2])


def test_a_hostile_comment_is_kept_as_printable_text(keypair: tuple[str, str]) -> None:
    text, fingerprint = keypair
    line = " ".join(text.split()[:2]) + " \x1b[2J[bold red]evil[/]\x07 josé"
    key = parse_public_key(line)
    assert key.fingerprint == fingerprint
    assert "\x1b" not in key.comment and "\x07" not in key.comment and key.comment.endswith("josé")
    assert "[bold red]evil[/]" in key.comment  # kept as text, never read as markup


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "holds no SSH public key"),
        ("ssh-ed25519 AAAAnotbase64!!", "is not an SSH public key"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n", "is a private key"),
        ("\x1b[2J[red]x[/red]", "is not an SSH public key"),
        ("ssh-ed25519 AAAA\nssh-ed25519 BBBB\n", "give one public key at a time"),
        ("x" * 20_000, "larger than"),
    ],
)
def test_bad_keys_are_one_line_refusals(text: str, says: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_public_key(text, "key file 'k'")
    assert says in refused.value.message and "\n" not in refused.value.message
    assert "\x1b" not in refused.value.message


async def test_add_list_remove_record_events(
    domain: Domain, actors: dict[Role, Actor], keypair: tuple[str, str]
) -> None:
    text, fingerprint = keypair
    admin = actors[Role.ADMIN]
    before = await events_after_all(domain)
    added = await add_user_key(domain, admin, "agent", text)
    assert (added.user, added.fingerprint, added.algorithm) == ("agent", fingerprint, "ssh-ed25519")
    assert [k.fingerprint for k in await list_user_keys(domain, admin, "agent")] == [fingerprint]
    assert await list_user_keys(domain, admin, "operator") == []
    owner = await key_owner(domain, fingerprint)
    assert owner is not None and (owner.name, owner.active) == ("agent", True)

    removed = await remove_user_key(domain, admin, "agent", fingerprint)
    assert removed.fingerprint == fingerprint
    assert await key_owner(domain, fingerprint) is None and await key_rows(domain) == 0
    typed = [e.typed() for e in (await events_after_all(domain))[len(before) :]]
    assert typed == [
        UserKeyAdded(name="agent", fingerprint=fingerprint, algorithm="ssh-ed25519"),
        UserKeyRemoved(name="agent", fingerprint=fingerprint),
    ]


async def events_after_all(domain: Domain) -> list:
    async with domain.reading() as session:
        return await events_after(session, 0)


async def test_refusals_change_nothing(domain: Domain, actors: dict[Role, Actor], keypair: tuple[str, str]) -> None:
    text, fingerprint = keypair
    admin = actors[Role.ADMIN]
    await add_user_key(domain, admin, "agent", text)
    events = len(await events_after_all(domain))
    with pytest.raises(Conflict, match="already registered for 'agent'"):
        await add_user_key(domain, admin, "operator", text)
    with pytest.raises(PermissionDenied):
        await add_user_key(domain, actors[Role.AGENT], "agent", text)
    with pytest.raises(PermissionDenied):
        await list_user_keys(domain, actors[Role.MANAGER])
    with pytest.raises(PermissionDenied):
        await remove_user_key(domain, actors[Role.CUSTOMER], "agent", fingerprint)
    with pytest.raises(NotFound, match="no pcso user named 'nobody'"):
        await add_user_key(domain, admin, "nobody", text.replace("ada", "bob"))
    with pytest.raises(NotFound, match="has no key"):
        await remove_user_key(domain, admin, "operator", fingerprint)
    assert await key_rows(domain) == 1 and len(await events_after_all(domain)) == events


async def test_events_carry_the_key_a_gateway_user_signed_in_with(
    domain: Domain, actors: dict[Role, Actor], keypair: tuple[str, str]
) -> None:
    text, fingerprint = keypair
    await add_user_key(domain, actors[Role.ADMIN], "admin", text)
    via_key = await sign_in(domain, "admin", key_fingerprint=fingerprint)
    await remove_user_key(domain, via_key, "admin", fingerprint)
    last = (await events_after_all(domain))[-1]
    assert last.kind == "user.key_removed" and last.key_fingerprint == fingerprint
    assert (await events_after_all(domain))[-2].key_fingerprint is None


async def test_the_gateway_secret_is_made_once(domain: Domain) -> None:
    first = await gateway_secret(domain)
    assert len(first) == 32 and await gateway_secret(domain) == first
    made = [e for e in await events_after_all(domain) if isinstance(e.typed(), GatewaySecretCreated)]
    assert len(made) == 1
