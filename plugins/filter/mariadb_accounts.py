"""Which accounts of a database user community.mysql.mysql_user has to make or correct.

One read of the server's accounts (community.mysql.mysql_info, filter users_info)
replaces a mysql_user run per account on a re-run (each connects, reads the
account's grants and its password hash): roles/mariadb_database runs mysql_user
only for the accounts this filter returns, and mysql_user makes or corrects them.
"""

import hashlib


def mysql_native_password_hash(password):
    """The hash MariaDB keeps for ``password`` under mysql_native_password:
    "*" and the SHA1 of its SHA1, in upper-case hex (MariaDB's PASSWORD())."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


def mariadb_accounts_to_fix(users_info, user, hosts, password, databases):
    """The hosts of ``hosts`` whose account ``user``@host mysql_user would change,
    given ``users_info`` (mysql_info's list of accounts): absent, another
    password or authentication plugin, or privileges other than exactly ALL on
    each of ``databases`` (mysql_user with append_privs false revokes the rest).
    What cannot be read as wanted counts as different.
    """
    wanted_privs = {f"{database}.*:ALL" for database in databases}
    wanted_hash = mysql_native_password_hash(password)
    accounts = {account.get("host"): account for account in users_info or []
                if account.get("name") == user}
    return [host for host in hosts if not _as_wanted(accounts.get(host), wanted_privs, wanted_hash)]


def _as_wanted(account, wanted_privs, wanted_hash):
    if account is None:
        return False
    privs = {priv for priv in (account.get("priv") or "").split("/") if priv}
    return (privs == wanted_privs
            and account.get("plugin") == "mysql_native_password"
            and account.get("plugin_auth_string") == wanted_hash)


class FilterModule:
    def filters(self):
        return {
            "mariadb_accounts_to_fix": mariadb_accounts_to_fix,
            "mysql_native_password_hash": mysql_native_password_hash,
        }
