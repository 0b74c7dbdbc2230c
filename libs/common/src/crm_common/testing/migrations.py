"""Checking that a service's migrations build exactly the tables its models declare."""

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, Table
from sqlmodel import SQLModel


def service_metadata(package: str) -> MetaData:
    """The tables of `package`'s models and crm_common's, without other services' tables that
    share SQLModel's one global registry when several services load in one process."""
    metadata = MetaData()
    owners = (f"{package}.", "crm_common.")
    for mapper in SQLModel._sa_registry.mappers:
        table = mapper.local_table
        if (
            isinstance(table, Table)
            and mapper.class_.__module__.startswith(owners)
            and table.name not in metadata.tables
        ):
            table.to_metadata(metadata)
    return metadata


def migration_drift(connection: Connection, package: str) -> list[Any]:
    """What autogenerate would change to make the database match `package`'s models."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, service_metadata(package)))
