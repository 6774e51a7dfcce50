"""Run nova_runtime's console scripts the way operators do: as processes."""

import dataclasses
import os
import subprocess
import sys

BIN = os.path.dirname(sys.executable)


@dataclasses.dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


def run(script, *args, config_file=None, timeout=120):
    path = os.path.join(BIN, script)
    if not os.path.exists(path):
        raise RuntimeError(f"{path} is missing: install the package (pip install -e .)")
    argv = [path]
    if config_file:
        argv += ["--config-file", str(config_file)]
    result = subprocess.run(argv + list(args), capture_output=True, text=True, timeout=timeout)
    return Run(result.returncode, result.stdout, result.stderr)


def write_nova_conf(path, api_url, main_url, transport_url="rabbit://openstack:RABBIT_PASS@127.0.0.1:5672/",
                    extra=""):
    path.write_text(
        "[DEFAULT]\n"
        f"transport_url = {transport_url}\n"
        "[api_database]\n"
        f"connection = {api_url}\n"
        "[database]\n"
        f"connection = {main_url}\n"
        f"{extra}")
    return path
