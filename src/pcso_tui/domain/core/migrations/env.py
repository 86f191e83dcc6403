"""Alembic environment: always handed a live connection by ``pcso_tui.domain.core.schema``."""

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import JSON

from pcso_tui.domain.core.models import Base, UTCDateTime, is_full_text_name


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # UTCDateTime is a Python-side conversion; in the database it is a plain DateTime.
    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    if isinstance(obj, JSON):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')"
    return False


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    # The article search is written by hand per dialect (migration 0008): not a model's business.
    return not is_full_text_name(name)


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place; batch mode rebuilds tables instead.
    render_as_batch=connection.dialect.name == "sqlite",
    render_item=render_item,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
