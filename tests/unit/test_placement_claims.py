"""Claims, their retries, and nova-compute's reports when Placement fails,
against a recording Placement double (the real one: tests/functional/test_placement.py)."""

import logging
import threading
import time

import pytest

from nova_runtime import config, placement
from nova_runtime.compute import resource_tracker
from nova_runtime.placement import claims, client as placement_client, report
from nova_runtime.virt import fake

REQUEST = {"allocations": {"n1": {"resources": {"VCPU": 1, "MEMORY_MB": 512}}}}


class Placement:
    """Answers from a script: each put_allocations pops the next outcome (None
    = success, or an exception); get_allocations returns ``held``."""

    def __init__(self, outcomes=(), held=None, generation=None):
        self.outcomes = list(outcomes)
        self.held = held or {}
        self.generation = generation
        self.puts = []

    def put_allocations(self, consumer, allocations, project_id, user_id, consumer_generation):
        self.puts.append((consumer, allocations, project_id, user_id, consumer_generation))
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome

    def get_allocations(self, consumer):
        return {"allocations": self.held, "consumer_generation": self.generation}

    def delete_allocations(self, consumer):
        return True


def conflict(code):
    return placement_client.Conflict("Placement answered 409", 409, code)


def test_claim_puts_the_request_for_a_new_consumer():
    fake_placement = Placement()
    assert claims.claim(fake_placement, "i1", REQUEST, "p1", "u1")
    assert fake_placement.puts == [("i1", REQUEST["allocations"], "p1", "u1", None)]


def test_no_room_is_false_and_not_retried():
    fake_placement = Placement([conflict("placement.undefined_code")])
    assert not claims.claim(fake_placement, "i1", REQUEST, "p1", "u1")
    assert len(fake_placement.puts) == 1


def test_consumer_generation_conflict_is_retried_with_the_current_one():
    fake_placement = Placement([conflict(placement_client.CONCURRENT_UPDATE)],
                               held={"other": {"resources": {"VCPU": 1}}}, generation=3)
    assert claims.claim(fake_placement, "i1", REQUEST, "p1", "u1")
    assert [put[4] for put in fake_placement.puts] == [None, 3]


def test_a_claim_already_held_is_true():
    held = {"n1": {"generation": 7, "resources": {"VCPU": 1, "MEMORY_MB": 512}}}
    fake_placement = Placement([conflict(placement_client.CONCURRENT_UPDATE)], held=held,
                               generation=1)
    assert claims.claim(fake_placement, "i1", REQUEST, "p1", "u1")
    assert len(fake_placement.puts) == 1


def test_endless_generation_conflicts_are_an_error():
    fake_placement = Placement([conflict(placement_client.CONCURRENT_UPDATE)] * 10,
                               held={"x": {"resources": {"VCPU": 1}}}, generation=1)
    with pytest.raises(placement.PlacementError, match="kept changing"):
        claims.claim(fake_placement, "i1", REQUEST, "p1", "u1")
    assert len(fake_placement.puts) == claims.GENERATION_ATTEMPTS


def selection(host, with_request=True):
    return {"host": host, "nodename": host, "limits": {},
            "allocation_request": REQUEST if with_request else None}


def test_reschedule_claims_the_first_alternate_with_room():
    alternates = [selection("a"), selection("b"), selection("c")]
    fake_placement = Placement([conflict("placement.undefined_code")])
    chosen, rest = placement.Allocations(fake_placement).claim_alternate(
        "i1", {"project_id": "p1", "user_id": "u1"}, alternates)
    assert (chosen["host"], [s["host"] for s in rest]) == ("b", ["c"])
    assert len(fake_placement.puts) == 2


def test_reschedule_without_room_or_placement(caplog):
    alternates = [selection("a"), selection("b")]
    fake_placement = Placement([conflict("placement.undefined_code")] * 2)
    spec = {"project_id": "p1", "user_id": "u1"}
    assert placement.Allocations(fake_placement).claim_alternate("i1", spec, alternates) is None
    # Without Placement, or for selections made without it: the first alternate.
    assert placement.Allocations(None).claim_alternate("i1", spec, alternates)[0]["host"] == "a"
    plain = [selection("a", with_request=False), selection("b")]
    assert placement.Allocations(Placement()).claim_alternate("i1", spec, plain)[0][
        "host"] == "a"
    down = Placement([placement.PlacementUnavailable("Placement cannot be reached: refused")])
    with caplog.at_level(logging.ERROR):
        assert placement.Allocations(down).claim_alternate("i1", spec, alternates) is None
    assert "cannot be reached" in caplog.text


def test_report_retries_a_provider_generation_conflict():
    class Provider:
        def __init__(self):
            self.generation, self.puts = 5, []

        def get_provider(self, uuid):
            return {"uuid": uuid, "name": "n", "generation": self.generation}

        def get_inventories(self, uuid):
            return self.generation, {}

        def get_traits(self, uuid):
            return self.generation, {"COMPUTE_NODE"}

        def set_inventories(self, uuid, generation, inventories):
            self.puts.append(generation)
            if generation != self.generation:
                raise conflict(placement_client.CONCURRENT_UPDATE)
            self.generation += 1
            return self.generation

    provider = Provider()
    reporter = report.ProviderReport(provider)
    inventory = {"VCPU": {"total": 1}}
    assert reporter.update("n1", "n", inventory, {"COMPUTE_NODE"}) == ["inventories"]
    provider.generation += 10  # someone else wrote meanwhile
    assert reporter.update("n1", "n", {"VCPU": {"total": 2}}, {"COMPUTE_NODE"}) == [
        "inventories"]
    assert provider.puts == [5, 6, 16]


