"""Venue credentials, from the environment or a mounted Secret only.

Never from the manifest: a TradingBot names a Secret, it never holds a key.
The values are kept out of ``repr`` so they cannot reach a log line by accident.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENV_KEY = "TRADEWARDEN_API_KEY"
ENV_SECRET = "TRADEWARDEN_API_SECRET"
ENV_DIR = "TRADEWARDEN_CREDENTIALS_DIR"
# File names inside the mounted Secret (its data keys).
KEY_FILE = "apiKey"
SECRET_FILE = "apiSecret"


class CredentialsError(RuntimeError):
    """Credentials are missing or unreadable."""


@dataclass(frozen=True)
class Credentials:
    """An API key pair; ``repr`` never shows it."""

    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)


def load_credentials(environ: Mapping[str, str] = os.environ) -> Credentials | None:
    """Credentials from ``TRADEWARDEN_CREDENTIALS_DIR`` files, else from the environment.

    Returns ``None`` when neither source is configured (public data and dry
    runs need no key). Half a key pair is an error, not a silent downgrade.
    """
    directory = environ.get(ENV_DIR)
    if directory:
        return credentials_from_directory(Path(directory))
    key, secret = environ.get(ENV_KEY), environ.get(ENV_SECRET)
    if key is None and secret is None:
        return None
    if not key or not secret:
        raise CredentialsError(f"set both {ENV_KEY} and {ENV_SECRET}, or neither")
    return Credentials(key, secret)


def credentials_from_directory(directory: Path) -> Credentials:
    """The key pair from the files ``apiKey`` and ``apiSecret`` of a mounted Secret."""
    values = []
    for name in (KEY_FILE, SECRET_FILE):
        path = directory / name
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CredentialsError(f"cannot read {path}: {exc.strerror}") from exc
        if not value:
            raise CredentialsError(f"{path} is empty")
        values.append(value)
    return Credentials(values[0], values[1])
