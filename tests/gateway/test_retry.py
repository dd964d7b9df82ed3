"""The one retry policy: a pure decision, exponential backoff with jitter, an
injectable sleep (no test waits)."""

from __future__ import annotations

import pytest

from mpos_cli.errors import GatewayOutcomeUnknown, GatewayRejected, GatewayUnreachable
from mpos_cli.gateway import retry
from mpos_cli.gateway.client import HttpGateway
from mpos_cli.gateway.retry import RetryPolicy


def test_the_decision_retries_only_what_it_names_and_only_within_its_attempts():
    policy = RetryPolicy(attempts=3)
    unknown = GatewayOutcomeUnknown("reset after send")
    assert policy.should_retry(1, unknown) and policy.should_retry(2, unknown)
    assert not policy.should_retry(3, unknown)  # three attempts in all
    assert not policy.should_retry(1, GatewayUnreachable("refused"))  # never sent: the flow decides
    assert not policy.should_retry(1, GatewayRejected("409"))  # refused: the same request gets the same answer
    assert retry.RECOVER.should_retry(1, GatewayUnreachable("refused"))  # recover waits for the network


def test_backoff_doubles_is_capped_and_jittered_between_half_and_all():
    low = RetryPolicy(base_delay=0.1, max_delay=0.3, jitter=lambda: 0.0)
    high = RetryPolicy(base_delay=0.1, max_delay=0.3, jitter=lambda: 1.0)
    assert [low.delay(n) for n in (1, 2, 3, 4)] == pytest.approx([0.05, 0.1, 0.15, 0.15])
    assert [high.delay(n) for n in (1, 2, 3, 4)] == pytest.approx([0.1, 0.2, 0.3, 0.3])


def test_call_retries_then_raises_the_last_failure_with_the_injected_sleep():
    slept, calls = [], []

    def flaky():
        calls.append(1)
        raise GatewayOutcomeUnknown(f"attempt {len(calls)}")

    policy = RetryPolicy(attempts=3, sleep=slept.append, jitter=lambda: 1.0)
    with pytest.raises(GatewayOutcomeUnknown, match="attempt 3"):
        policy.call(flaky)
    assert len(calls) == 3 and slept == pytest.approx([0.1, 0.2])


def test_call_returns_the_first_success():
    answers = iter([GatewayOutcomeUnknown("lost"), "approved"])

    def once():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert RetryPolicy(sleep=lambda _: None).call(once) == "approved"


def test_the_http_gateway_asks_the_policy_it_is_given():
    """A 5xx is retried under the same key as often as the call's policy says,
    waiting through the policy's own sleep; BRIEF makes one attempt."""
    from tests.helpers.gateway import FaultServer, card_request

    slept = []
    with FaultServer("500") as fault:
        gateway = HttpGateway(fault.url)
        with pytest.raises(GatewayOutcomeUnknown):
            gateway.authorise(card_request(1250, reference="R-4"), policy=RetryPolicy(attempts=4, sleep=slept.append))
        assert fault.requests == 4 and fault.idempotency_keys == ["R-4"] * 4 and len(slept) == 3
        with pytest.raises(GatewayOutcomeUnknown):
            gateway.authorise(card_request(1250, reference="R-brief"), policy=retry.BRIEF)
        assert fault.requests == 5
