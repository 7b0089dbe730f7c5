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
    """Read a secret file, refusing files that group or others can read, and empty ones."""
    try:
        st = path.stat()
    except FileNotFoundError as e:
        raise SecretError(
            f"secret '{name}': file {path} does not exist",
            hint="create it with mode 0600 or point the reference elsewhere",
        ) from e
    except OSError as e:
        raise SecretError(f"secret '{name}': cannot read {path} ({e.strerror})",
                          hint="check the path and its permissions") from e
    if not stat.S_ISREG(st.st_mode):
        what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise SecretError(
            f"secret '{name}': {path} is {what}",
            hint="point file: at the file holding the secret (mode 0600)",
        )
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(
            f"secret '{name}': file {path} is readable by group/others (mode {stat.S_IMODE(st.st_mode):04o})",
            hint=f"chmod 600 {path}",
        )
    try:
        value = path.read_text().rstrip("\n")
    except OSError as e:
        raise SecretError(f"secret '{name}': cannot read {path} ({e.strerror})",
                          hint="the file must be readable by the user running simpul") from e
    except UnicodeDecodeError as e:
        raise SecretError(f"secret '{name}': {path} is not UTF-8 text (byte {e.start})",
                          hint="a secret file holds the secret as text") from e
    if not value:
        raise SecretError(f"secret '{name}': file {path} is empty",
                          hint="write the secret into it (an empty secret is never meant)")
    return SecretStr(value)


def read_secret_env(var: str, name: str) -> SecretStr:
    """Read a secret from environment variable ``var``, refusing an unset or empty one."""
    value = os.environ.get(var)
    if value is None:
        raise SecretError(
            f"secret '{name}': environment variable {var} is not set",
            hint=f"export {var}=... (or use a 0600 file reference)",
        )
    if not value.strip():
        raise SecretError(
            f"secret '{name}': environment variable {var} is empty",
            hint=f"export {var}=... with the secret (an empty secret is never meant: a failed "
                 "$(cat ...) or a typo in the name?)",
        )
    return SecretStr(value)
