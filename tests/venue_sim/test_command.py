"""``tradewarden venue-sim`` as a process: keys from a mounted Secret's files."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tradewarden.bot.runtime.command import tradewarden_command


@contextmanager
def venue_sim(*args: str) -> Iterator[str]:
    """A venue-sim process on a free port; yields its base URL, stops it afterwards."""
    process = subprocess.Popen(
        tradewarden_command("venue-sim", "--port", "0", *args),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            found = re.search(r"listening on (\S+)", line)
            if found:
                yield found.group(1)
                return
        raise AssertionError(f"venue-sim exited {process.wait()} without listening")
    finally:
        process.terminate()
        process.wait(timeout=15)


def signed_account(base_url: str, api_key: str, api_secret: str) -> tuple[int, dict[str, object]]:
    query = f"timestamp={int(time.time() * 1000)}"
    signature = hmac.new(api_secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"{base_url}/fapi/v3/account?{query}&signature={signature}",
        headers={"X-MBX-APIKEY": api_key},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_keys_come_from_the_secret_files(tmp_path: Path) -> None:
    (tmp_path / "apiKey").write_text("file-key\n")
    (tmp_path / "apiSecret").write_text("file-secret\n")
    with venue_sim("--credentials-dir", str(tmp_path)) as url:
        assert signed_account(url, "file-key", "file-secret")[0] == 200
        status, body = signed_account(url, "sim-key", "sim-secret")
        assert (status, body["code"]) == (401, -2015)


def test_a_missing_key_file_exits_2_naming_it(tmp_path: Path) -> None:
    (tmp_path / "apiKey").write_text("file-key\n")
    done = subprocess.run(
        tradewarden_command("venue-sim", "--port", "0", "--credentials-dir", str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"{tmp_path / 'apiSecret'}" in done.stderr


def test_order_limits_are_settable_and_a_bad_one_exits_2_naming_the_flag() -> None:
    with venue_sim("--order-limit-10s", "7", "--order-limit-1m", "9") as url:
        limits = json.loads(urllib.request.urlopen(f"{url}/fapi/v1/exchangeInfo").read())
    limits = limits["rateLimits"]
    orders = {
        (r["interval"], r["intervalNum"]): r["limit"]
        for r in limits
        if r["rateLimitType"] == "ORDERS"
    }
    assert orders == {("SECOND", 10): 7, ("MINUTE", 1): 9}
    done = subprocess.run(
        tradewarden_command("venue-sim", "--port", "0", "--order-limit-10s", "0"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--order-limit-10s" in done.stderr
