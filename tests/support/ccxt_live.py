"""ccxt's own live test runner (``ccxt/test/tests_init.py``, shipped in the ccxt package) against
the venue simulator.

The runner is made to run in ccxt's repository: it refuses a ccxt imported from
``site-packages`` and reads ``keys.json``/``keys.local.json`` and ``skip-tests.json`` from the
repository root (``python/ccxt/test/../../../``). :func:`runner_root` lays that shape out in a
temporary directory around the installed package, changing none of it: ``python/ccxt`` is a
directory of symbolic links to the installed package, except ``test/``, which holds copies of
the runner's three scripts (Python resolves the directory of the script it runs, so a link
would lead the runner back to ``site-packages``) and links to the rest. ``keys.local.json``
points every Binance API URL at the simulator and carries its key pair; ``skip-tests.json``
is ccxt's own entry for ``binanceusdm`` with nothing skipped.

Run ``python tests/support/ccxt_live.py`` (``make ccxt-live``) for the whole runner, public and
private, against a simulator process with a populated account; it prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ccxt
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro

EXCHANGE_ID = "binanceusdm"
SYMBOL = "BTC/USDT:USDT"
RUNNER_SCRIPTS = ("tests_init.py", "tests_async.py", "tests_helpers.py")
# The runner gives up on a method after three network errors a second or more apart, and the
# simulator answers at once, so a run never needs long; a hung one is killed after this.
RUN_TIMEOUT_S = 600.0
# A watch that hears nothing waits forever; ccxt's own orchestrator gives a stream run 120 s
# and reports what was still running as timed out. So does RunnerReport.
WS_TIMEOUT_S = 120.0
TIMED_OUT = "[RUNTEST_TIMED_OUT]"
EXIT_GRACE_S = 30.0

# ccxt's own skip-tests.json entry for binanceusdm skips nothing; two fields of a position are
# skipped here, with ccxt's convention (the value says why), so the rest is still checked.
_POSITION_SKIPS = {
    "leverage": "Binance's /fapi/v3/positionRisk has no leverage field (v2 had one)",
    "collateral": "a cross-margin position (Binance's default) has no isolated margin; ccxt "
    "derives collateral from liquidationPrice, which Binance gives as 0 when no price "
    "liquidates the position (a small position on a large wallet), so ccxt reports 0",
}
SKIP_TESTS = {
    EXCHANGE_ID: {
        "skipMethods": {"fetchPositions": _POSITION_SKIPS, "watchPositions": _POSITION_SKIPS}
    }
}
# Methods the runner fails on the simulator where the simulator is not at fault: the text the
# failure must contain, and why it is not the simulator's (the README lists them too). Any
# other failure, of these methods too, is the simulator's.
NOT_THE_SIMULATORS_FAULT: dict[str, tuple[str, str]] = {
    "fetchStatus": (
        "/sapi/v1/system/status",
        "Binance serves it on the wallet API (api.binance.com), not on USD-M futures "
        "(fapi.binance.com)",
    ),
    "fetchDeposits": ("/sapi/v1/capital/deposit/hisrec", "wallet API, not USD-M futures"),
    "fetchWithdrawals": ("/sapi/v1/capital/withdraw/history", "wallet API, not USD-M futures"),
    "fetchTransfers": ("/sapi/v1/asset/transfer", "wallet API, not USD-M futures"),
    "fetchBorrowInterest": ("/sapi/v1/margin/interestHistory", "margin API, not USD-M futures"),
    "fetchLeverageTiers": (
        'TypeError: can only concatenate str (not "list") to str',
        "the runner passes [[symbol]] where the test takes a symbol (a TypeError inside ccxt "
        "before any request); ccxt's test called with the symbol passes in "
        "tests/venue_sim/test_ccxt_validators.py",
    ),
    "fetchMarginModes": (
        "AssertionError: response is expected to be an array",
        "ccxt's test asserts that the reply is a dictionary and then that the same object is "
        "an array, which no reply passes; each margin mode passes ccxt's test_margin_mode in "
        "tests/venue_sim/test_ccxt_validators.py",
    ),
    "watchBalance": (
        "AssertionError: free is undefined",
        "Binance's ACCOUNT_UPDATE carries a balance's wallet and cross wallet balance (wb, cw) "
        "and no available balance, so ccxt's balance from the stream has no free amount",
    ),
    "watchPositions": (
        '"notional" key is expected to have a value',
        "Binance's ACCOUNT_UPDATE carries a position's amount, entry and break-even price, "
        "realized and unrealized PnL, margin type and isolated wallet (pa, ep, bep, cr, up, "
        "mt, iw), no notional, so ccxt's position from the stream has none",
    ),
    "createOrder": (
        "KeyError: 'BTC'",
        "(--fundedTests) ccxt's test reads the base currency's balance, which a USDT-margined "
        "account does not list (Binance lists unused margin assets with updateTime 0 and ccxt "
        "drops those rows, ccxt issue 27997); past that, in Python it cannot run at all: the "
        "async variant awaits synchronous helpers and the amount helper rounds with ROUND_UP, "
        "which ccxt's Python decimal_to_precision refuses. Created orders pass ccxt's order "
        "validator in tests/venue_sim/test_ccxt_validators.py",
    ),
}


def _installed_ccxt() -> Path:
    return Path(ccxt.__file__).resolve().parent


def sim_urls(base_url: str, template: dict[str, Any]) -> dict[str, Any]:
    """Every URL in ccxt's ``urls['api']`` re-rooted at the simulator, keeping its path.

    Spot, sapi, dapi, eapi and papi URLs go there too, so a call the simulator does not
    serve is answered by it (as an unknown path) and nothing reaches the internet.
    """
    ws_root = "ws" + base_url.removeprefix("http")
    rerooted: dict[str, Any] = {}
    for name, url in template.items():
        if isinstance(url, dict):
            rerooted[name] = sim_urls(base_url, url)
        elif isinstance(url, str):
            root = ws_root if url.startswith("wss:") else base_url
            rerooted[name] = root + urlsplit(url).path
    return rerooted


def runner_settings(base_url: str, api_key: str, api_secret: str) -> dict[str, Any]:
    """The ``binanceusdm`` entry of ``keys.local.json``: the simulator's URLs and key pair."""
    template = ccxt_pro.binanceusdm().urls["api"]  # REST and stream URLs
    return {
        EXCHANGE_ID: {
            "apiKey": api_key,
            "secret": api_secret,
            "urls": {"api": sim_urls(base_url, template)},
            # The coin list comes from Binance's wallet API (sapi, api.binance.com), not from
            # USD-M futures: ccxt skips it on Binance's futures testnet, and so does the bot.
            "options": {"fetchCurrencies": False},
        }
    }


