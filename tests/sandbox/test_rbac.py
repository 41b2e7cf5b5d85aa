"""Authentication and RBAC of the sandbox API server, met through the real kubectl.

Every refusal is checked against kube-apiserver's status code and wording.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import yaml

from tests.sandbox.conftest import Kubectl, bot_manifest
from tradewarden.operator.sandbox.apiserver import SandboxApi

BOT_SA = "system:serviceaccount:default:tb-alpha"


def _role(name: str, rules: list[dict[str, object]], namespace: str = "default") -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": name, "namespace": namespace},
            "rules": rules,
        }
    )


def _binding(name: str, role: str, account: str, namespace: str = "default") -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
        }
    )


async def _token(kubectl: Kubectl, account: str, namespace: str = "default") -> str:
    code, out, err = await kubectl("-n", namespace, "create", "serviceaccount", account)
    assert code == 0, err
    code, out, err = await kubectl("-n", namespace, "create", "token", account)
    assert code == 0, err
    return out.strip()


async def test_requests_without_valid_credentials_are_unauthorized(
    api: SandboxApi, kubectl: Kubectl, tmp_path: Path
) -> None:
    code, _, err = await kubectl("--token", "not-a-token", "get", "tb")
    assert code != 0
    assert "You must be logged in to the server" in err
    connector = aiohttp.TCPConnector(ssl=api.client_ssl)
    async with aiohttp.ClientSession(api.url, connector=connector) as http:
        answer = await http.get("/apis/tradewarden.io/v1alpha1/tradingbots")
        assert answer.status == 401
        body = await answer.json()
        assert (body["kind"], body["reason"], body["message"], body["code"]) == (
            "Status", "Unauthorized", "Unauthorized", 401
        )  # fmt: skip
        health = await http.get("/readyz")
        assert health.status == 200, "health checks stay anonymous"


async def test_service_account_token_is_forbidden_until_a_role_grants_it(
    api: SandboxApi, kubectl: Kubectl
) -> None:
    api.create(bot_manifest("alpha"))
    api.create(bot_manifest("beta"))
    token = await _token(kubectl, "tb-alpha")
    code, out, err = await kubectl("--token", token, "auth", "whoami", "-o", "json")
    assert code == 0, err
    info = json.loads(out)["status"]["userInfo"]
    assert info["username"] == BOT_SA
    assert info["groups"] == [
        "system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"
    ]  # fmt: skip

    code, _, err = await kubectl("--token", token, "get", "tb", "alpha")
    assert code != 0
    assert (
        'Error from server (Forbidden): tradingbots.tradewarden.io "alpha" is forbidden: '
        f'User "{BOT_SA}" cannot get resource "tradingbots" in API group "tradewarden.io" '
        'in the namespace "default"'
    ) in err

    rules = [
        {
            "apiGroups": ["tradewarden.io"],
            "resources": ["tradingbots"],
            "resourceNames": ["alpha"],
            "verbs": ["get", "list", "watch"],
        }
    ]
    for document in (_role("tb-alpha", rules), _binding("tb-alpha", "tb-alpha", "tb-alpha")):
        code, _, err = await kubectl("apply", "-f", "-", stdin=document)
        assert code == 0, err
    code, out, err = await kubectl("--token", token, "get", "tb", "alpha", "-o", "name")
    assert (code, out.strip()) == (0, "tradingbot.tradewarden.io/alpha"), err
    # resourceNames: another bot, an unfiltered list and the status subresource stay refused.
    code, _, err = await kubectl("--token", token, "get", "tb", "beta")
    assert code != 0 and 'tradingbots.tradewarden.io "beta" is forbidden' in err
    code, _, err = await kubectl("--token", token, "get", "tb")
    assert code != 0
    assert 'cannot list resource "tradingbots" in API group "tradewarden.io"' in err
    code, _, err = await kubectl(
        "--token", token, "patch", "tb", "alpha", "--subresource=status", "--type=merge",
        "-p", '{"status":{"phase":"Running"}}',
    )  # fmt: skip
    assert code != 0
    assert 'cannot get resource "tradingbots/status" in API group "tradewarden.io"' in err
    # Another namespace is out of reach too.
    code, _, err = await kubectl("--token", token, "-n", "kube-system", "get", "tb", "alpha")
    assert code != 0 and 'in the namespace "kube-system"' in err


async def test_auth_can_i_and_rules_review_answer_for_users_and_impersonation(
    api: SandboxApi, kubectl: Kubectl
) -> None:
    token = await _token(kubectl, "tb-alpha")
    rules = [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["get"]},
    ]
    for document in (_role("leases", rules), _binding("leases", "leases", "tb-alpha")):
        code, _, err = await kubectl("apply", "-f", "-", stdin=document)
        assert code == 0, err

    async def can_i(*args: str) -> str:
        code, out, _ = await kubectl("auth", "can-i", *args)
        assert code == (0 if out.strip() == "yes" else 1)
        return out.strip()

    assert await can_i("create", "leases.coordination.k8s.io") == "yes", "the admin"
    assert await can_i("--token", token, "create", "leases.coordination.k8s.io") == "yes"
    assert await can_i("--token", token, "delete", "leases.coordination.k8s.io") == "no"
    assert await can_i("--token", token, "create", "leases.coordination.k8s.io", "-n", "x") == "no"
    assert await can_i("--token", token, "get", "tb", "--subresource=status") == "yes"
    assert await can_i("--as", BOT_SA, "create", "leases.coordination.k8s.io") == "yes"
    assert await can_i("--as", BOT_SA, "get", "secrets") == "no"
    code, out, err = await kubectl("--token", token, "auth", "can-i", "--list")
    assert code == 0, err
    assert any(line.split()[0] == "leases.coordination.k8s.io" for line in out.splitlines()[1:])
    assert "selfsubjectaccessreviews.authorization.k8s.io" in out

    # Impersonation needs the impersonate verb: a ServiceAccount cannot become the admin.
    code, _, err = await kubectl("--token", token, "--as", "kubernetes-admin", "get", "pods")
    assert code != 0
    assert (
        'users "kubernetes-admin" is forbidden: User "system:serviceaccount:default:tb-alpha" '
        'cannot impersonate resource "users" in API group "" at the cluster scope'
    ) in err


async def test_a_deleted_service_account_s_token_stops_working(kubectl: Kubectl) -> None:
    token = await _token(kubectl, "gone")
    code, _, err = await kubectl("--token", token, "auth", "whoami")
    assert code == 0, err
    code, _, err = await kubectl("delete", "serviceaccount", "gone")
    assert code == 0, err
    code, _, err = await kubectl("--token", token, "auth", "whoami")
    assert code != 0 and "You must be logged in to the server" in err


async def test_a_role_may_grant_only_what_its_author_holds(kubectl: Kubectl) -> None:
    token = await _token(kubectl, "author")
    rules = [
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"],
         "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
    ]  # fmt: skip
    for document in (_role("author", rules), _binding("author", "author", "author")):
        code, _, err = await kubectl("apply", "-f", "-", stdin=document)
        assert code == 0, err
    held = _role("held", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}])
    code, _, err = await kubectl("--token", token, "create", "-f", "-", stdin=held)
    assert code == 0, err
    more = _role("more", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}])
    code, _, err = await kubectl("--token", token, "create", "-f", "-", stdin=more)
    assert code != 0
    assert (
        'roles.rbac.authorization.k8s.io "more" is forbidden: user '
        '"system:serviceaccount:default:author" (groups=["system:serviceaccounts" '
        '"system:serviceaccounts:default" "system:authenticated"]) is attempting to grant '
        "RBAC permissions not currently held:\n"
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}'
    ) in err
    # A binding to a Role that does not exist yet is refused (bind is not held).
    code, _, err = await kubectl(
        "--token", token, "create", "-f", "-", stdin=_binding("early", "later", "author")
    )
    assert code != 0
    assert 'roles.rbac.authorization.k8s.io "later" not found' in err


async def test_block_owner_deletion_needs_update_on_the_owner_s_finalizers(
    api: SandboxApi, kubectl: Kubectl
) -> None:
    bot = api.create(bot_manifest("alpha"))
    token = await _token(kubectl, "maker")
    rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "delete"]}]
    for document in (_role("maker", rules), _binding("maker", "maker", "maker")):
        code, _, err = await kubectl("apply", "-f", "-", stdin=document)
        assert code == 0, err
    owner = {
        "apiVersion": "tradewarden.io/v1alpha1", "kind": "TradingBot", "name": "alpha",
        "uid": bot["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True,
    }  # fmt: skip
    child = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "child", "namespace": "default", "ownerReferences": [owner]},
    }
    code, _, err = await kubectl("--token", token, "create", "-f", "-", stdin=yaml.safe_dump(child))
    assert code != 0
    assert (
        'configmaps "child" is forbidden: cannot set blockOwnerDeletion if an ownerReference '
        "refers to a resource you can't set finalizers on: , <nil>"
    ) in err
    finalizers = [
        {"apiGroups": ["tradewarden.io"], "resources": ["tradingbots/finalizers"],
         "verbs": ["update"]},
    ]  # fmt: skip
    for document in (_role("owner", finalizers), _binding("owner", "owner", "maker")):
        code, _, err = await kubectl("apply", "-f", "-", stdin=document)
        assert code == 0, err
    code, _, err = await kubectl("--token", token, "create", "-f", "-", stdin=yaml.safe_dump(child))
    assert code == 0, err


async def test_an_owner_reference_is_set_freely_on_create_and_changed_only_with_delete(
    api: SandboxApi, kubectl: Kubectl
) -> None:
    # As kube-apiserver v1.36's OwnerReferencesPermissionEnforcement: the delete check is
    # for a change of ownerReferences, never for a create (the sandbox refused the create).
    bot = api.create(bot_manifest("alpha"))
    token = await _token(kubectl, "maker")
    rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "get", "patch"]}]
    for document in (_role("maker", rules), _binding("maker", "maker", "maker")):
        code, _, err = await kubectl("apply", "-f", "-", stdin=document)
        assert code == 0, err
    owner = {
        "apiVersion": "tradewarden.io/v1alpha1", "kind": "TradingBot", "name": "alpha",
        "uid": bot["metadata"]["uid"],
    }  # fmt: skip
    child = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "child", "namespace": "default", "ownerReferences": [owner]},
    }
    code, _, err = await kubectl("--token", token, "create", "-f", "-", stdin=yaml.safe_dump(child))
    assert code == 0, err
    adopt = {"metadata": {"ownerReferences": [{**owner, "name": "other", "uid": "0a0a"}]}}
    code, _, err = await kubectl(
        "--token", token, "patch", "configmap", "child", "--type=merge", "-p", json.dumps(adopt)
    )
    assert code != 0
    assert (
        'configmaps "child" is forbidden: cannot set an ownerRef on a resource you can\'t '
        "delete: , <nil>"
    ) in err
    code, _, err = await kubectl(
        "--token", token, "patch", "configmap", "child", "--type=merge", "-p", '{"data":{"a":"b"}}'
    )
    assert code == 0, err


async def test_creates_in_a_missing_namespace_are_not_found(kubectl: Kubectl) -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    code, _, err = await kubectl("-n", "nowhere", "apply", "-f", "-", stdin=yaml.safe_dump(config))
    assert code != 0
    assert (
        'Error from server (NotFound): error when creating "STDIN": namespaces "nowhere" not found'
        in err
    )
    code, _, err = await kubectl("-n", "nowhere", "create", "configmap", "c")
    assert code != 0
    assert 'namespaces "nowhere" not found' in err


async def test_subject_access_review_answers_for_another_user(kubectl: Kubectl) -> None:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": BOT_SA,
            "groups": ["system:serviceaccounts", "system:authenticated"],
            "resourceAttributes": {
                "namespace": "default", "verb": "get", "group": "tradewarden.io",
                "resource": "tradingbots", "name": "alpha",
            },
        },
    }  # fmt: skip

    async def allowed() -> dict[str, object]:
        code, out, err = await kubectl("create", "-f", "-", "-o", "json", stdin=json.dumps(review))
        assert code == 0, err
        status: dict[str, object] = json.loads(out)["status"]
        return status

    assert (await allowed())["allowed"] is False
    rules = [{"apiGroups": ["tradewarden.io"], "resources": ["tradingbots"], "verbs": ["get"]}]
    for document in (_role("reader", rules), _binding("reader", "reader", "tb-alpha")):
        code, _, err = await kubectl("apply", "-f", "-", stdin=document)
        assert code == 0, err
    assert await allowed() == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "reader/default" of Role "reader" to '
        'ServiceAccount "tb-alpha/default"',
    }
