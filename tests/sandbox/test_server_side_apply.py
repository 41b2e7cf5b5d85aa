"""Server-side apply through the real kubectl: managedFields, conflicts, force, release."""

from __future__ import annotations

import json
from typing import Any

import yaml

from tests.sandbox.conftest import Kubectl, bot_manifest


async def _bot(kubectl: Kubectl) -> dict[str, Any]:
    code, out, err = await kubectl("get", "tb", "alpha", "-o", "json", "--show-managed-fields")
    assert code == 0, err
    found: dict[str, Any] = json.loads(out)
    return found


def _owners(bot: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["manager"], m["operation"]): m["fieldsV1"] for m in bot["metadata"]["managedFields"]}


async def test_apply_records_managers_and_refuses_another_manager_s_field_unless_forced(
    kubectl: Kubectl,
) -> None:
    labelled = bot_manifest()
    labelled["metadata"]["labels"] = {"team": "desk"}  # type: ignore[index]
    code, out, err = await kubectl(
        "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(labelled)
    )
    assert code == 0, err
    assert "tradingbot.tradewarden.io/alpha serverside-applied" in out
    owners = _owners(await _bot(kubectl))
    applied = owners[("kubectl", "Apply")]
    assert applied["f:spec"]["f:risk"] == {"f:maxOrderNotional": {}, "f:maxPosition": {}}
    assert applied["f:metadata"] == {"f:labels": {"f:team": {}}}

    code, _, err = await kubectl(
        "patch", "tb", "alpha", "--type=merge", "-p", '{"spec":{"risk":{"maxPosition":"0.05"}}}'
    )
    assert code == 0, err
    owners = _owners(await _bot(kubectl))
    assert owners[("kubectl-patch", "Update")] == {"f:spec": {"f:risk": {"f:maxPosition": {}}}}
    assert "f:maxPosition" not in owners[("kubectl", "Apply")]["f:spec"]["f:risk"]

    code, _, err = await kubectl(
        "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(labelled)
    )
    assert code != 0
    assert (
        'Apply failed with 1 conflict: conflict with "kubectl-patch" using '
        "tradewarden.io/v1alpha1: .spec.risk.maxPosition"
    ) in err
    bot = await _bot(kubectl)
    assert bot["spec"]["risk"]["maxPosition"] == "0.05", "a refused apply changes nothing"

    code, _, err = await kubectl(
        "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=yaml.safe_dump(labelled)
    )
    assert code == 0, err
    bot = await _bot(kubectl)
    assert bot["spec"]["risk"]["maxPosition"] == "0.02"
    assert ("kubectl-patch", "Update") not in _owners(bot), "the forced apply took the field"

    # A field the manager stops applying, that nobody else owns, goes.
    code, _, err = await kubectl(
        "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(bot_manifest())
    )
    assert code == 0, err
    assert "labels" not in (await _bot(kubectl))["metadata"]
