"""``pcso web``: the customers' portal on the web (docs/web.md).

A thin front door: it signs a contact in (``domain.casework.web_access``) and shows them the
same portal queries the terminal portal reads (``domain.casework.portal``), rendered on the
server with Jinja2 (autoescaping on). No JavaScript is needed anywhere.
"""

from pcso_tui.web.app import create_web_app, serve

__all__ = ["create_web_app", "serve"]
