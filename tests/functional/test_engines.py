"""The engines' connections to a real MariaDB."""

import pytest

from nova_runtime.db import engines

pytestmark = pytest.mark.mysql


def test_no_tls_unless_the_url_asks_for_it(nova_databases):
    """PyMySQL 2 would try TLS ("preferred") and build an SSL context for
    every connection; the engines keep PyMySQL 1's behaviour."""
    engine = engines.get_engine(nova_databases["main"])
    try:
        with engine.connect() as connection:
            driver = connection.connection.driver_connection
            assert getattr(driver, "ctx", None) is None
            assert not driver.ssl
    finally:
        engines.dispose_all()
