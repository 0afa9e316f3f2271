"""A mixin for things that hold a resource until closed: `with thing:` closes it at the end."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closing:
    """Gives a class with `close()` the context-manager methods that call it."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
