"""plugins/filter/mariadb_accounts.py: which accounts roles/mariadb_database hands to
community.mysql.mysql_user, from what community.mysql.mysql_info (users_info) found."""

import importlib.util
import os

_PATH = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir,
                     "plugins", "filter", "mariadb_accounts.py")
_spec = importlib.util.spec_from_file_location("mariadb_accounts_filters", _PATH)
filters = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(filters)

HOSTS = ["localhost", "%"]
DATABASES = ["nova_api", "nova", "nova_cell0"]
# MariaDB's PASSWORD('secret').
SECRET_HASH = "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7"


def account(host, priv="nova_api.*:ALL/nova.*:ALL/nova_cell0.*:ALL", name="nova", **extra):
    """An account as mysql_info's users_info returns it."""
    found = {"name": name, "host": host, "priv": priv, "plugin": "mysql_native_password",
             "plugin_auth_string": SECRET_HASH, "plugin_hash_string": SECRET_HASH, "locked": False}
    found.update(extra)
    return found


def to_fix(users_info, password="secret"):
    return filters.mariadb_accounts_to_fix(users_info, "nova", HOSTS, password, DATABASES)


def test_the_hash_is_mariadbs():
    assert filters.mysql_native_password_hash("secret") == SECRET_HASH


def test_nothing_to_fix_when_both_accounts_are_as_wanted():
    others = [account("localhost", name="root", priv="*.*:ALL,GRANT", plugin="unix_socket"),
              account("%", name="glance", priv="glance.*:ALL")]
    assert to_fix(others + [account("localhost"), account("%")]) == []


def test_grants_in_another_order_are_the_same():
    assert to_fix([account("localhost", priv="nova.*:ALL/nova_cell0.*:ALL/nova_api.*:ALL"),
                   account("%")]) == []


def test_a_missing_account_is_made():
    assert to_fix([account("%")]) == ["localhost"]
    assert to_fix([]) == HOSTS
    assert to_fix(None) == HOSTS


def test_another_password_is_corrected():
    assert to_fix([account("localhost"), account("%")], password="other") == HOSTS


def test_another_plugin_is_corrected():
    assert to_fix([account("localhost", plugin="ed25519"), account("%")]) == ["localhost"]


def test_missing_or_extra_privileges_are_corrected():
    assert to_fix([account("localhost", priv="nova_api.*:ALL/nova.*:ALL"),
                   account("%", priv="nova_api.*:ALL/nova.*:ALL/nova_cell0.*:ALL/mysql.*:SELECT")]) == HOSTS
    assert to_fix([account("localhost", priv="nova_api.*:ALL,GRANT/nova.*:ALL/nova_cell0.*:ALL"),
                   account("%", priv="*.*:USAGE")]) == HOSTS


def test_registered_with_ansible():
    assert set(filters.FilterModule().filters()) == {"mariadb_accounts_to_fix", "mysql_native_password_hash"}
