"""Who is asking: bearer tokens, ServiceAccount tokens, impersonation, bootstrap RBAC.

The sandbox API server authenticates every request as kube-apiserver does
with anonymous access switched off except for health checks (the structured
AuthenticationConfiguration's ``anonymous.conditions`` on ``/healthz``,
``/livez`` and ``/readyz``): no or an unknown bearer token is ``401
Unauthorized``.

- The admin token (one random token per server, in the kubeconfig the
  sandbox writes for people) is ``kubernetes-admin`` in ``system:masters``,
  as kubeadm's ``admin.conf``: allowed everything.
- A ServiceAccount token is minted by the TokenRequest API
  (``POST .../serviceaccounts/NAME/token``, what ``kubectl create token``
  sends) or in-process for the pod runner's pods; it authenticates as
  ``system:serviceaccount:NS:NAME`` in ``system:serviceaccounts``,
  ``system:serviceaccounts:NS`` and ``system:authenticated`` while that
  ServiceAccount (same uid) exists and the token has not expired.
- ``Impersonate-User``/``Impersonate-Group`` (``kubectl --as``) switch the
  identity when the caller may ``impersonate`` users, groups or
  serviceaccounts.

:data:`BOOTSTRAP` is the default RBAC every cluster has (cluster-admin and
the roles that let any authenticated user discover the API and review
itself).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tradewarden.operator.sandbox.rbac import User

AUTHENTICATED = "system:authenticated"
ADMIN = User("kubernetes-admin", ("kubeadm:cluster-admins", "system:masters", AUTHENTICATED))
SA_PREFIX = "system:serviceaccount:"
ANONYMOUS_PATHS = frozenset({"/healthz", "/livez", "/readyz"})
# TokenRequest's default and floor (expirationSeconds), as kube-apiserver applies them.
DEFAULT_TOKEN_SECONDS = 3600
MIN_TOKEN_SECONDS = 600


def service_account_user(namespace: str, name: str, uid: str) -> User:
    """The identity a ServiceAccount token authenticates as."""
    return User(
        f"{SA_PREFIX}{namespace}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED),
        uid,
    )


@dataclass(frozen=True)
class _Token:
    user: User
    expires: datetime | None
    # (namespace, name, uid) of the ServiceAccount the token is bound to.
    bound_to: tuple[str, str, str] | None


class Authenticator:
    """Bearer tokens to identities; ``sa_uid(ns, name)`` says whether a ServiceAccount lives."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        sa_uid: Callable[[str, str], str | None],
        admin_token: str | None = None,
    ) -> None:
        self._clock = clock
        self._sa_uid = sa_uid
        self.admin_token = admin_token or secrets.token_urlsafe(32)
        self._tokens: dict[str, _Token] = {self.admin_token: _Token(ADMIN, None, None)}

    def mint(self, namespace: str, name: str, uid: str, seconds: int) -> tuple[str, datetime]:
        """A token bound to a ServiceAccount for ``seconds``; returns it and its expiry."""
        expires = self._clock() + timedelta(seconds=seconds)
        token = secrets.token_urlsafe(32)
        self._tokens[token] = _Token(
            service_account_user(namespace, name, uid), expires, (namespace, name, uid)
        )
        return token, expires

    def authenticate(self, authorization: str | None) -> User | None:
        """The identity of an ``Authorization`` header, or None (401)."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        found = self._tokens.get(token.strip())
        if found is None:
            return None
        if found.expires is not None and self._clock() >= found.expires:
            return None
        if found.bound_to is not None:
            namespace, name, uid = found.bound_to
            if self._sa_uid(namespace, name) != uid:
                return None
        return found.user


def impersonated(user_name: str, groups: list[str]) -> User:
    """The identity ``Impersonate-User``/``Impersonate-Group`` ask for.

    A ServiceAccount name gets its ServiceAccount groups when no group is
    given; every impersonated user is in ``system:authenticated``.
    """
    if user_name.startswith(SA_PREFIX) and not groups:
        namespace, _, name = user_name[len(SA_PREFIX) :].partition(":")
        return service_account_user(namespace, name, "")
    shown = list(groups)
    if AUTHENTICATED not in shown:
        shown.append(AUTHENTICATED)
    return User(user_name, tuple(shown))


def _cluster_role(name: str, rules: list[dict[str, object]]) -> dict[str, object]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        },
        "rules": rules,
    }


def _group_binding(name: str, role: str, groups: list[str]) -> dict[str, object]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g} for g in groups
        ],
    }


DISCOVERY_URLS = [
    "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
    "/openapi", "/openapi/*", "/readyz", "/version", "/version/",
]  # fmt: skip

# The subset of kube-apiserver's bootstrap policy that matters here.
BOOTSTRAP: tuple[dict[str, object], ...] = (
    _cluster_role(
        "cluster-admin",
        [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["*"], "verbs": ["*"]},
        ],
    ),
    _group_binding("cluster-admin", "cluster-admin", ["system:masters"]),
    _cluster_role(
        "system:discovery",
        [
            {
                "nonResourceURLs": DISCOVERY_URLS,
                "verbs": ["get"],
            }
        ],
    ),
    _group_binding("system:discovery", "system:discovery", [AUTHENTICATED]),
    _cluster_role(
        "system:basic-user",
        [
            {
                "apiGroups": ["authorization.k8s.io"],
                "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                "verbs": ["create"],
            },
            {
                "apiGroups": ["authentication.k8s.io"],
                "resources": ["selfsubjectreviews"],
                "verbs": ["create"],
            },
        ],
    ),
    _group_binding("system:basic-user", "system:basic-user", [AUTHENTICATED]),
    _cluster_role(
        "system:public-info-viewer",
        [
            {
                "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"],
                "verbs": ["get"],
            }
        ],
    ),
    _group_binding(
        "system:public-info-viewer",
        "system:public-info-viewer",
        [AUTHENTICATED, "system:unauthenticated"],
    ),
)
