"""Key pairs of users, in the API database."""

import sqlalchemy as sa

from nova_runtime import cells
from nova_runtime.db.api import models
from nova_runtime.objects import exceptions

KeyPair = models.KeyPair


def _as_dict(row):
    return {column.key: getattr(row, column.key) for column in KeyPair.__table__.columns}


def list_keypairs(api_url, user_id):
    with cells.session(api_url) as session:
        rows = session.scalars(
            sa.select(KeyPair).filter_by(user_id=user_id).order_by(KeyPair.name)).all()
    return [_as_dict(row) for row in rows]


def count(api_url, user_id):
    with cells.session(api_url) as session:
        return session.scalar(
            sa.select(sa.func.count()).select_from(KeyPair).filter_by(user_id=user_id))


def get(api_url, user_id, name):
    with cells.session(api_url) as session:
        row = session.scalar(sa.select(KeyPair).filter_by(user_id=user_id, name=name))
    if row is None:
        raise exceptions.NotFound(f"Keypair {name} not found for user {user_id}")
    return _as_dict(row)


def create(api_url, *, user_id, name, public_key, fingerprint, key_type):
    with cells.session(api_url) as session:
        if session.scalar(sa.select(KeyPair.id).filter_by(user_id=user_id, name=name)):
            raise exceptions.Conflict(f"Key pair '{name}' already exists.")
        row = KeyPair(user_id=user_id, name=name, public_key=public_key,
                      fingerprint=fingerprint, type=key_type)
        session.add(row)
        try:
            session.flush()
        except sa.exc.IntegrityError:
            raise exceptions.Conflict(f"Key pair '{name}' already exists.") from None
    return _as_dict(row)


def delete(api_url, user_id, name):
    with cells.session(api_url) as session:
        deleted = session.execute(
            sa.delete(KeyPair).filter_by(user_id=user_id, name=name)).rowcount
    if not deleted:
        raise exceptions.NotFound(f"Keypair {name} not found for user {user_id}")
