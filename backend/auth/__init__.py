"""Wallet sign-in (EIP-4361) and session tokens; the HTTP layer lives in ``backend.api``."""
