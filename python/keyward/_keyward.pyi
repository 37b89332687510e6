"""Native core of the ``keyward`` package (pyo3). Use :class:`keyward.Engine`."""

import builtins
from typing import Any, Callable, List, Mapping, Optional, Tuple, Union

from ._types import AuditEvent, Entry, Store, Versioned

__version__: str

class MemoryStore:
    """The built-in in-memory store (R-90).

    Given to an ``Engine``, each operation runs natively in one call. It also answers the
    host store protocol, so Python code may wrap or inspect it.
    """

    def __init__(self) -> None: ...
    def get(self, key: str) -> Optional[Versioned]: ...
    def put(self, key: str, value: str, expected_version: Optional[int]) -> Optional[int]: ...
    def delete(self, key: str, expected_version: int) -> bool: ...
    def list(self, prefix: str, after: Optional[str], limit: int) -> builtins.list[Entry]: ...
    def get_many(self, keys: builtins.list[str]) -> builtins.list[Optional[Versioned]]: ...
    def keys(self) -> builtins.list[str]: ...
    def __len__(self) -> int: ...

class Engine:
    """Holds a ``keyward_core::Engine`` and its host callbacks; runs one operation per call."""

    def __init__(
        self,
        store: Union[Store, MemoryStore, None] = None,
        *,
        domain: str = "keyward.local",
        token_prefix: str = "kw",
        clock: Optional[Callable[[], float]] = None,
        audit: Optional[Callable[[AuditEvent], object]] = None,
        pepper: Union[bytes, str, None] = None,
        max_staleness_ms: int = 0,
    ) -> None: ...
    def call(self, op: str, args: Mapping[str, Any]) -> Any: ...

def signatures() -> List[Tuple[str, List[str], int, List[str]]]:
    """Every operation's parameters as API.md writes them: ``(op, positional, required, keywords)``."""
    ...
