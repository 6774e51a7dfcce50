"""Console tokens in the cell database: issued for an instance's console,
checked by the console proxy.

A token is a random string handed to the user inside the console URL. Only
its SHA-256 hash is stored (a database dump reveals no live token), with the
console's address (host, port), the instance, and an expiry in seconds since
the epoch, as upstream's console_auth_tokens table keeps them. A token stays
valid, for any number of connections, until it expires or its instance is
deleted; expired rows of a console host are removed whenever a new token for
that host is stored.
"""

import hashlib
import secrets
import time
import urllib.parse

import sqlalchemy as sa

from nova_runtime.db.main.models import ConsoleAuthToken, Instance
from nova_runtime.cells import session
from nova_runtime.objects._db import as_dict

# The one console type tokens are issued for (noVNC through nova-novncproxy).
NOVNC = "novnc"


class InvalidToken(Exception):
    """No live token has this value: unknown, expired, or its instance is gone.
    The message never contains the token."""


def new_token():
    """A fresh token: 128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


def hash_token(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def access_url(access_url_base, token):
    """The noVNC URL a user opens. noVNC (1.1 and later) reads the websocket
    path from its ``path`` parameter, so the token travels inside it,
    URL-encoded (``...vnc_auto.html?path=%3Ftoken%3D<token>``), as upstream
    hands it out."""
    query = urllib.parse.urlencode({"path": f"?token={token}"})
    separator = "&" if "?" in access_url_base else "?"
    return f"{access_url_base}{separator}{query}"


def create(url, *, token_hash, console_type, host, port, instance_uuid, ttl,
           access_url_base=None, internal_access_path=None, now=None):
    """Store a token (by its hash) that expires ``ttl`` seconds from ``now``
    (default: the current time); returns the row as a dict. Expired rows of
    the same console host go at the same time."""
    now = int(time.time() if now is None else now)
    with session(url) as db:
        db.execute(sa.delete(ConsoleAuthToken).where(
            ConsoleAuthToken.host == host, ConsoleAuthToken.expires <= now))
        row = ConsoleAuthToken(
            token_hash=token_hash, console_type=console_type, host=host, port=port,
            internal_access_path=internal_access_path, instance_uuid=instance_uuid,
            expires=now + ttl, access_url_base=access_url_base)
        db.add(row)
    return as_dict(row)


def validate(url, token, now=None):
    """The row of ``token`` if it is live: known, not expired, and its instance
    not deleted (its console port may belong to another instance by now).
    Raises InvalidToken otherwise."""
    now = int(time.time() if now is None else now)
    with session(url) as db:
        row = db.scalar(
            sa.select(ConsoleAuthToken)
            .join(Instance, Instance.uuid == ConsoleAuthToken.instance_uuid)
            .where(ConsoleAuthToken.token_hash == hash_token(token),
                   ConsoleAuthToken.deleted == 0,
                   ConsoleAuthToken.expires > now,
                   Instance.deleted == 0))
        if row is None:
            raise InvalidToken("the console token is unknown, expired, or its instance is gone")
        return as_dict(row)


def destroy_for_instance(url, instance_uuid):
    """Remove every token of the instance (it was deleted or moved); returns how many."""
    with session(url) as db:
        return db.execute(sa.delete(ConsoleAuthToken).where(
            ConsoleAuthToken.instance_uuid == instance_uuid)).rowcount


def destroy_expired(url, now=None):
    now = int(time.time() if now is None else now)
    with session(url) as db:
        return db.execute(sa.delete(ConsoleAuthToken).where(
            ConsoleAuthToken.expires <= now)).rowcount