def test_compute_reports_placement_down_in_one_error_line(tmp_path, caplog):
    conf = config.new_conf()
    config.load(conf, [], prog="test", default_config_files=[])
    conf.set_override("state_path", str(tmp_path))
    conf.set_override("auth_type", "none", group="placement")
    conf.set_override("endpoint_override", "http://127.0.0.1:1/", group="placement")
    tracker = resource_tracker.ResourceTracker(conf, "h1", fake.FakeDriver(conf), None)
    node = {"uuid": "7d7f4c6e-2a6e-4a3e-8a55-2f1f7b8b1a11", "hypervisor_hostname": "h1",
            "vcpus": 4, "memory_mb": 4096, "local_gb": 10, "cpu_info": '{"arch": "x86_64"}'}
    with caplog.at_level(logging.INFO):
        assert not tracker.report_to_placement([node])
        assert not tracker.report_to_placement([node])
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2 and all(r.exc_info is None for r in errors)
    assert "Cannot report to Placement (trying again in the next periodic run): node h1: " \
           "Placement cannot be reached" in errors[0].getMessage()


def test_compute_without_placement_warns_once(tmp_path, caplog):
    conf = config.new_conf()
    config.load(conf, [], prog="test", default_config_files=[])
    with caplog.at_level(logging.WARNING):
        tracker = resource_tracker.ResourceTracker(conf, "h1", fake.FakeDriver(conf), None)
    assert tracker.report_to_placement([{"uuid": "x"}])  # nothing to do
    tracker.delete_allocations("i1")
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith("[placement] has no auth_type in the configuration: "
                              "nova-compute runs without Placement")


# --- claims made at the same time (ClaimQueue) -----------------------------------------

class GatedPlacement(Placement):
    """The first PUT waits until ``waiting()`` claims queued behind it. A
    claim on a provider of ``full`` is refused (409), one of a consumer in
    ``errors`` raises that error; POSTs are kept, and refused as a whole
    when one of their claims would be (the POST raises ``post_error``)."""

    def __init__(self, waiting, full=(), errors=None, post_error=None):
        super().__init__()
        self.waiting, self.full, self.errors = waiting, set(full), dict(errors or {})
        self.post_error, self.posts = post_error, []
        self.entered = threading.Event()

    def put_allocations(self, consumer, allocations, *args):
        if not self.entered.is_set():
            self.entered.set()
            deadline = time.monotonic() + 10
            while not self.waiting() and time.monotonic() < deadline:
                time.sleep(0.01)
        self.puts.append((consumer, allocations, *args))
        if consumer in self.errors:
            raise self.errors[consumer]
        if self.full & set(allocations):
            raise conflict("placement.undefined_code")

    def post_allocations(self, consumers):
        self.posts.append(consumers)
        if self.post_error is not None:
            raise self.post_error
        if any(self.full & set(body["allocations"]) for body in consumers.values()):
            raise conflict("placement.undefined_code")


def request_on(provider):
    return {"allocations": {provider: {"resources": {"VCPU": 1}}}}


def claim_at_once(queue, placement_double, providers):
    """Claim i0 on providers[0], then i1.. on the others while i0 is in
    Placement; {consumer: answer, or the exception raised}."""
    answers = {}

    def one(index):
        try:
            answers[f"i{index}"] = queue.claim(placement_double, f"i{index}",
                                               request_on(providers[index]), "p", "u")
        except Exception as exc:
            answers[f"i{index}"] = exc

    threads = [threading.Thread(target=one, args=(index,)) for index in range(len(providers))]
    threads[0].start()
    assert placement_double.entered.wait(10)  # i0 is in its PUT
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join(10)
    return answers


def queued(queue, count):
    """Whether ``count`` claims wait behind the one in Placement."""
    return lambda: len(queue._waiting) == count


def test_claims_that_queue_behind_one_in_placement_go_together_in_one_post():
    queue = claims.ClaimQueue()
    double = GatedPlacement(queued(queue, 3))
    answers = claim_at_once(queue, double, ["n0", "n1", "n2", "n3"])
    assert answers == {"i0": True, "i1": True, "i2": True, "i3": True}
    assert [put[0] for put in double.puts] == ["i0"]  # alone: nothing waited for a batch
    [batch] = double.posts
    assert batch == {f"i{index}": {"allocations": {f"n{index}": {"resources": {"VCPU": 1}}},
                                   "project_id": "p", "user_id": "u",
                                   "consumer_generation": None} for index in (1, 2, 3)}
    assert queue.batches == 1
    # Nothing in Placement now: the next claim is a PUT of its own again.
    assert queue.claim(double, "i9", request_on("n9"), "p", "u")
    assert double.puts[-1][0] == "i9" and len(double.posts) == 1


def test_a_refused_batch_is_made_claim_by_claim_each_with_its_own_answer():
    queue = claims.ClaimQueue()
    double = GatedPlacement(queued(queue, 3), full={"n2"})
    answers = claim_at_once(queue, double, ["n0", "n1", "n2", "n3"])
    assert answers == {"i0": True, "i1": True, "i2": False, "i3": True}
    assert len(double.posts) == 1 and queue.batches == 0
    assert sorted(put[0] for put in double.puts) == ["i0", "i1", "i2", "i3"]


def test_an_error_of_one_claim_reaches_its_caller_only():
    queue = claims.ClaimQueue()
    down = placement.PlacementUnavailable("Placement cannot be reached")
    double = GatedPlacement(queued(queue, 2), errors={"i2": down}, post_error=down)
    answers = claim_at_once(queue, double, ["n0", "n1", "n2"])
    assert answers == {"i0": True, "i1": True, "i2": down}
    # Made alone after the batch failed; the queue serves the next claim.
    assert [put[0] for put in double.puts] == ["i0", "i1", "i2"]
    assert queue.claim(double, "i3", request_on("n3"), "p", "u")
