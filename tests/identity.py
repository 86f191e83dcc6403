"""Who the code under test signs in as.

``pcso`` signs in as the OS account of its process; no environment variable changes that. In
process, tests patch ``Connection.os_user`` (``signed_in_as``, ``set_os_user``) or hand a
``Connection`` its ``authenticated_user``. A subprocess runs as the real OS account: make that
account an admin of the database (``add_me_as_admin``) and pass ``--as NAME``.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import pytest

from pcso_tui.connection import Connection

ME = pwd.getpwuid(os.getuid()).pw_name


@contextmanager
def signed_in_as(name: str) -> Iterator[None]:
    """Run in-process ``pcso`` commands (click's CliRunner) as OS user ``name``."""
    with mock.patch.object(Connection, "os_user", staticmethod(lambda: name)):
        yield


def set_os_user(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """``signed_in_as`` for the rest of a test."""
    monkeypatch.setattr(Connection, "os_user", staticmethod(lambda: name))


async def add_me_as_admin(url: str) -> None:
    """Make the OS account running the tests an admin of the database at ``url`` (which has
    an admin named ``admin``), so a subprocess can act ``--as`` anyone."""
    from pcso_tui.domain.core.roles import Role
    from pcso_tui.domain.core.service import Domain
    from pcso_tui.domain.core.users import add_user, sign_in

    domain = await Domain.open(url)
    try:
        await add_user(domain, await sign_in(domain, "admin"), ME, Role.ADMIN)
    finally:
        await domain.close()
