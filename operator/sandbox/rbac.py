"""RBAC authorization as kube-apiserver's RBAC authorizer decides it (pure logic).

:func:`authorize` answers one request (:class:`Attributes`) from the stored
Roles, ClusterRoles and their bindings (:class:`Policy`); :func:`rules_for`
lists what a user may do in a namespace (SelfSubjectRulesReview);
:func:`missing_rights` is RBAC's escalation check (a Role may only grant what
its author holds). Matching follows ``k8s.io/kubernetes/pkg/apis/rbac/v1``
and ``plugin/pkg/auth/authorizer/rbac``:

- verbs, apiGroups and resources match exactly or through ``*``; a resource
  ``*`` also matches every subresource, ``*/status`` matches ``status`` of any
  resource; ``pods/log`` names one subresource;
- resourceNames, when given, must contain the request's name (a request
  without a name, such as create or an unfiltered list, never matches them);
- nonResourceURLs match exactly or by a trailing ``*`` prefix;
- a ClusterRoleBinding grants its ClusterRole everywhere, a RoleBinding its
  Role or ClusterRole in its own namespace only;
- members of ``system:masters`` are allowed everything without a rule, as the
  API server's privileged-group authorizer does.

Denials carry RBAC's reason (bindings whose role is missing) and the
Forbidden message is worded as kube-apiserver words it (:func:`forbidden_message`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from tradewarden.operator.sandbox.resources import Obj

MASTERS = "system:masters"
RBAC_GROUP = "rbac.authorization.k8s.io"


@dataclass(frozen=True)
class User:
    """An authenticated identity."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""

    @property
    def privileged(self) -> bool:
        """Whether the user is in the group every request is allowed for."""
        return MASTERS in self.groups


@dataclass(frozen=True)
class Attributes:
    """What a request asks to do, as the API server's RequestInfo sees it."""

    user: User
    verb: str
    resource_request: bool = True
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""

    @property
    def combined_resource(self) -> str:
        """``resource`` or ``resource/subresource``."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


@dataclass(frozen=True)
class Policy:
    """The stored RBAC objects a decision reads."""

    cluster_roles: dict[str, Obj] = field(default_factory=dict)
    cluster_role_bindings: list[Obj] = field(default_factory=list)
    # namespace -> name -> Role / namespace -> RoleBindings
    roles: dict[str, dict[str, Obj]] = field(default_factory=dict)
    role_bindings: dict[str, list[Obj]] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """Allowed or not, with RBAC's reason."""

    allowed: bool
    reason: str = ""


def _has(values: Iterable[str], wanted: str) -> bool:
    listed = list(values)
    return "*" in listed or wanted in listed


def _resource_matches(rule: Obj, combined: str, subresource: str) -> bool:
    for resource in rule.get("resources") or []:
        if resource in ("*", combined):
            return True
        if subresource and resource == f"*/{subresource}":
            return True
    return False


def _url_matches(rule: Obj, path: str) -> bool:
    for url in rule.get("nonResourceURLs") or []:
        if url in {"*", path} or (url.endswith("*") and path.startswith(url[:-1])):
            return True
    return False


