"""Where the workspace connects and as whom: what the CLI hands the App (and tests build directly).

``Connection`` sits below both ``pcso_tui.app`` and ``pcso_tui.cli``: the command line builds
one from its flags (``cli.common.CliContext`` is a ``Connection``), the App only reads it.
Nothing heavy is imported at module level: the App shows its first frame before the database
stack is loaded.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pcso_tui.config import Config
    from pcso_tui.domain.core.roles import Actor
    from pcso_tui.domain.core.service import Domain


@dataclass
class Connection:
    """The database (``--db``, else the config file's), the config file, and ``--as``.

    Who is signing in is never an input: it is the operating-system account of this process,
    or ``authenticated_user`` when a trusted in-process caller (the SSH gateway, which checked
    the user's key) builds the connection. Nothing read from argv or the environment sets it.
    """

    db_option: str | None
    config_option: Path | None
    as_name: str | None
    # Set only by a trusted in-process caller (``pcso gateway``'s session, after checking the
    # gateway's signed ticket): the user is then this one, not the OS account.
    authenticated_user: str | None = None
    # The SSH key (fingerprint) the gateway authenticated ``authenticated_user`` with.
    authenticated_key: str | None = None
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            from pcso_tui import config

            self._config = config.load(self.config_option)
        return self._config

    @property
    def database_url(self) -> str | None:
        return self.db_option or self.config.database_url

    @staticmethod
    def os_user() -> str:
        """The OS account running this process, from its user id: never from the process's
        environment, which anyone can set."""
        return pwd.getpwuid(os.getuid()).pw_name

    def user_name(self) -> str:
        """The name this connection signs in as (before ``--as``)."""
        return self.authenticated_user or self.os_user()

    async def open_domain(self, *, upgrade: bool | None = None, create: bool = False) -> Domain:
        """The database named by ``--db`` or the config: it must exist unless ``create``
        (commands that make databases: seed, demo, db upgrade)."""
        from pcso_tui.domain.core.service import Domain
        from pcso_tui.plugins import plugin_manager

        return await Domain.open(
            self.database_url,
            settings=self.config.settings,
            hooks=plugin_manager().hook,
            upgrade=upgrade,
            create=create,
        )

    async def sign_in(self, domain: Domain) -> Actor:
        from pcso_tui.domain.core.users import sign_in

        return await sign_in(
            domain,
            self.user_name(),
            as_name=self.as_name,
            key_fingerprint=self.authenticated_key if self.authenticated_user else None,
        )
