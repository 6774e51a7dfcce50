"""[database] and [api_database] reach the engines, and bound a daemon's wait."""

import itertools
import threading
import uuid

import pytest

from nova_runtime import config, service
from nova_runtime.db import engines


@pytest.fixture
def conf():
    conf = config.new_conf()
    yield conf
    engines.configure(config.new_conf())  # back to the defaults for the other tests


def _mysql_url(name):
    # Port 1: nothing answers. attempts=0 makes the engine without connecting.
    return f"mysql+pymysql://nova:secret@127.0.0.1:1/{name}_{uuid.uuid4().hex[:8]}"


def test_pool_options_reach_the_engines_by_database(conf):
    api_url = _mysql_url("nova_api")
    conf.set_override("connection", api_url, group="api_database")
    for group, size, overflow, timeout, recycle in (("database", 7, 3, 12, 99),
                                                   ("api_database", 9, 4, 21, 77)):
        conf.set_override("max_pool_size", size, group=group)
        conf.set_override("max_overflow", overflow, group=group)
        conf.set_override("pool_timeout", timeout, group=group)
        conf.set_override("connection_recycle_time", recycle, group=group)
    engines.configure(conf)

    cell = engines.get_engine(_mysql_url("nova_cell1"), attempts=0).pool
    api = engines.get_engine(api_url, attempts=0).pool

    assert (cell.size(), cell._max_overflow, cell._timeout, cell._recycle) == (7, 3, 12, 99)
    assert (api.size(), api._max_overflow, api._timeout, api._recycle) == (9, 4, 21, 77)


def test_default_pool_is_sized_for_the_rpc_executor(conf):
    engines.configure(conf)
    pool = engines.get_engine(_mysql_url("nova"), attempts=0).pool
    # oslo.messaging's executor_thread_pool_size: one connection per RPC call at once.
    assert pool.size() == conf.executor_thread_pool_size == 64


def test_sqlite_synchronous_reaches_the_connection(conf, tmp_path):
    conf.set_override("sqlite_synchronous", False, group="database")
    engines.configure(conf)
    engine = engines.get_engine(f"sqlite:///{tmp_path}/nova.sqlite")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 0  # OFF


def test_connection_parameters_reach_the_url(conf):
    conf.set_override("connection_parameters", "charset=latin1", group="database")
    engines.configure(conf)
    engine = engines.get_engine(_mysql_url("nova"), attempts=0)
    assert engine.url.query["charset"] == "latin1"


@pytest.mark.parametrize("max_retries, attempts", [(0, 1), (2, 3)])
def test_max_retries_bounds_a_daemons_wait(conf, max_retries, attempts):
    conf.set_override("max_retries", max_retries, group="database")
    conf.set_override("retry_interval", 0, group="database")  # waits 1 s, the least
    tried = itertools.count(1)

    def probe():
        next(tried)
        raise service.Unavailable("down")

    delays = service.database_delays(conf.database)
    with pytest.raises(service.FatalError, match=f"after {attempts} attempts: down"):
        service.wait_for("the database", probe, delays, threading.Event())
    assert next(tried) == attempts + 1


def test_max_retries_minus_one_waits_for_ever(conf):
    # The default: daemons wait for their databases as long as it takes.
    assert conf.database.max_retries == conf.api_database.max_retries == -1
    delays = service.database_delays(conf.database)
    assert list(itertools.islice(delays, 1000)) == [conf.database.retry_interval] * 1000
