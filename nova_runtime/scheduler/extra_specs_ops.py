"""The small language of flavor extra specs and aggregate metadata matching.

A requirement is either a plain value, compared for string equality, or an
operator followed by operands, as upstream Nova documents them::

    =  <n>         numeric, at least n          s== <s>   string equal
    == <n>         numeric equal                s!= <s>   string not equal
    != <n>         numeric not equal            s<, s<=, s>, s>= <s>  string order
    >= <n>, <= <n> numeric order                <in> <s>  s is a substring of the value
    <all-in> <a> <b> ...  every word is in the value
    <or> <a> <or> <b> ... the value equals one of the words

A first word that is no operator makes the whole requirement a plain value.
"""

import operator


def _numeric(compare):
    def method(value, operand):
        try:
            return compare(float(value), float(operand))
        except ValueError:  # a non-numeric capability never satisfies a numeric test
            return False
    return method


_OPERATORS = {
    "=": _numeric(operator.ge),
    "==": _numeric(operator.eq),
    "!=": _numeric(operator.ne),
    ">=": _numeric(operator.ge),
    "<=": _numeric(operator.le),
    "s==": operator.eq,
    "s!=": operator.ne,
    "s<": operator.lt,
    "s<=": operator.le,
    "s>": operator.gt,
    "s>=": operator.ge,
    "<in>": lambda value, operand: operand in value,
}


def match(value, requirement):
    """True when ``value`` (a string, or None when the host has none) satisfies
    ``requirement``."""
    words = requirement.split()
    op = words[0] if words else None
    if op != "<or>" and op != "<all-in>" and op not in _OPERATORS:
        return value == requirement
    if value is None:
        return False
    operands = words[1:]
    if op == "<or>":
        # "<or> a <or> b <or> c": the alternatives sit at every other word.
        return value in operands[::2]
    if not operands:
        return False
    if op == "<all-in>":
        return all(word in value for word in operands)
    return _OPERATORS[op](value, operands[0])
