"""Assertions shared by the bad-input tests."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from workbench.errors import WorkbenchError


def assert_refused(load: Callable[..., object], exc_type: type[WorkbenchError], path: Path, *words: str,
                   names: tuple[str, ...] | None = None, **kwargs: object) -> WorkbenchError:
    """``load(path)`` raises exactly ``exc_type`` with a plain message that names the file (one of ``names``,
    default its file name) and contains every one of ``words`` (case-insensitive), never a traceback."""
    with pytest.raises(WorkbenchError) as info:
        load(path, **kwargs)
    err = info.value
    assert type(err) is exc_type, f"{type(err).__name__}: {err}"
    message = str(err)
    assert any(name in message for name in (names or (path.name,))), message
    for word in words:
        assert word.lower() in message.lower(), message
    assert "Traceback" not in message
    return err
