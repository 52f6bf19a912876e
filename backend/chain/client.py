"""A web3.py client with a local signer: the one way this code base sends transactions.

Every transaction is gas-estimated first, so a revert surfaces as a typed ``ContractRevert``
before anything is signed; it is then signed locally (eth-account) with EIP-1559 fees and a nonce
from a lock-protected counter per (node, account), so many threads can send from one account at
once without nonce collisions. By default the counter lives in a small file under an exclusive
``flock``, shared by every process on the machine, so the processes of a prefork Celery worker
sharing one key do not take each other's nonces either. Machines or containers sharing a key (the
API and a worker, several worker hosts) keep it in Redis instead (``nonce_store``), under a Redis
lock. Every send checks the counter against the node's pending count, so sends from elsewhere
and a chain restarted on the same URL are followed rather than trusted away.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import (
    ContractLogicError,
    TimeExhausted,
    TransactionNotFound,
    Web3RPCError,
)
from web3.providers.rpc import HTTPProvider
from web3.providers.rpc.utils import ExceptionRetryConfiguration
from web3.types import RPCEndpoint, RPCResponse, TxParams

from backend.chain.artifacts import load_artifact
from backend.chain.errors import (
    ChainUnavailable,
    ContractRevert,
    NonceStoreUnavailable,
    TransactionFailed,
    TransactionRejected,
    TransactionTimeout,
    UnknownRevert,
    decode_revert,
)
from backend.settings import Settings

log = logging.getLogger(__name__)

GAS_MARGIN = 1.2
"""Gas limit = estimate x margin: estimates are exact on anvil, but state may move before mining."""

_NONCE_ERRORS = ("nonce too low", "nonce too high", "already known", "replacement transaction")


class _Provider(HTTPProvider):
    """HTTPProvider whose connection failures raise ``ChainUnavailable`` (after brief retries)."""

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        try:
            return super().make_request(method, params)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ChainUnavailable(f"no answer from {self.endpoint_uri} ({method}): {exc}") from exc


def connect(rpc_url: str, *, request_timeout_s: float = 10.0) -> Web3:
    """A ``Web3`` over HTTP whose unreachable node fails fast with ``ChainUnavailable``."""
    provider = _Provider(
        rpc_url,
        request_kwargs={"timeout": request_timeout_s},
        exception_retry_configuration=ExceptionRetryConfiguration(
            errors=(requests.ConnectionError, requests.Timeout), retries=3, backoff_factor=0.05
        ),
    )
    return Web3(provider)


@dataclass(frozen=True)
class TxResult:
    """A mined, successful transaction."""

    tx_hash: str
    block_number: int
    gas_used: int
    receipt: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_receipt(cls, receipt: Mapping[str, Any]) -> TxResult:
        return cls(
            tx_hash=HexBytes(receipt["transactionHash"]).to_0x_hex(),
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            receipt=receipt,
        )


@dataclass(frozen=True)
class _NonceState:
    """What a counter keeps: the next nonce, and the hash of the send that used the one before."""

    next_nonce: int
    last_tx_hash: str

    def dumps(self) -> str:
        return f"{self.next_nonce} {self.last_tx_hash}"

    @classmethod
    def loads(cls, text: str) -> _NonceState | None:
        """None for an empty record, or one from before hashes were kept (it is re-read)."""
        parts = text.split()
        return cls(int(parts[0]), parts[1]) if len(parts) == 2 else None


class _NonceCounter(ABC):
    """The next nonce of one account on one node; callers hold :meth:`lock` while they read,
    send and advance. A missing record means unknown: read the node's pending count next time.

    Each read is checked against the node's pending count. A node that counts more has seen sends
    from elsewhere: its count is taken, with no refused send. A node that counts fewer either lags
    (a load-balanced backend behind the others), or has lost the sends (a chain restarted on the
    same URL, our last send dropped from its pool): it lost them if it does not know the last one
    we sent, and then its count is taken, since a nonce beyond it would only wait in the node's
    queue (and could be mined much later, unasked).
    """

    @abstractmethod
    def lock(self) -> AbstractContextManager[None]: ...

    @abstractmethod
    def _read(self) -> _NonceState | None: ...

    @abstractmethod
    def _write(self, state: _NonceState | None) -> None: ...

    def current(self, w3: Web3, address: str) -> int:
        pending = int(w3.eth.get_transaction_count(address, "pending"))  # type: ignore[arg-type]
        state = self._read()
        if state is None or pending >= state.next_nonce:
            return pending
        if _node_knows(w3, state.last_tx_hash):
            return state.next_nonce  # the node lags behind its own pool: trust the counter
        log.warning(
            "the node at nonce %s does not know %s, sent with nonce %s: it lost it (a restarted "
            "chain?); following the node",
            pending,
            state.last_tx_hash,
            state.next_nonce - 1,
        )
        self._write(None)
        return pending

    def advance(self, used: int, tx_hash: str) -> None:
        """``used`` went out as ``tx_hash``: the next send takes the one after it."""
        self._write(_NonceState(used + 1, tx_hash))

    def resync(self) -> None:
        """Forget the counter: the next send re-reads the node's pending count."""
        self._write(None)


