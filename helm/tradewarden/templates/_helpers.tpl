{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "tradewarden.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name used for every object the chart owns. */}}
{{- define "tradewarden.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "tradewarden.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "tradewarden.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tradewarden.operatorName" -}}
{{- printf "%s-operator" (include "tradewarden.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tradewarden.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tradewarden.operatorName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository:tag, and @digest when image.digest is set (the runtime then pulls by
digest; the tag stays for people). The operator passes the same reference to
every bot StatefulSet (TRADEWARDEN_BOT_IMAGE). */}}
{{- define "tradewarden.image" -}}
{{- $reference := printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- with .Values.image.digest -}}
{{- $reference = printf "%s@%s" $reference . -}}
{{- end -}}
{{- $reference -}}
{{- end -}}

{{- define "tradewarden.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: tradewarden
app.kubernetes.io/managed-by: {{ .Release.Service }}
tradewarden.io/environment: {{ .Values.environment }}
{{- end -}}

{{- define "tradewarden.operatorSelector" -}}
app.kubernetes.io/name: tradewarden-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Namespaces that run bots: the release namespace, every namespace a declared
bot names, networkPolicy.extraBotNamespaces and operator.watchNamespaces. */}}
{{- define "tradewarden.botNamespaces" -}}
{{- $namespaces := list .Release.Namespace -}}
{{- range .Values.bots -}}
{{- $namespaces = append $namespaces (default $.Release.Namespace .namespace) -}}
{{- end -}}
{{- range .Values.networkPolicy.extraBotNamespaces -}}
{{- $namespaces = append $namespaces . -}}
{{- end -}}
{{- range .Values.operator.watchNamespaces -}}
{{- $namespaces = append $namespaces . -}}
{{- end -}}
{{- $namespaces | uniq | sortAlpha | join "," -}}
{{- end -}}

{{/* The restricted container security context every container gets; not a
value, so an environment cannot weaken it. */}}
{{- define "tradewarden.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "tradewarden.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "tradewarden.runbook" -}}
{{- printf "%s/%s" (trimSuffix "/" .root.Values.runbookBaseUrl) .page -}}
{{- end -}}

{{/*
The events a counter counted in the last window, its first one included.
increase() needs two samples, so it misses the events that made a labelled
counter appear (its first sample is already 1 or more): a series that did not
exist a window ago counts from zero, which is its current value.
Usage: include "tradewarden.eventsIn" (list "metric{label=\"x\"}" "10m")
*/}}
{{- define "tradewarden.eventsIn" -}}
{{- $selector := index . 0 -}}
{{- $window := index . 1 -}}
(increase({{ $selector }}[{{ $window }}]) and {{ $selector }} offset {{ $window }}) or {{ $selector }}
{{- end -}}

{{/*
What values.schema.json cannot say in words: fails naming the values location.
Usage: include "tradewarden.checkSpec" (dict "where" "bots[0] (btc-grid).spec" "spec" .spec)
*/}}
{{- define "tradewarden.checkSpec" -}}
{{- $spec := default dict .spec -}}
{{- if hasKey $spec "emergencyStop" -}}
{{- fail (printf "%s.emergencyStop: an emergency stop is never set in values (Git); stop a bot with `kubectl tradewarden stop NAME` or `kubectl patch`, which Argo CD and Flux leave alone" .where) -}}
{{- end -}}
{{- if hasKey $spec "environment" -}}
{{- fail (printf "%s.environment: the chart sets every bot's environment from the top-level `environment` value; remove it here" .where) -}}
{{- end -}}
{{- $risk := default dict $spec.risk -}}
{{- range $field := list "maxPosition" "maxOrderNotional" "stopDistancePct" -}}
{{- if hasKey $risk $field -}}
{{- $value := index $risk $field -}}
{{- $positive := false -}}
{{- if kindIs "string" $value -}}
{{- $positive = and (regexMatch "^[0-9]+(\\.[0-9]+)?$" $value) (not (regexMatch "^0+(\\.0+)?$" $value)) -}}
{{- else if or (kindIs "int" $value) (kindIs "int64" $value) (kindIs "float64" $value) -}}
{{- $positive = gt (float64 $value) 0.0 -}}
{{- end -}}
{{- if not $positive -}}
{{- fail (printf "%s.risk.%s: %v is not a positive decimal number; write one like \"0.01\" (quoted)" $.where $field $value) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
What the operator does to TradingBots and their children in a namespace it
manages: the rules of its ClusterRole (cluster-wide) or of its Role in each
watched namespace (namespaced install).
*/}}
{{- define "tradewarden.operatorRules" -}}
# Each verb is one the operator sends (checked against kube-apiserver's audit log of a
# run: create, spec change, emergency stop, TradingHalt, delete), or one it must hold to
# grant it in a bot's Role (RBAC escalation prevention).
# The resource it reconciles: kopf lists and watches it and patches its finalizer and
# progress annotations; get is the bot Role's grant.
- apiGroups: ["tradewarden.io"]
  resources: ["tradingbots"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["tradewarden.io"]
  resources: ["tradingbots/status"]
  verbs: ["patch"]
# Children carry blockOwnerDeletion: true, which the OwnerReferencesPermissionEnforcement
# admission plugin (OpenShift's default) allows only to who may update the owner's finalizers.
- apiGroups: ["tradewarden.io"]
  resources: ["tradingbots/finalizers"]
  verbs: ["update"]
# Events on every flip, and kopf's handler progress events (both POSTed to the core API).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
# The bot's children: created, or patched when they exist; nothing reads them back.
# The garbage collector deletes them with their TradingBot, but delete is held: the
# OwnerReferencesPermissionEnforcement plugin lets only who may delete an object change
# its ownerReferences (children a TradingBot of the same name left, or orphaned, are
# adopted by a patch that points them at the new one).
- apiGroups: [""]
  resources: ["serviceaccounts", "configmaps", "services"]
  verbs: ["create", "patch", "delete"]
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["create", "patch", "delete"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  verbs: ["create", "patch", "delete"]
# Probe: an index of the bot pods (readiness, restarts, crash loops).
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch"]
# Held so that it may grant the bot Role's lease permissions.
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "create", "update", "delete"]
# Held so that it may grant each bot Role the read of its own Namespace (in a Role,
# this is the get of that namespace only).
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get"]
{{- end }}

{{/*
TradingHalts are cluster-scoped: the operator watches them and confirms them in
their status, in either install scope.
*/}}
{{- define "tradewarden.haltRules" -}}
- apiGroups: ["tradewarden.io"]
  resources: ["tradinghalts"]
  verbs: ["list", "watch"]
- apiGroups: ["tradewarden.io"]
  resources: ["tradinghalts/status"]
  verbs: ["patch"]
{{- end }}
