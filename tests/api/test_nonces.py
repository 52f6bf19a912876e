"""The Redis nonce store on a real Redis: single use under concurrency, expiry, replay."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from redis.asyncio import Redis

from backend.auth.nonces import NonceState, NonceStore


def test_nonce_is_consumed_once_then_reported_as_replayed(redis_url: str) -> None:
    async def scenario() -> list[NonceState]:
        async with Redis.from_url(redis_url, decode_responses=True) as redis:
            store = NonceStore(redis)
            issued = await store.issue()
            return [await store.consume(issued.nonce), await store.consume(issued.nonce)]

    assert asyncio.run(scenario()) == [NonceState.CONSUMED, NonceState.REPLAYED]


def test_only_one_of_many_concurrent_consumers_wins(redis_url: str) -> None:
    async def scenario() -> Counter[NonceState]:
        async with Redis.from_url(redis_url, decode_responses=True) as redis:
            store = NonceStore(redis)
            issued = await store.issue()
            results = await asyncio.gather(*(store.consume(issued.nonce) for _ in range(32)))
            return Counter(results)

    assert asyncio.run(scenario()) == {NonceState.CONSUMED: 1, NonceState.REPLAYED: 31}


def test_an_expired_nonce_is_unknown(redis_url: str) -> None:
    async def scenario() -> tuple[NonceState, int]:
        async with Redis.from_url(redis_url, decode_responses=True) as redis:
            store = NonceStore(redis, ttl=timedelta(seconds=1))
            issued = await store.issue()
            ttl = await redis.ttl(f"miao:siwe:nonce:{issued.nonce}")
            await asyncio.sleep(1.2)
            return await store.consume(issued.nonce), ttl

    state, ttl = asyncio.run(scenario())
    assert ttl == 1
    assert state is NonceState.UNKNOWN


def test_a_used_nonce_keeps_its_original_expiry(redis_url: str) -> None:
    async def scenario() -> tuple[int, int]:
        async with Redis.from_url(redis_url, decode_responses=True) as redis:
            store = NonceStore(redis)
            issued = await store.issue()
            key = f"miao:siwe:nonce:{issued.nonce}"
            before = await redis.pttl(key)
            await store.consume(issued.nonce)
            return before, await redis.pttl(key)

    before, after = asyncio.run(scenario())
    assert 0 < after <= before <= 300_000  # still expires with the nonce, not kept forever
