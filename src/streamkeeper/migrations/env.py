"""Alembic environment: runs on a connection handed over by streamkeeper, or on the URL from
STREAMKEEPER_DATABASE_URL when invoked through the `alembic` command."""

import asyncio

from alembic import context

from streamkeeper.models import Base
from streamkeeper.settings import Settings

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from streamkeeper.database import create_engine

    async def main() -> None:
        engine = create_engine(Settings.from_env())
        async with engine.begin() as conn:
            await conn.run_sync(_run)
        await engine.dispose()

    asyncio.run(main())


if context.is_offline_mode():
    context.configure(url=Settings.from_env().catalog_url, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_online()
