"""Resolve a secret *name* from the inventory to its value (as :class:`SecretStr`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from simpul.errors import SecretError
from simpul.secrets import read_secret_env, read_secret_file

if TYPE_CHECKING:  # simpul.inventory imports this module: a runtime import would be a cycle
    from simpul.inventory.models import Inventory


def resolve_secret(inv: Inventory, name: str) -> SecretStr:
    """Return the value of secret ``name``; :class:`SecretError` says what to fix if it can't."""
    ref = inv.secrets.get(name)
    if ref is None:
        raise SecretError(f"secret '{name}' is not declared in the inventory's secrets:")
    if ref.env:
        return read_secret_env(ref.env, name)
    assert ref.file is not None
    return read_secret_file(Path(os.path.expandvars(os.path.expanduser(str(ref.file)))), name)


def secret_path(inv: Inventory, name: str) -> Path:
    """The file a file-backed secret lives in (for tools that want a key *file*, e.g. ssh -i)."""
    ref = inv.secrets.get(name)
    if ref is None or ref.file is None:
        raise SecretError(f"secret '{name}' must be a file: reference here (an SSH key file)")
    path = Path(os.path.expandvars(os.path.expanduser(str(ref.file))))
    read_secret_file(path, name)  # validates existence and mode
    return path
