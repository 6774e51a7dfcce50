"""Judges a Tempest run from its subunit stream (stdin: `stestr last --subunit`).

    python tempest_result.py EXPECTED_SKIPS

Prints the failures, then each skip not allowed by EXPECTED_SKIPS, then one
line "N passed, M failed, K skipped"; exits 1 if anything failed (a test, or a
setUpClass/tearDownClass, which hides a whole class) or skipped unexpectedly.

EXPECTED_SKIPS holds one test id, class or module a line, then "#" and why
it may skip (a service the deployment does not have, a feature it turns off).
A skipped class shows up as "setUpClass (tempest.api...Class)".
"""

import re
import sys


def read_expected(path):
    expected = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            test_id, _, reason = line.partition("#")
            test_id = test_id.strip()
            if not test_id:
                continue
            if not reason.strip():
                sys.exit(f"{path}:{number}: {test_id} has no reason after '#'")
            expected[test_id] = reason.strip()
    return expected


def plain_id(test_id):
    """tempest.api.x.C.test_y[id-...,smoke] -> tempest.api.x.C.test_y;
    setUpClass (tempest.api.x.C) -> tempest.api.x.C"""
    fixture = re.match(r"(?:setUpClass|tearDownClass) \((.+)\)$", test_id)
    if fixture:
        return fixture.group(1)
    return test_id.split("[", 1)[0]


def allowed(test_id, expected):
    parts = plain_id(test_id).split(".")
    return any(".".join(parts[:n]) in expected for n in range(1, len(parts) + 1))


def read_results(stream):
    import subunit  # Tempest's virtualenv has them; the judging above needs neither
    import testtools

    tests = []
    result = testtools.StreamToDict(tests.append)
    result.startTestRun()
    subunit.ByteStreamToStreamResult(stream, non_subunit_name="stdout").run(result)
    result.stopTestRun()
    return [test for test in tests if test["status"] != "exists"]


def skip_reason(test):
    detail = test["details"].get("reason")
    return detail.as_text().strip() if detail is not None else ""


def main():
    expected = read_expected(sys.argv[1])
    tests = read_results(sys.stdin.buffer)
    passed = [t for t in tests if t["status"] in ("success", "xfail")]
    failed = [t for t in tests if t["status"] in ("fail", "uxsuccess")]
    skipped = [t for t in tests if t["status"] == "skip"]
    unexpected = [t for t in skipped if not allowed(t["id"], expected)]
    for test in failed:
        print(f"FAILED {test['id']}")
    for test in unexpected:
        print(f"UNEXPECTED SKIP {test['id']}: {skip_reason(test)}")
    print(f"{len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped"
          + (f" ({len(unexpected)} not expected)" if unexpected else ""))
    return 1 if failed or unexpected or not tests else 0


if __name__ == "__main__":
    sys.exit(main())
