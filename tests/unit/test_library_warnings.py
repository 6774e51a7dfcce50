"""Library warnings stay out of the commands' stderr (nova_runtime/__init__.py)
unless PYTHONWARNINGS asks for them."""

import os
import subprocess
import sys

NOISY_LIBRARY = '''\
import warnings
warnings.warn("DSA is deprecated", DeprecationWarning)
warnings.warn("old API", UserWarning)  # cryptography's notices are UserWarnings
'''
# Imports nova_runtime first, as every console script does, then a library
# that warns on import, then warns from a nova_runtime module's name.
PROGRAM = '''\
import warnings
import nova_runtime
import noisy_library
warnings.warn_explicit("our own", UserWarning, "manage.py", 1, module="nova_runtime.cmd.manage")
'''


def run(tmp_path, **env):
    (tmp_path / "noisy_library.py").write_text(NOISY_LIBRARY)
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    environ.update(PYTHONPATH=str(tmp_path), **env)
    result = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True,
                            env=environ, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_library_warnings_are_hidden_and_our_own_shown(tmp_path):
    stderr = run(tmp_path)
    assert "DSA is deprecated" not in stderr and "old API" not in stderr
    assert "our own" in stderr


def test_pythonwarnings_shows_them_again(tmp_path):
    stderr = run(tmp_path, PYTHONWARNINGS="default")
    assert "DSA is deprecated" in stderr and "old API" in stderr and "our own" in stderr
