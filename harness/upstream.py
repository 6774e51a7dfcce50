"""Upstream OpenStack from PyPI for tests and benchmarks: Keystone, Glance,
Placement (and upstream Nova, which the benchmarks compare with).

Each is installed from PyPI once into a virtualenv of its own, cached under
/var/tmp (NOVA_RUNTIME_TEST_CACHE), and served by uwsgi on a private loopback
port, as the toolkit serves them in deployments.
"""

import fcntl
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys

import yaml

CACHE = os.environ.get("NOVA_RUNTIME_TEST_CACHE", "/var/tmp")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_filter(name):
    spec = importlib.util.spec_from_file_location(
        f"{name}_filter", os.path.join(ROOT, "plugins", "filter", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pip_constraints = _load_filter("pip_constraints").pip_constraints


def role_venv(role):
    """The cached virtualenv of what ``role`` installs in deployments
    (``ROLE_pip_packages`` and ``ROLE_pip_overrides`` of its defaults), at the
    versions of constraints.txt, as roles/python_venv installs it."""
    with open(os.path.join(ROOT, "roles", role, "defaults", "main.yml")) as f:
        defaults = yaml.safe_load(f)
    return cached_venv(role, defaults[f"{role}_pip_packages"],
                       defaults.get(f"{role}_pip_overrides", []))


def cached_venv(name, requirements, overrides=()):
    """The cached virtualenv ``name`` with ``requirements`` (and ``overrides``,
    which replace their packages' pins) installed under constraints.txt; built
    once, under a lock so that parallel sessions do not build it twice."""
    requirements = [*requirements, *overrides]
    with open(os.path.join(ROOT, "constraints.txt")) as f:
        constraints = pip_constraints(f.read(), overrides)
    key = hashlib.sha1("\n".join([*requirements, constraints]).encode()).hexdigest()[:12]
    venv = os.path.join(CACHE, f"nova-runtime-{name}-{key}")
    done = os.path.join(venv, ".complete")
    os.makedirs(CACHE, exist_ok=True)
    with open(venv + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(done):
            shutil.rmtree(venv, ignore_errors=True)
            python = getattr(sys, "_base_executable", sys.executable)
            subprocess.run([python, "-m", "venv", venv], check=True)
            with open(os.path.join(venv, "constraints.txt"), "w") as f:
                f.write(constraints)
            install = subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q",
                                      "-c", f.name, *requirements],
                                     capture_output=True, text=True)
            if install.returncode:
                raise RuntimeError(f"pip install {' '.join(requirements)} failed:\n"
                                   f"{install.stderr[-3000:]}")
            open(done, "w").close()
    return venv


def start_uwsgi(venv, wsgi_file, port, log, workdir, threads=2, processes=1, extra=()):
    """uwsgi serving ``wsgi_file`` on 127.0.0.1:``port``; its output goes to
    ``log``. ``processes`` workers of ``threads`` threads; ``extra``: more
    uwsgi arguments (``--lazy-apps`` for an application that must not be
    loaded before the fork)."""
    # uwsgi embeds libpython: make it load the one of the venv's interpreter,
    # not another Python 3.11 that the dynamic loader finds first.
    libdir = subprocess.run(
        [os.path.join(venv, "bin", "python"), "-c",
         "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))"],
        check=True, capture_output=True, text=True).stdout.strip()
    env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    with open(log, "ab") as output:
        # --die-on-term: uwsgi's master otherwise takes SIGTERM as "reload".
        return subprocess.Popen(
            [os.path.join(venv, "bin", "uwsgi"), "--http-socket", f"127.0.0.1:{port}",
             "--wsgi-file", wsgi_file, "--master", "--processes", str(processes),
             "--threads", str(threads), "--die-on-term", "--need-app",
             # uwsgi's http-socket does not keep connections alive; say so, or
             # clients that reuse one get "connection reset by peer".
             "--add-header", "Connection: close", *extra],
            stdout=output, stderr=subprocess.STDOUT, cwd=workdir, env=env)


# Upstream Nova from PyPI, for the benchmarks' ``--against upstream``
# (bench/upstream_nova.py). No role installs it, so it is not a role_venv:
# constraints.txt pins what it shares with the services (oslo.*, SQLAlchemy,
# keystonemiddleware, PyMySQL, uwsgi...), pip resolves the rest of nova's
# requirements (os-vif, os-brick, oslo.versionedobjects...) as of the build.
UPSTREAM_NOVA = ("nova>=34,<35", "uwsgi", "PyMySQL", "python-memcached")


def upstream_nova_venv():
    """The cached virtualenv of upstream Nova 34.x (built once, about a minute)."""
    return cached_venv("nova-upstream", UPSTREAM_NOVA)
