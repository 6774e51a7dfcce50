"""Row conversion shared by the record modules (sessions: nova_runtime.cells)."""

from nova_runtime.objects import exceptions


def as_dict(row):
    """Every column of an ORM row, by column name."""
    return {column.name: getattr(row, column.key)
            for column in row.__table__.columns}


def check_fields(values, allowed, what):
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise exceptions.InvalidField(f"cannot set {', '.join(unknown)} of {what}")
