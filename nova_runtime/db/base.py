"""Column types and mixins shared by the API and the cell database models."""

import datetime

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import mysql

# Serialized blobs (flavors, request specs, build requests) outgrow TEXT's 64 KiB on MySQL.
LongText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def table_args(*constraints):
    """A model's __table_args__: its constraints and indexes, and on MySQL InnoDB
    tables in utf8mb4 whatever the server's defaults are."""
    return (*constraints, {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"})


# sort_order puts the mixins' columns first (id) and last (timestamps) in each table.

class IdMixin:
    id: orm.Mapped[int] = orm.mapped_column(
        sa.Integer, primary_key=True, autoincrement=True, sort_order=-1)


class TimestampMixin:
    created_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime, default=utcnow, sort_order=1)
    updated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        sa.DateTime, onupdate=utcnow, sort_order=1)


class SoftDeleteMixin:
    """Rows of the cell database are kept after deletion, as upstream does.

    ``deleted`` is 0 for live rows and the row's id once deleted, so that unique
    constraints that include it allow a new live row with the same key."""

    deleted_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime, sort_order=1)
    deleted: orm.Mapped[int] = orm.mapped_column(
        sa.Integer, default=0, server_default="0", sort_order=1)

