"""A bounded memo never grows past its limit and keeps the newest entry."""

from __future__ import annotations

from gateway.lib.bounded import remember


def test_a_full_cache_is_emptied_before_the_new_entry() -> None:
    cache: dict[str, int] = {}
    for index in range(10):
        assert remember(cache, f"k{index}", index, 4) == index
        assert len(cache) <= 4
        assert cache[f"k{index}"] == index
    assert cache == {"k8": 8, "k9": 9}


def test_replacing_a_key_in_a_full_cache_still_empties_it() -> None:
    cache = {"a": 1, "b": 2}
    remember(cache, "a", 3, 2)
    assert cache == {"a": 3}
