"""Server-side dry run on every verb, through the real kubectl: nothing changes.

kube-apiserver runs a ``dryRun=All`` request through every check (admission,
validation, conflicts) and answers what it would have stored, but stores
nothing; ``kubectl diff`` is a dry-run apply.
"""

from __future__ import annotations

import json

import yaml

from tests.sandbox.conftest import Kubectl, bot_manifest
from tradewarden.operator.sandbox.apiserver import SandboxApi

TB_API = "tradewarden.io/v1alpha1"


def _stored(api: SandboxApi, name: str = "alpha") -> dict[str, object] | None:
    return api.store.find(api.type_of(TB_API, "TradingBot"), "default", name)


async def test_apply_diff_patch_replace_and_delete_dry_runs_change_nothing(
    api: SandboxApi, kubectl: Kubectl
) -> None:
    code, _, err = await kubectl("apply", "-f", "-", stdin=yaml.safe_dump(bot_manifest()))
    assert code == 0, err
    before = _stored(api)
    paused = yaml.safe_dump(bot_manifest(paused=True))

    code, out, err = await kubectl("apply", "--dry-run=server", "-f", "-", stdin=paused)
    assert code == 0, err
    assert "tradingbot.tradewarden.io/alpha configured (server dry run)" in out
    code, out, err = await kubectl("diff", "-f", "-", stdin=paused)
    assert code == 1, err  # kubectl diff: 1 means "differences found"
    assert "+  paused: true" in out
    code, out, err = await kubectl(
        "patch", "tb", "alpha", "--dry-run=server", "--type=merge",
        "-p", '{"spec":{"paused":true}}', "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["spec"]["paused"] is True, "the answer is what would be stored"
    current = json.loads((await kubectl("get", "tb", "alpha", "-o", "json"))[1])
    current["spec"]["paused"] = True
    code, _, err = await kubectl(
        "replace", "--dry-run=server", "-f", "-", stdin=json.dumps(current)
    )
    assert code == 0, err
    code, out, err = await kubectl("delete", "tb", "alpha", "--dry-run=server")
    assert code == 0, err
    assert "deleted (server dry run)" in out

    assert _stored(api) == before, "no dry run changed or deleted the bot"


async def test_dry_runs_still_refuse_what_the_real_request_would(
    api: SandboxApi, kubectl: Kubectl
) -> None:
    api.create(bot_manifest())
    code, _, err = await kubectl(
        "create", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(bot_manifest())
    )
    assert code != 0
    assert (
        'Error from server (AlreadyExists): error when creating "STDIN": '
        'tradingbots.tradewarden.io "alpha" already exists'
    ) in err
    bad = yaml.safe_dump(bot_manifest("beta", risk={"maxPosition": "-1"}))
    code, _, err = await kubectl("apply", "--dry-run=server", "-f", "-", stdin=bad)
    assert code != 0 and "spec.risk.maxPosition" in err
    assert _stored(api, "beta") is None
