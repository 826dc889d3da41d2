"""The two kinds of failure the runtime needs to know (see ``../shared/DESIGN.md``, "Core types").

Edges (transports, ERP adapters) convert their foreign exceptions at the
boundary (``raise TransientError(...) from exc``) so that the pipeline decides
on these two classes only: a :class:`TransientError` is retried with backoff
(state ``retry_wait``), a :class:`TerminalError` fails the item with its reason
(state ``failed``) until a person runs ``edihub reprocess``.
"""

from __future__ import annotations


class HubError(Exception):
    """Base of the errors the runtime handles."""


class TransientError(HubError):
    """A fault that may go away by itself (a server down, a timeout, a 5xx, a lock): retry later.

    ``retry_after`` (seconds), when the far side said how long to wait.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TerminalError(HubError):
    """A fault that retrying cannot fix (bad data, a 4xx, a wrong partner): fail with this reason."""