def runner_root(directory: Path, settings: dict[str, Any]) -> Path:
    """Lay out ccxt's repository shape in ``directory``; return the runner's script.

    Nothing of the installed package is changed or copied except the runner's three scripts.
    """
    installed = _installed_ccxt()
    package = directory / "python" / "ccxt"
    tests = package / "test"
    tests.mkdir(parents=True)
    for entry in installed.iterdir():
        if entry.name != "test":
            (package / entry.name).symlink_to(entry)
    for entry in (installed / "test").iterdir():
        if entry.name in RUNNER_SCRIPTS:
            shutil.copyfile(entry, tests / entry.name)
        else:
            (tests / entry.name).symlink_to(entry)
    (directory / "keys.local.json").write_text(json.dumps(settings, indent=2))
    (directory / "skip-tests.json").write_text(json.dumps(SKIP_TESTS, indent=2))
    return tests / "tests_init.py"


_FAILURE = re.compile(r"^\[TEST_FAILURE\]\s+(?P<rest>.*)$")
_WARNING = re.compile(r"^\[TEST_WARNING\]\s+(?P<rest>.*)$")
_STARTED = re.compile(r"^\[INFO\] TESTING\s+\S+\s+(\w+) \(", re.MULTILINE)
_DONE = re.compile(r"^\[INFO\] TESTING DONE\s+\S+\s+(?P<method>\w+)")
_SKIPPED = re.compile(
    r"^\[INFO\] (?P<kind>UNSUPPORTED_TEST|SKIPPED_TEST|UNIMPLEMENTED_TEST|NOT_SUPPORTED)"
    r"\s+\S+\s+(?P<method>\w+)"
)


