"""Single-use sign-in nonces in Redis: issued with ``SET NX EX``, consumed atomically.

A consumed nonce is kept as ``used`` for the rest of its lifetime so a replay is told apart from
a nonce this server never issued (or one that expired).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

NONCE_TTL = timedelta(minutes=5)
_KEY_PREFIX = "miao:siwe:nonce:"
_ISSUED, _USED = "issued", "used"

# One round trip, so two requests racing with the same nonce cannot both win.
_CONSUME_SCRIPT = """
local state = redis.call('GET', KEYS[1])
if state == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
elseif state == ARGV[2] then
  return 2
end
return 0
"""


class NonceState(StrEnum):
    CONSUMED = "consumed"  # it was issued and unused; now it is used
    REPLAYED = "replayed"  # it was already used
    UNKNOWN = "unknown"  # never issued here, or expired


class NonceStoreUnavailable(RuntimeError):
    """Redis did not answer: sign-in cannot be checked right now."""


@dataclass(frozen=True)
class IssuedNonce:
    nonce: str
    expires_at: datetime


class NonceStore:
    """Issue and consume nonces; every Redis failure surfaces as :class:`NonceStoreUnavailable`."""

    def __init__(self, redis: Redis, ttl: timedelta = NONCE_TTL) -> None:
        self._redis = redis
        self._ttl = ttl
        self._consume = redis.register_script(_CONSUME_SCRIPT)

    async def issue(self) -> IssuedNonce:
        ttl_s = int(self._ttl.total_seconds())
        try:
            while True:
                nonce = secrets.token_hex(16)  # 128 bits, alphanumeric as EIP-4361 requires
                if await self._redis.set(_KEY_PREFIX + nonce, _ISSUED, nx=True, ex=ttl_s):
                    return IssuedNonce(nonce, datetime.now(UTC) + self._ttl)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise NonceStoreUnavailable(f"Redis is not answering: {exc}") from exc

    async def consume(self, nonce: str) -> NonceState:
        try:
            result = await self._consume(keys=[_KEY_PREFIX + nonce], args=[_ISSUED, _USED])
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise NonceStoreUnavailable(f"Redis is not answering: {exc}") from exc
        return {1: NonceState.CONSUMED, 2: NonceState.REPLAYED}.get(int(result), NonceState.UNKNOWN)
