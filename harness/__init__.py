"""What the tests (tests/) and the benchmarks (bench/) start and drive: private
servers, upstream OpenStack services from PyPI, nova_runtime's daemons as
processes, and clouds made of them. Not part of the nova_runtime package.

- ``mariadb``, ``rabbitmq``, ``memcached``: private servers on free loopback
  ports, with their own files; never the machine's own.
- ``upstream``: cached virtualenvs of upstream OpenStack from PyPI (what the
  roles install, and upstream Nova for the benchmarks), served by uwsgi.
- ``keystone``, ``placement``, ``glance``: those services, set up as the
  install guide and the toolkit set them up.
- ``processes``: a free port, waiting (a condition, an HTTP server), stopping
  a process; ``daemons``: nova_runtime's daemons as processes; ``cli``:
  console scripts as processes, nova-manage's install-guide steps.
- ``nova_conf``: nova.conf files as layers of {section: {option: value}}, with
  the options every daemon started here shares; ``databases``: Nova's
  databases on the private MariaDB.
- ``cloud``: conductor, computes (fake driver) and scheduler as processes,
  driven through nova_runtime.compute.api; ``full_cloud``: the same behind
  nova-api, Keystone and Glance; ``compute_cloud``: nova-api alone.
- ``scheduler_reference``: a plain per-host filter scheduler that the
  vectorised one is checked (and timed) against.
- ``bulk_servers``: servers written straight into the databases, as the
  conductor and the computes leave them (a cloud that already holds many);
  ``measure``: percentiles, the CPU time of groups of processes, which Python
  runs a virtualenv.

Importable from the repository's root: pytest adds it (pyproject.toml's
``pythonpath``), and each bench script puts it first on sys.path.
"""
