import pytest

from nova_runtime.scheduler.extra_specs_ops import match


@pytest.mark.parametrize("value, requirement, expected", [
    ("1", "1", True),                      # plain value: string equality
    ("12", "1", False),
    ("x86_64", "x86_64", True),
    ("8", "= 4", True),                    # '=' means at least
    ("2", "= 4", False),
    ("4.0", "== 4", True),
    ("4.1", "== 4", False),
    ("3", "!= 4", True),
    ("4", "!= 4", False),
    ("5", ">= 5", True),
    ("4", ">= 5", False),
    ("5", "<= 5", True),
    ("6", "<= 5", False),
    ("abc", "= 4", False),                 # non-numeric never passes a numeric test
    ("QEMU", "s== QEMU", True),
    ("qemu", "s== QEMU", False),
    ("kvm", "s!= QEMU", True),
    ("a", "s< b", True),
    ("b", "s<= b", True),
    ("c", "s> b", True),
    ("b", "s>= c", False),
    ("avx avx2 sse", "<in> avx2", True),
    ("avx sse", "<in> avx2", False),
    ("['avx', 'sse']", "<all-in> avx sse", True),
    ("['avx']", "<all-in> avx sse", False),
    ("kvm", "<or> xen <or> kvm", True),
    ("qemu", "<or> xen <or> kvm", False),
    ("xen", "<or> xen", True),
    ("5", ">=", False),                    # an operator without operand
    ("<= 5", "<= 5", False),
    ("s== a", "s== a", False),
    ("foo bar", "foo bar", True),          # not an operator: the whole text is the value
])
def test_match(value, requirement, expected):
    assert match(value, requirement) is expected


def test_a_missing_value_only_matches_nothing():
    assert match(None, "= 1") is False
    assert match(None, "<or> a <or> b") is False
    assert match(None, "a") is False
