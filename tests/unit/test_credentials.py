"""Credentials from env or a mounted Secret directory; never shown in repr."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tradewarden.bot.venue.credentials import (
    ENV_DIR,
    ENV_KEY,
    ENV_SECRET,
    Credentials,
    CredentialsError,
    load_credentials,
)

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def secret_dir(tmp_path: Path, key: str | None = KEY, secret: str | None = SECRET) -> Path:
    directory = tmp_path / "secret"
    directory.mkdir()
    if key is not None:
        (directory / "apiKey").write_text(key, encoding="utf-8")
    if secret is not None:
        (directory / "apiSecret").write_text(secret, encoding="utf-8")
    return directory


def test_from_environment() -> None:
    assert load_credentials({ENV_KEY: KEY, ENV_SECRET: SECRET}) == Credentials(KEY, SECRET)


def test_from_directory_strips_trailing_newlines(tmp_path: Path) -> None:
    directory = secret_dir(tmp_path, KEY + "\n", SECRET + "\n")
    assert load_credentials({ENV_DIR: str(directory)}) == Credentials(KEY, SECRET)


def test_directory_wins_over_environment(tmp_path: Path) -> None:
    directory = secret_dir(tmp_path)
    environ = {ENV_DIR: str(directory), ENV_KEY: "env-key", ENV_SECRET: "env-secret"}
    assert load_credentials(environ) == Credentials(KEY, SECRET)


@pytest.mark.parametrize(
    "environ",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"UNRELATED": "x"}, id="unrelated variables"),
        pytest.param({ENV_DIR: ""}, id="empty directory variable"),
    ],
)
def test_none_configured_is_none(environ: dict[str, str]) -> None:
    assert load_credentials(environ) is None


@pytest.mark.parametrize(
    "environ",
    [
        pytest.param({ENV_KEY: KEY}, id="key only"),
        pytest.param({ENV_SECRET: SECRET}, id="secret only"),
        pytest.param({ENV_KEY: "", ENV_SECRET: SECRET}, id="empty key"),
        pytest.param({ENV_KEY: KEY, ENV_SECRET: ""}, id="empty secret"),
    ],
)
def test_half_a_pair_in_the_environment_is_an_error(environ: dict[str, str]) -> None:
    with pytest.raises(CredentialsError) as caught:
        load_credentials(environ)
    assert KEY not in str(caught.value)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("key", "secret", "words"),
    [
        pytest.param(None, SECRET, "cannot read", id="missing apiKey"),
        pytest.param(KEY, None, "cannot read", id="missing apiSecret"),
        pytest.param("", SECRET, "empty", id="empty apiKey"),
        pytest.param(KEY, "  \n", "empty", id="blank apiSecret"),
    ],
)
def test_bad_directory_is_an_error(
    tmp_path: Path, key: str | None, secret: str | None, words: str
) -> None:
    directory = secret_dir(tmp_path, key, secret)

    with pytest.raises(CredentialsError, match=words) as caught:
        load_credentials({ENV_DIR: str(directory)})

    assert KEY not in str(caught.value)
    assert SECRET not in str(caught.value)


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="cannot read"):
        load_credentials({ENV_DIR: str(tmp_path / "not-mounted")})


@pytest.mark.parametrize("render", [repr, str, lambda c: f"{c}", lambda c: f"{c!r}"])
def test_credentials_never_show_in_repr(render: Callable[[Credentials], str]) -> None:
    text = render(Credentials(KEY, SECRET))
    assert KEY not in text
    assert SECRET not in text
    assert "Credentials" in text