@dataclass
class RunnerReport:
    """What one run of the runner printed, by method: passed, failed, warned, not run."""

    exit_code: int
    output: str
    passed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)
    not_run: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, exit_code: int, output: str) -> RunnerReport:
        """Read the runner's ``[INFO] TESTING DONE`` / ``[TEST_FAILURE]`` / ... lines."""
        report = cls(exit_code, output)
        lines = output.splitlines()
        for index, line in enumerate(lines):
            if done := _DONE.match(line):
                report.passed.append(done.group("method"))
            elif skipped := _SKIPPED.match(line):
                report.not_run.setdefault(skipped.group("kind"), []).append(skipped.group("method"))
            elif failure := _FAILURE.match(line):
                rest = failure.group("rest")
                method = _method_of(rest)
                if method in ("PUBLIC_TESTS", "PRIVATE_TESTS"):
                    continue  # the phase's list of the methods reported above
                # The exception and its traceback follow, up to the runner's next line.
                block = [rest]
                for following in lines[index + 1 :]:
                    if following.startswith("["):
                        break
                    block.append(following)
                report.failed[method] = "\n".join(block)
            elif warning := _WARNING.match(line):
                rest = warning.group("rest")
                report.warnings[_method_of(rest)] = rest
        if TIMED_OUT in output:
            started = set(_STARTED.findall(output))
            ended = set(report.passed) | set(report.failed)
            for method in sorted(started - ended):
                report.failed[method] = f"{TIMED_OUT} no reply within the run's budget"
        report.passed = sorted(set(report.passed) - set(report.failed))
        return report

    @property
    def simulator_failures(self) -> dict[str, str]:
        """Failed methods not explained by :data:`NOT_THE_SIMULATORS_FAULT`."""
        return {m: t for m, t in self.failed.items() if _known_reason(m, t) is None}

    def summary(self) -> str:
        """One line of counts and one line per failed or warned method."""
        not_run = {kind: sorted(set(methods)) for kind, methods in self.not_run.items()}
        counts = ", ".join(f"{kind}: {len(methods)}" for kind, methods in sorted(not_run.items()))
        lines = [
            f"ccxt live runner ({EXCHANGE_ID} on the simulator): {len(self.passed)} passed, "
            f"{len(self.failed)} failed ({len(self.simulator_failures)} the simulator's), "
            f"{len(self.warnings)} warnings, {sum(map(len, not_run.values()))} not run "
            f"({counts}); runner exit {self.exit_code}",
            f"  passed: {', '.join(self.passed)}",
        ]
        for method, text in self.failed.items():
            reason = _known_reason(method, text)
            verdict = f"not the simulator's fault: {reason}" if reason else text.splitlines()[0]
            lines.append(f"  FAILED {method}: {verdict}")
        lines += [f"  WARNING {method}: {text[:300]}" for method, text in self.warnings.items()]
        lines += [f"  {kind}: {', '.join(methods)}" for kind, methods in sorted(not_run.items())]
        return "\n".join(lines)


def _known_reason(method: str, failure: str) -> str | None:
    """Why ``method``'s failure is not the simulator's, or None when it may be."""
    fragment, reason = NOT_THE_SIMULATORS_FAULT.get(method, ("", ""))
    return reason if fragment and fragment in failure else None


def _method_of(rest: str) -> str:
    """The method a ``[TEST_FAILURE] binanceusdm method [args] ...`` line is about."""
    words = rest.split()
    if len(words) >= 2 and words[0] == EXCHANGE_ID:
        return words[1]
    return rest[:80]


async def run_runner(
    base_url: str,
    api_key: str,
    api_secret: str,
    *,
    methods: Iterable[str] = (),
    flags: Sequence[str] = ("--private", "--fundedTests"),
    timeout_s: float = RUN_TIMEOUT_S,
) -> RunnerReport:
    """Run ccxt's runner for ``binanceusdm`` on the simulator at ``base_url``.

    ``methods`` limits it to those unified methods (``loadMarkets`` always runs); ``flags``
    are the runner's own (``--private``: public and private methods, ``--privateOnly``,
    ``--fundedTests``: createOrder too, ``--ws``: the streaming methods).
    """
    with tempfile.TemporaryDirectory(prefix="ccxt-live-") as directory:
        script = runner_root(Path(directory), runner_settings(base_url, api_key, api_secret))
        selection = [",".join(f"{m}()" for m in methods)] if methods else []
        env = {**os.environ, "PYTHONPATH": str(script.parent.parent.parent)}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            EXCHANGE_ID,
            *selection,
            "--info",
            *flags,
            cwd=directory,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert process.stdout is not None
        chunks: list[bytes] = []

        async def collect() -> None:
            assert process.stdout is not None
            while chunk := await process.stdout.read(65536):
                chunks.append(chunk)

        try:
            await asyncio.wait_for(collect(), timeout_s)
            # Its output is closed; the runner is exiting (closing its clients first).
            await asyncio.wait_for(process.wait(), EXIT_GRACE_S)
        except TimeoutError:
            chunks.append(f"\n{TIMED_OUT} after {timeout_s:.0f} s\n".encode())
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()
    assert process.returncode is not None
    return RunnerReport.parse(process.returncode, b"".join(chunks).decode(errors="replace"))