def rule_allows(rule: Obj, attrs: Attributes) -> bool:
    """Whether one PolicyRule allows the request."""
    if not _has(rule.get("verbs") or [], attrs.verb):
        return False
    if not attrs.resource_request:
        return _url_matches(rule, attrs.path)
    if not rule.get("resources"):
        return False
    if not _has(rule.get("apiGroups") or [], attrs.api_group):
        return False
    if not _resource_matches(rule, attrs.combined_resource, attrs.subresource):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def _subject_matches(subject: Obj, user: User, binding_namespace: str) -> bool:
    kind = subject.get("kind")
    name = subject.get("name", "")
    if kind == "User":
        return bool(user.name == name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return user.name == f"system:serviceaccount:{namespace}:{name}"
    return False


def _binds(binding: Obj, user: User) -> bool:
    return _subject_of(binding, user) is not None


def _subject_of(binding: Obj, user: User) -> Obj | None:
    """The binding's first subject that the user is."""
    namespace = binding.get("metadata", {}).get("namespace", "")
    for subject in binding.get("subjects") or []:
        if _subject_matches(subject, user, namespace):
            return dict(subject)
    return None


def _describe(binding: Obj, subject: Obj) -> str:
    """A binding and subject, as RBAC's allow reason names them."""
    meta = binding.get("metadata", {})
    ref = binding.get("roleRef", {})
    namespace = meta.get("namespace", "")
    if subject.get("kind") == "ServiceAccount":
        who = f'ServiceAccount "{subject.get("name")}/{subject.get("namespace") or namespace}"'
    else:
        who = f'{subject.get("kind")} "{subject.get("name")}"'
    if namespace:
        name = f"{meta.get('name')}/{namespace}"
        return f'RoleBinding "{name}" of {ref.get("kind")} "{ref.get("name")}" to {who}'
    return f'ClusterRoleBinding "{meta.get("name")}" of ClusterRole "{ref.get("name")}" to {who}'


def _bound_rules(
    policy: Policy, user: User, namespace: str
) -> Iterator[tuple[Obj, list[Obj] | None]]:
    """(binding, its role's rules or None when the role is missing) that apply to the user."""
    for binding in policy.cluster_role_bindings:
        if _binds(binding, user):
            role = policy.cluster_roles.get(binding.get("roleRef", {}).get("name", ""))
            yield binding, None if role is None else list(role.get("rules") or [])
    if not namespace:
        return
    for binding in policy.role_bindings.get(namespace, []):
        if not _binds(binding, user):
            continue
        ref = binding.get("roleRef", {})
        if ref.get("kind") == "ClusterRole":
            role = policy.cluster_roles.get(ref.get("name", ""))
        else:
            role = policy.roles.get(namespace, {}).get(ref.get("name", ""))
        yield binding, None if role is None else list(role.get("rules") or [])


def _missing_role(binding: Obj) -> str:
    ref = binding.get("roleRef", {})
    if ref.get("kind") == "ClusterRole":
        return f'clusterrole.rbac.authorization.k8s.io "{ref.get("name")}" not found'
    return f'role.rbac.authorization.k8s.io "{ref.get("name")}" not found'


def authorize(attrs: Attributes, policy: Policy) -> Decision:
    """Allow when some bound rule matches; the reason names the binding (or the lookup errors)."""
    if attrs.user.privileged:
        return Decision(True, "")
    errors: list[str] = []
    for binding, rules in _bound_rules(policy, attrs.user, attrs.namespace):
        if rules is None:
            errors.append(_missing_role(binding))
            continue
        if any(rule_allows(rule, attrs) for rule in rules):
            subject = _subject_of(binding, attrs.user) or {}
            return Decision(True, f"RBAC: allowed by {_describe(binding, subject)}")
    if errors:
        return Decision(False, "RBAC: " + _aggregate(errors))
    return Decision(False, "")


def _aggregate(errors: list[str]) -> str:
    # utilerrors.NewAggregate: one error as is, several as a bracketed list.
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


def rules_for(user: User, namespace: str, policy: Policy) -> tuple[list[Obj], list[Obj], str]:
    """(resourceRules, nonResourceRules, evaluationError) as SelfSubjectRulesReview reports."""
    if user.privileged:
        return (
            [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "",
        )
    resource_rules: list[Obj] = []
    url_rules: list[Obj] = []
    errors: list[str] = []
    for binding, rules in _bound_rules(policy, user, namespace):
        if rules is None:
            errors.append(_missing_role(binding))
            continue
        for rule in rules:
            if rule.get("nonResourceURLs"):
                url_rules.append(
                    {"verbs": rule.get("verbs", []), "nonResourceURLs": rule["nonResourceURLs"]}
                )
            else:
                shown: Obj = {k: rule[k] for k in ("verbs", "apiGroups", "resources") if k in rule}
                if rule.get("resourceNames"):
                    shown["resourceNames"] = rule["resourceNames"]
                resource_rules.append(shown)
    return resource_rules, url_rules, _aggregate(errors) if errors else ""


def missing_rights(rules: list[Obj], holder: User, namespace: str, policy: Policy) -> list[Obj]:
    """The rules of a Role (or ClusterRole) the holder does not itself hold in ``namespace``.

    Each rule is split into single (apiGroup, resource, verb, resourceName) grants, and
    each must be allowed to the holder; a ``*`` in the new rule must be held as ``*``.
    """
    if holder.privileged:
        return []
    missing: list[Obj] = []
    for rule in rules:
        if rule.get("nonResourceURLs"):
            for url in rule["nonResourceURLs"]:
                for verb in rule.get("verbs") or []:
                    attrs = Attributes(holder, verb, resource_request=False, path=url)
                    if not authorize(attrs, policy).allowed:
                        missing.append({"verbs": [verb], "nonResourceURLs": [url]})
            continue
        for group in rule.get("apiGroups") or [""]:
            for resource in rule.get("resources") or []:
                base, _, sub = resource.partition("/")
                for verb in rule.get("verbs") or []:
                    for name in rule.get("resourceNames") or [""]:
                        attrs = Attributes(holder, verb, True, group, base, sub, namespace, name)
                        if not authorize(attrs, policy).allowed:
                            grant: Obj = {
                                "apiGroups": [group], "resources": [resource], "verbs": [verb]
                            }  # fmt: skip
                            if name:
                                grant["resourceNames"] = [name]
                            missing.append(grant)
    return missing


def _go_strings(values: Iterable[str]) -> str:
    return "[" + " ".join(f'"{v}"' for v in values) + "]"


def compact_rule(rule: Obj) -> str:
    """A rule as RBAC's escalation error prints it (``{APIGroups:["x"], ...}``)."""
    parts = []
    for key, label in (
        ("apiGroups", "APIGroups"),
        ("resources", "Resources"),
        ("resourceNames", "ResourceNames"),
        ("nonResourceURLs", "NonResourceURLs"),
        ("verbs", "Verbs"),
    ):
        if rule.get(key):
            parts.append(f"{label}:{_go_strings(rule[key])}".replace('" "', '", "'))
    return "{" + ", ".join(parts) + "}"


def escalation_message(holder: User, missing: list[Obj]) -> str:
    """The Forbidden reason of a Role granting more than its author holds."""
    rules = "\n".join(compact_rule(rule) for rule in missing)
    return (
        f'user "{holder.name}" (groups={_go_strings(holder.groups)}) is attempting to grant '
        f"RBAC permissions not currently held:\n{rules}"
    )


def forbidden_object(attrs: Attributes, reason: str) -> str:
    """``<resource>.<group> "<name>" is forbidden: <reason>`` (apierrors.NewForbidden)."""
    resource = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    subject = f'{resource} "{attrs.name}"' if attrs.name else resource
    return f"{subject} is forbidden: {reason}"


def forbidden_message(attrs: Attributes, reason: str = "") -> str:
    """The message of a 403, worded as kube-apiserver's ``Forbidden`` response writer."""
    user = attrs.user.name
    if not attrs.resource_request:
        detail = f'User "{user}" cannot {attrs.verb} path "{attrs.path}"'
        text = f"forbidden: {detail}"
    else:
        scope = (
            f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
        )
        text = forbidden_object(
            attrs,
            f'User "{user}" cannot {attrs.verb} resource "{attrs.combined_resource}" '
            f'in API group "{attrs.api_group}" {scope}',
        )
    return f"{text}: {reason}" if reason else text
