"""Run nova_runtime's console scripts the way operators do: as processes;
nova-manage's steps of the install guide."""

import dataclasses
import os
import subprocess
import sys
import uuid

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


def manage(nova_conf, *args):
    """nova-manage ``args`` with ``nova_conf``; its Run."""
    return run("nova-manage", *args, config_file=nova_conf)


def setup_cells(nova_conf):
    """The install guide's sequence; returns cell1's UUID."""
    for step in (["api_db", "sync"], ["cell_v2", "map_cell0"],
                 ["cell_v2", "create_cell", "--name=cell1", "--verbose"], ["db", "sync"]):
        result = manage(nova_conf, *step)
        assert result.returncode == 0, f"nova-manage {' '.join(step)}: {result.stderr}"
        if step[1] == "create_cell":
            cell1 = str(uuid.UUID(result.stdout.strip()))
    return cell1