def sim_client(base_url: str, api_key: str, api_secret: str) -> Any:
    """A plain ccxt ``binanceusdm`` client on the simulator, configured as the runner's is."""
    settings = runner_settings(base_url, api_key, api_secret)[EXCHANGE_ID]
    client = ccxt_async.binanceusdm({"apiKey": api_key, "secret": api_secret})
    client.urls["api"] = settings["urls"]["api"]
    client.options.update(settings["options"])
    return client


async def populate(client: Any) -> None:
    """Give the account what the runner's private methods read: a position with a protective
    stop, resting orders on both sides, a cancelled order and fills (with commission).

    Prices follow the book so the orders rest or fill whatever the mark is.
    """
    await client.load_markets()
    ticker = await client.fetch_ticker(SYMBOL)
    mark = float(ticker["last"])
    await client.create_order(SYMBOL, "market", "buy", 0.01)
    await client.create_order(SYMBOL, "market", "sell", 0.003)
    await client.create_order(SYMBOL, "limit", "buy", 0.003, round(mark * 0.97, 1))
    await client.create_order(SYMBOL, "limit", "sell", 0.003, round(mark * 1.03, 1))
    stop_price = round(mark * 0.9, 1)
    stop = {"triggerPrice": stop_price, "reduceOnly": True}
    await client.create_order(SYMBOL, "STOP_MARKET", "sell", 0.007, None, stop)
    cancelled = await client.create_order(SYMBOL, "limit", "buy", 0.003, round(mark * 0.95, 1))
    await client.cancel_order(cancelled["id"], SYMBOL)


@asynccontextmanager
async def simulator_process(api_key: str, api_secret: str) -> AsyncIterator[str]:
    """``tradewarden venue-sim`` on 127.0.0.1 and a free port; yields its base URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tradewarden.bot.cli",
        "venue-sim",
        "--port",
        "0",
        "--api-key",
        api_key,
        "--api-secret",
        api_secret,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        while line := await asyncio.wait_for(process.stderr.readline(), 60):
            if "listening on " in (text := line.decode().strip()):
                yield text.rsplit(" ", 1)[-1]
                return
        raise RuntimeError("the simulator exited before listening")
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


async def trade_meanwhile(client: Any, period_s: float = 1.0) -> None:
    """Until cancelled, buy and sell the minimum every ``period_s``: the market's trades and
    the account's order, fill, balance and position updates the streaming methods wait for
    (on Binance other traders provide them)."""
    side = "buy"
    while True:
        await client.create_order(SYMBOL, "market", side, 0.003)
        side = "sell" if side == "buy" else "buy"
        await asyncio.sleep(period_s)


async def _main(flags: Sequence[str], methods: Sequence[str]) -> int:
    api_key, api_secret = "live-test-key", "live-test-secret"
    streaming = "--ws" in flags
    async with simulator_process(api_key, api_secret) as base_url:
        client = sim_client(base_url, api_key, api_secret)
        try:
            await populate(client)
            trading = asyncio.create_task(trade_meanwhile(client)) if streaming else None
            report = await run_runner(
                base_url,
                api_key,
                api_secret,
                methods=methods,
                flags=flags,
                timeout_s=WS_TIMEOUT_S if streaming else RUN_TIMEOUT_S,
            )
            if trading is not None:
                trading.cancel()
                await asyncio.gather(trading, return_exceptions=True)
        finally:
            await client.close()
    print(report.output)
    print(report.summary())
    return 1 if report.simulator_failures or report.exit_code else 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python tests/support/ccxt_live.py [--ws] [METHOD ...]``: exit 1 on any failure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ws", action="store_true", help="the runner's streaming methods")
    parser.add_argument("methods", nargs="*", help="only these unified methods")
    args = parser.parse_args(argv)
    flags = ["--private", "--fundedTests", *(["--ws"] if args.ws else [])]
    return asyncio.run(_main(flags, args.methods))


if __name__ == "__main__":
    sys.exit(main())
