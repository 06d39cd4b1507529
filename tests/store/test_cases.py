"""The anonymisation journal and leases in every backend: one started record per case, a dead owner's record
taken over, records finished only by their owner, done cases found, and a lease held by one replica at a time."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest

from gateway.store import Store
from gateway.store.cases import CaseRecord
from tests.store.conftest import StoreFactory

T0 = 1_700_000_000.0


def started(case_id: str = "7", owner: str = "a", at: float = T0, **changes: Any) -> CaseRecord:
    fields: dict[str, Any] = {"record_id": secrets.token_hex(16), "helpdesk": "django-helpdesk", "case_id": case_id,
                              "trigger": "schedule closed-a-year", "action": "anonymise", "state": "started",
                              "started_at": at, "owner": owner}
    fields.update(changes)
    return CaseRecord(**fields)


async def test_a_case_is_worked_on_by_one_owner_until_its_record_is_finished(store: Store) -> None:
    first = await store.begin_case(started(owner="a"), stale_before=T0 - 60)
    assert first is not None and first.owner == "a"
    assert await store.begin_case(started(owner="b", at=T0 + 1), stale_before=T0 - 59) is None
    assert not await store.finish_case(first.record_id, "b", "done", "{}", T0 + 2)  # not b's
    assert await store.finish_case(first.record_id, "a", "done", '{"replacements": {"email": 2}}', T0 + 2)
    assert not await store.finish_case(first.record_id, "a", "retry", "{}", T0 + 3)  # finished already
    again = await store.begin_case(started(owner="b", at=T0 + 4), stale_before=T0 - 56)
    assert again is not None and again.record_id != first.record_id  # a new record for a new run
    records = await store.case_records(case_ids=["7"])
    assert [(r.owner, r.state) for r in records] == [("b", "started"), ("a", "done")]
    assert records[1].summary == '{"replacements": {"email": 2}}' and records[1].finished_at == T0 + 2


async def test_a_record_left_started_by_a_dead_owner_is_found_and_taken_over(store: Store) -> None:
    dead = await store.begin_case(started(case_id="9", owner="dead"), stale_before=T0 - 60)
    assert dead is not None
    assert await store.unfinished_cases("django-helpdesk", stale_before=T0) == []  # not older than the lease yet
    left = await store.unfinished_cases("django-helpdesk", stale_before=T0 + 61)
    assert [r.record_id for r in left] == [dead.record_id]
    taken = await store.begin_case(started(case_id="9", owner="next", at=T0 + 61), stale_before=T0 + 1)
    assert taken is not None and taken.record_id == dead.record_id and taken.owner == "next"
    assert not await store.finish_case(dead.record_id, "dead", "done", "{}", T0 + 62)  # the dead one lost it
    assert await store.finish_case(dead.record_id, "next", "done", "{}", T0 + 62)
    assert await store.unfinished_cases("django-helpdesk", stale_before=T0 + 1000) == []


async def test_done_cases_are_found_among_many_and_only_for_their_helpdesk(store: Store) -> None:
    for n in range(150):
        record = await store.begin_case(started(case_id=str(n)), stale_before=T0 - 60)
        assert record is not None
        await store.finish_case(record.record_id, "a", "done" if n % 3 == 0 else "retry", "{}", T0 + 1)
    done = await store.cases_done("django-helpdesk", [str(n) for n in range(150)])
    assert done == {str(n) for n in range(0, 150, 3)}
    assert await store.cases_done("zammad", ["0", "3"]) == set()
    assert len(await store.case_records(helpdesk="django-helpdesk", limit=10)) == 10
    assert await store.case_records(helpdesk="zammad") == []


async def test_a_lease_is_held_by_one_owner_until_it_runs_out_or_is_given_up(store: Store) -> None:
    assert await store.take_lease("retention", "a", T0, T0 + 60)
    assert not await store.take_lease("retention", "b", T0 + 1, T0 + 61)
    assert await store.take_lease("retention", "a", T0 + 30, T0 + 90)  # renewed by its holder
    assert not await store.take_lease("retention", "b", T0 + 89, T0 + 149)
    assert await store.take_lease("retention", "b", T0 + 90, T0 + 150)  # ran out
    await store.release_lease("retention", "a")  # not a's any more: nothing happens
    assert not await store.take_lease("retention", "a", T0 + 91, T0 + 151)
    await store.release_lease("retention", "b")
    assert await store.take_lease("retention", "a", T0 + 92, T0 + 152)


async def test_replicas_taking_a_lease_together_give_it_to_one(store_factory: StoreFactory) -> None:
    stores = [await store_factory() for _ in range(3)]
    taken = await asyncio.gather(*(s.take_lease("retention", f"r{i}", T0, T0 + 60) for i, s in enumerate(stores * 2)))
    assert sum(taken) == 1


async def test_replicas_beginning_one_case_together_let_one_work_on_it(store_factory: StoreFactory) -> None:
    stores = [await store_factory() for _ in range(3)]
    begun = await asyncio.gather(*(s.begin_case(started(owner=f"r{i}"), stale_before=T0 - 60)
                                   for i, s in enumerate(stores * 2)))
    assert sum(b is not None for b in begun) == 1


@pytest.mark.parametrize("changes", [{"record_id": "x"}, {"state": "lost"}, {"case_id": ""},
                                     {"summary": "x" * 70_000}, {"started_at": "now"}])
def test_a_malformed_record_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        started(**changes)


async def test_a_record_finishes_only_in_a_finished_state(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.finish_case("0" * 32, "a", "started", "{}", T0)
    with pytest.raises(TypeError):
        await store.begin_case(started(state="done"), stale_before=T0)


async def test_an_interval_lease_is_taken_once_per_term_even_by_its_holder(store: Store) -> None:
    assert await store.take_lease("interval", "a", T0, T0 + 3600, renew=False)
    assert not await store.take_lease("interval", "a", T0 + 10, T0 + 3610, renew=False)
    assert not await store.take_lease("interval", "b", T0 + 10, T0 + 3610, renew=False)
    assert await store.take_lease("interval", "b", T0 + 3600, T0 + 7200, renew=False)
