{{/* The chart's name, cut to the 63 characters a label value holds. */}}
{{- define "tierup.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's full name: the release name when it already holds the chart's
(release tierup gives tierup, the names deploy/rbac.yaml uses), else
RELEASE-tierup.
*/}}
{{- define "tierup.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "tierup.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Helm's standard labels, on every object. */}}
{{- define "tierup.labels" -}}
helm.sh/chart: {{ include "tierup.chart" . }}
{{ include "tierup.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The labels the Deployment, Service and PodDisruptionBudget select by. */}}
{{- define "tierup.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tierup.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tierup.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tierup.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "tierup.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- define "tierup.postgres" -}}
{{- if eq .Values.database.driver "postgres" }}true{{ end }}
{{- end }}

{{/* The Secret the secret values are read from: yours, or the chart's. */}}
{{- define "tierup.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "tierup.fullname" .) }}
{{- end }}

{{/*
tierup.secretKey gives the Secret's key holding a secret value (list: the
root context and the value's name under secrets.keys), or nothing when the
Secret does not hold it: an existingSecret holds every key named in
secrets.keys; the chart's Secret only the values given.
*/}}
{{- define "tierup.secretKey" -}}
{{- $root := index . 0 }}
{{- $item := index . 1 }}
{{- $key := index $root.Values.secrets.keys $item | default "" }}
{{- if $root.Values.secrets.existingSecret }}
{{- $key }}
{{- else if index $root.Values.secrets $item }}
{{- $key | default $item }}
{{- end }}
{{- end }}

{{/*
tierup.secretEnv is one environment variable read from the Secret (list: the
root context, the variable, the value's name under secrets.keys, and
whether the pod may start without it); nothing when the Secret does not hold
it. A key of existingSecret is optional unless required, as the chart cannot
see into that Secret.
*/}}
{{- define "tierup.secretEnv" -}}
{{- $root := index . 0 }}
{{- $key := include "tierup.secretKey" (list $root (index . 2)) }}
{{- if $key }}
- name: {{ index . 1 }}
  valueFrom:
    secretKeyRef:
      name: {{ include "tierup.secretName" $root }}
      key: {{ $key }}
      {{- if and $root.Values.secrets.existingSecret (not (index . 3)) }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}

{{/* The chart makes the Secret: no existingSecret, and a secret value given. */}}
{{- define "tierup.chartSecret" -}}
{{- if not .Values.secrets.existingSecret }}
{{- range $item, $_ := .Values.secrets.keys }}
{{- if index $.Values.secrets $item }}true{{ end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The master secret comes from the Secret (else SQLite makes it on the volume). */}}
{{- define "tierup.secretKeyFromSecret" -}}
{{- if include "tierup.secretKey" (list . "secretKey") }}true{{ end }}
{{- end }}

{{/* The catalog ConfigMap's name, or nothing without a catalog override. */}}
{{- define "tierup.catalogConfigMap" -}}
{{- if .Values.catalog.existingConfigMap }}
{{- .Values.catalog.existingConfigMap }}
{{- else if .Values.catalog.content }}
{{- printf "%s-catalog" (include "tierup.fullname" .) }}
{{- end }}
{{- end }}

{{/* The chart's combinations that cannot work, refused at render time. */}}
{{- define "tierup.validate" -}}
{{- if include "tierup.postgres" . }}
{{- if not (include "tierup.secretKey" (list . "databaseURL")) }}
{{- fail "database.driver postgres needs the database URL: secrets.databaseURL, or secrets.existingSecret with the key secrets.keys.databaseURL" }}
{{- end }}
{{- if not (include "tierup.secretKeyFromSecret" .) }}
{{- fail "database.driver postgres needs the master secret, the same for every replica: secrets.secretKey (openssl rand -hex 32), or secrets.existingSecret with the key secrets.keys.secretKey" }}
{{- end }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not (include "tierup.secretKey" (list . "adminToken"))) }}
{{- fail "metrics.serviceMonitor needs the admin token in the Secret (/metrics is admin-only): secrets.adminToken, or secrets.existingSecret with the key secrets.keys.adminToken" }}
{{- end }}
{{- if and .Values.catalog.existingConfigMap .Values.catalog.content }}
{{- fail "catalog: give content or existingConfigMap, not both" }}
{{- end }}
{{- end }}
