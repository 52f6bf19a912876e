"""Typed IPFS errors: callers tell "node down", "not there" and "wrong bytes" apart.

All are plain exceptions whose only argument is the message, so they pickle (Celery results).
"""

from __future__ import annotations


class IpfsError(Exception):
    """Anything that went wrong talking to the IPFS node."""


class IpfsUnavailable(IpfsError):
    """The node did not answer: connection refused, unreachable, or no reply within the timeout."""


class IpfsTimeout(IpfsUnavailable):
    """The node accepted the request but gave no complete answer within the client's timeout."""


class IpfsNotFound(IpfsError):
    """The node answered, but could not find the content within the timeout (or refused it)."""


class IpfsIntegrityError(IpfsError):
    """Bytes or a CID from the node do not match what was computed locally: never trust them."""
