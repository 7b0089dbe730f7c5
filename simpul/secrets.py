"""Secrets are referenced by name and resolved only at the moment of use.

The inventory's ``secrets:`` section maps a name to where the value lives — an environment
variable or a file readable only by its owner (mode 0600 or stricter). The value is returned as
a :class:`pydantic.SecretStr`, so it prints as ``**********`` and never lands in logs, reports,
the operations log or git.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pydantic import SecretStr

from simpul.errors import SecretError


def read_secret_file(path: Path, name: str) -> SecretStr:
    """Read a secret file, refusing files that group or others can read."""
    try:
        st = path.stat()
    except FileNotFoundError as e:
        raise SecretError(
            f"secret '{name}': file {path} does not exist",
            hint="create it with mode 0600 or point the reference elsewhere",
        ) from e
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(
            f"secret '{name}': file {path} is readable by group/others (mode {stat.S_IMODE(st.st_mode):04o})",
            hint=f"chmod 600 {path}",
        )
    return SecretStr(path.read_text().rstrip("\n"))


def read_secret_env(var: str, name: str) -> SecretStr:
    value = os.environ.get(var)
    if value is None:
        raise SecretError(
            f"secret '{name}': environment variable {var} is not set",
            hint=f"export {var}=... (or use a 0600 file reference)",
        )
    return SecretStr(value)
