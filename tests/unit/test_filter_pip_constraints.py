"""plugins/filter/pip_constraints.py: the constraints of one virtualenv."""

import importlib.util
import os

import pytest

_ROOT = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir)
_spec = importlib.util.spec_from_file_location(
    "pip_constraints_filter", os.path.join(_ROOT, "plugins", "filter", "pip_constraints.py"))
filters = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(filters)

CONSTRAINTS = """\
# a comment
attrs==25.4.0
jsonschema==4.26.0
Jsonschema-Specifications==2025.9.1

python_memcached==1.62  # trailing comment
"""


def test_without_overrides_every_pin_is_kept_and_comments_dropped():
    assert filters.pip_constraints(CONSTRAINTS) == (
        "attrs==25.4.0\njsonschema==4.26.0\nJsonschema-Specifications==2025.9.1\n"
        "python_memcached==1.62\n")


def test_an_override_replaces_the_pin_of_its_package_only():
    kept = filters.pip_constraints(CONSTRAINTS, ["jsonschema==3.2.0"])
    assert "jsonschema==" not in kept
    assert "Jsonschema-Specifications==2025.9.1" in kept  # another package


@pytest.mark.parametrize("line, name", [
    ("python-memcached", "python-memcached"), ("Python_Memcached==1.62", "python-memcached"),
    ("openstacksdk<4.15", "openstacksdk"), ("zope.interface>=5", "zope-interface"),
    ("PyMySQL[rsa]==1.2.4", "pymysql")])
def test_names_are_normalised_as_pip_does(line, name):
    assert filters.requirement_name(line) == name
    assert filters.pip_constraints(f"{name}==1\n", [line]) == ""


def test_the_repository_constraints_pin_every_line_exactly():
    with open(os.path.join(_ROOT, "constraints.txt")) as f:
        lines = filters.pip_constraints(f.read()).splitlines()
    assert len(lines) > 100
    assert all("==" in line for line in lines)
    names = [filters.requirement_name(line) for line in lines]
    assert len(names) == len(set(names))  # one version of each package


def test_a_line_that_is_not_a_requirement_is_refused():
    with pytest.raises(ValueError, match="not a requirement line"):
        filters.pip_constraints("==1.0\n")