def _node_knows(w3: Web3, tx_hash: str) -> bool:
    try:
        w3.eth.get_transaction(HexBytes(tx_hash))
    except TransactionNotFound:
        return False
    return True


class _FileNonceCounter(_NonceCounter):
    """Shared by the threads of this process and by the processes of this machine: the number is
    kept in a file guarded by a thread lock plus an exclusive ``flock`` on it. Other machines
    sending from the same key are not covered (they need :class:`_RedisNonceCounter`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread_lock = threading.Lock()

    @contextmanager
    def lock(self) -> Iterator[None]:
        with self._thread_lock:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing drops the flock

    def _read(self) -> _NonceState | None:
        return _NonceState.loads(self.path.read_text())  # the file exists: lock() creates it

    def _write(self, state: _NonceState | None) -> None:
        self.path.write_text("" if state is None else state.dumps())


class _RedisNonceCounter(_NonceCounter):
    """Shared by every process on every machine that uses this Redis: the number is a Redis key,
    guarded by a Redis lock (plus a thread lock, so one process's threads queue locally).

    The lock expires after ``LOCK_TTL_S``, so a sender that dies holding it blocks the key for at
    most that long; a send that outlives it (a node hanging through its retries) may then share a
    nonce with the next sender, which the node refuses once and the send-retry re-reads.
    """

    LOCK_TTL_S = 60.0

    def __init__(self, client: redis.Redis, key: str) -> None:
        self._redis = client
        self.key = key
        self._thread_lock = threading.Lock()

    @contextmanager
    def lock(self) -> Iterator[None]:
        with self._thread_lock:
            lock = self._redis.lock(
                f"{self.key}:lock", timeout=self.LOCK_TTL_S, blocking_timeout=self.LOCK_TTL_S
            )
            with self._unavailable_on_error("nonce lock"):
                acquired = lock.acquire()
            if not acquired:
                raise NonceStoreUnavailable(f"nonce lock {self.key} held for {self.LOCK_TTL_S:g}s")
            try:
                yield
            finally:
                # Never raise here: the send may have gone out, and an error now would have the
                # caller retry it. A lock left behind expires after LOCK_TTL_S.
                try:
                    lock.release()
                except redis.exceptions.LockNotOwnedError:
                    log.warning("nonce lock %s expired while held", self.key)
                except redis.RedisError as exc:
                    log.warning("nonce lock %s not released (%s); it expires", self.key, exc)

    @contextmanager
    def _unavailable_on_error(self, what: str) -> Iterator[None]:
        """Redis failing is the store being unavailable: nothing was sent."""
        try:
            yield
        except redis.RedisError as exc:
            raise NonceStoreUnavailable(f"{what} {self.key}: {exc}") from exc

    def _read(self) -> _NonceState | None:
        with self._unavailable_on_error("nonce counter"):
            value = self._redis.get(self.key)
        return _NonceState.loads(value.decode()) if value else None

    def _write(self, state: _NonceState | None) -> None:
        with self._unavailable_on_error("nonce counter"):
            if state is None:
                self._redis.delete(self.key)
            else:
                self._redis.set(self.key, state.dumps())


_counters: dict[tuple[str, str, str | None], _NonceCounter] = {}
_counters_lock = threading.Lock()


def _nonce_counter(rpc_url: str, address: str, store: str | None = None) -> _NonceCounter:
    """The counter of (node, account): in a file on this machine, or in Redis at ``store``.

    A fresh process starts it from the node's pending count, not from what earlier runs left.
    """
    with _counters_lock:
        key = (rpc_url, address, store)
        if key not in _counters:
            digest = hashlib.sha256(f"{rpc_url}|{address}".encode()).hexdigest()[:20]
            counter: _NonceCounter
            if store is None:
                folder = Path(tempfile.gettempdir()) / "miao-nonces"
                folder.mkdir(exist_ok=True)
                counter = _FileNonceCounter(folder / f"{digest}.nonce")
            else:
                client = redis.Redis.from_url(store, socket_timeout=10, socket_connect_timeout=5)
                counter = _RedisNonceCounter(client, f"miao:nonce:{digest}")
            with counter.lock():
                counter.resync()
            _counters[key] = counter
        return _counters[key]


def _revert_from(exc: ContractLogicError, context: str) -> ContractRevert:
    if isinstance(exc.data, str) and exc.data.startswith("0x"):
        return decode_revert(exc.data, context)
    return UnknownRevert({"message": exc.message or str(exc)}, context=context)


class ChainClient:
    """One signer on one node. ``with_key`` gives another signer over the same connection."""

    def __init__(
        self,
        rpc_url: str,
        private_key: str,
        *,
        receipt_timeout_s: float = 30.0,
        poll_interval_s: float = 0.05,
        w3: Web3 | None = None,
        nonce_store: str | None = None,
    ) -> None:
        """``nonce_store``: a Redis URL where the nonce counter is shared with other machines
        sending from this key; None keeps it in a file shared by this machine's processes."""
        self.rpc_url = rpc_url
        self.nonce_store = nonce_store
        self.w3 = w3 or connect(rpc_url)
        self.account: LocalAccount = Account.from_key(private_key)
        self.receipt_timeout_s = receipt_timeout_s
        self.poll_interval_s = poll_interval_s
        self._nonces = _nonce_counter(rpc_url, self.account.address, nonce_store)
        self._chain_id: int | None = None
        self._contract_names: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings, private_key: str | None = None) -> ChainClient:
        return cls(
            settings.chain_rpc_url,
            private_key or settings.deployer_key,
            receipt_timeout_s=settings.receipt_timeout_s,
            nonce_store=settings.redis_url if settings.nonce_store == "redis" else None,
        )

    def with_key(self, private_key: str) -> ChainClient:
        """Another signer (a relayer, a user wallet) sharing this client's connection."""
        return ChainClient(
            self.rpc_url,
            private_key,
            receipt_timeout_s=self.receipt_timeout_s,
            poll_interval_s=self.poll_interval_s,
            w3=self.w3,
            nonce_store=self.nonce_store,
        )

    @property
    def address(self) -> str:
        return self.account.address

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self.w3.eth.chain_id
        return self._chain_id

    def block_number(self) -> int:
        return self.w3.eth.block_number

    def balance(self, address: str | None = None) -> int:
        return self.w3.eth.get_balance(address or self.address)  # type: ignore[arg-type]

    def contract(self, name: str, address: str) -> Contract:
        """A web3 contract for a compiled artifact (``SoundRegistry``, ``MeowNFT``) at ``address``."""
        checksum = Web3.to_checksum_address(address)
        self._contract_names[checksum] = name
        return self.w3.eth.contract(address=checksum, abi=load_artifact(name).abi)

    def sign_typed_data(self, typed_data: dict[str, Any]) -> bytes:
        """This account's EIP-712 signature (65 bytes), as ``eth_signTypedData_v4`` makes it."""
        return bytes(self.account.sign_typed_data(full_message=typed_data).signature)

    # --- reads -------------------------------------------------------------------------------
    def call(self, fn: Any) -> Any:
        """Call a view function; a revert raises its typed ``ContractRevert``."""
        try:
            return fn.call({"from": self.address})
        except ContractLogicError as exc:
            raise _revert_from(exc, self._context(fn)) from None

    # --- writes ------------------------------------------------------------------------------
    def transact(self, fn: Any, *, gas: int | None = None, value: int = 0) -> TxResult:
        """Estimate, sign, send and wait for a contract call; returns the successful receipt.

        ``gas`` skips estimation (the transaction is then sent even if it will revert, and the
        failed receipt is re-simulated to name the error).
        """
        context = self._context(fn)
        params: TxParams = {"from": self.address, "value": value}  # type: ignore[typeddict-item]
        if gas is None:
            try:
                estimate = fn.estimate_gas(params)
            except ContractLogicError as exc:
                raise _revert_from(exc, context) from None
            gas = int(estimate * GAS_MARGIN)
        fees = self.fees()
        tx_hash = self._send(
            lambda nonce: fn.build_transaction(
                {**params, **fees, "gas": gas, "nonce": nonce, "chainId": self.chain_id}
            )
        )
        return self.wait_for_receipt(tx_hash, context=context)

    def deploy(self, name: str, *args: Any) -> tuple[str, TxResult]:
        """Deploy the artifact ``name`` with constructor ``args``; returns (address, receipt)."""
        artifact = load_artifact(name)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        result = self.transact(factory.constructor(*args))
        address = result.receipt["contractAddress"]
        self._contract_names[address] = name
        return address, result

    def transfer(self, to: str, value_wei: int) -> TxResult:
        """Send plain ether (funding a fresh wallet, say)."""
        fees = self.fees()
        tx_hash = self._send(
            lambda nonce: {
                "from": self.address,
                "to": Web3.to_checksum_address(to),
                "value": value_wei,
                "gas": 21_000,
                "nonce": nonce,
                "chainId": self.chain_id,
                **fees,
            }
        )
        return self.wait_for_receipt(tx_hash, context="transfer")

    def fees(self) -> dict[str, int]:
        """EIP-1559 fees: tip from the node, max fee = 2 x base fee + tip (survives 6 full blocks)."""
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))
        tip = int(self.w3.eth.max_priority_fee)
        return {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}

    def send_unsigned(self, build: Callable[[int], Mapping[str, Any]]) -> str:
        """Sign and send ``build(nonce)`` without waiting; returns the transaction hash."""
        return self._send(build)

    def _send(self, build: Callable[[int], Mapping[str, Any]]) -> str:
        """Sign and send under the account's nonce lock; one retry after a nonce conflict.

        Holding the lock through the send means a failed send never leaves a gap behind later
        nonces; after a failure the counter is re-read from the node's pending count.
        """
        with self._nonces.lock():
            for attempt in (1, 2):
                nonce = self._nonces.current(self.w3, self.address)
                signed = self.account.sign_transaction(dict(build(nonce)))
                try:
                    tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
                except Web3RPCError as exc:
                    self._nonces.resync()
                    if attempt == 1 and any(m in str(exc).lower() for m in _NONCE_ERRORS):
                        continue
                    raise TransactionRejected(f"node refused the transaction: {exc}") from exc
                except BaseException:
                    self._nonces.resync()
                    raise
                try:
                    self._nonces.advance(nonce, tx_hash.to_0x_hex())
                except NonceStoreUnavailable as exc:
                    # It went out: raising now would have the caller send it again. The stale
                    # counter is behind the node's pending count, which the next send takes.
                    log.warning("sent %s but could not advance the nonce: %s", nonce, exc)
                return tx_hash.to_0x_hex()
        raise AssertionError("unreachable")

    def wait_for_receipt(
        self, tx_hash: str, timeout_s: float | None = None, *, context: str = ""
    ) -> TxResult:
        """The receipt of ``tx_hash``; ``TransactionTimeout`` if none in time, a typed revert if
        it failed (the transaction is re-simulated to recover the reason)."""
        timeout = self.receipt_timeout_s if timeout_s is None else timeout_s
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(
                HexBytes(tx_hash), timeout=timeout, poll_latency=self.poll_interval_s
            )
        except TimeExhausted:
            with self._nonces.lock():  # if the node dropped it, the next send must reuse its nonce
                self._nonces.resync()
            raise TransactionTimeout(tx_hash, timeout) from None
        if receipt["status"] != 1:
            raise self._failure(tx_hash, receipt, context)
        return TxResult.from_receipt(receipt)

    def _failure(self, tx_hash: str, receipt: Mapping[str, Any], context: str) -> Exception:
        """Re-run a failed transaction as ``eth_call`` at its block, then just before it."""
        tx = self.w3.eth.get_transaction(HexBytes(tx_hash))
        call: TxParams = {
            "from": tx["from"],
            "data": tx["input"],
            "value": tx["value"],
            "gas": tx["gas"],
        }
        if tx.get("to"):
            call["to"] = tx["to"]
        block = int(receipt["blockNumber"])
        for at in (block, block - 1):
            try:
                self.w3.eth.call(call, block_identifier=at)
            except ContractLogicError as exc:
                revert = _revert_from(exc, context)
                revert.tx_hash = tx_hash
                return revert
        used = f"gas used {receipt['gasUsed']} of {tx['gas']}"
        return TransactionFailed(tx_hash, f"no revert reason on re-simulation ({used})")

    def _context(self, fn: Any) -> str:
        name = getattr(fn, "fn_name", None) or "constructor"
        contract = self._contract_names.get(getattr(fn, "address", None) or "", "")
        return f"{contract}.{name}" if contract else name
