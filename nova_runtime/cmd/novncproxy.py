"""nova-novncproxy (to be built: see the project's issues)."""

from nova_runtime.cmd import not_implemented


def main():
    return not_implemented("nova-novncproxy")
