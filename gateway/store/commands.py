"""What a command-line verb needs from the store: the policy it names, and its store open for one action."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .base import Store

if TYPE_CHECKING:
    from ..policy.schema import Policy

T = TypeVar("T")


def policy_at(path: str) -> Policy:
    """The policy at ``path``; on errors they are printed (``file:line: message``) and the command exits 1."""
    from ..policy.loader import PolicyError, load_policy

    try:
        return load_policy(Path(path)).policy
    except PolicyError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(1) from None


def run_with(store: Store, action: Callable[[Store], Awaitable[T]]) -> T:
    """``action(store)`` with the store opened before and closed after."""
    async def main() -> T:
        async with store:
            return await action(store)

    return asyncio.run(main())
