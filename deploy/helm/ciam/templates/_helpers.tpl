{{/*
Names, labels and the parts every pod of the chart shares. The templates keep to a small
Go template subset (tests/deploy/gotemplate.py renders it for the tests).
*/}}

{{/* The chart's name, or nameOverride. */}}
{{- define "ciam.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* RELEASE-ciam (or the release name alone when it already contains the chart's name). */}}
{{- define "ciam.fullname" -}}
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

{{- define "ciam.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "ciam.labels" -}}
helm.sh/chart: {{ include "ciam.chart" . }}
{{ include "ciam.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ciam
{{- end }}

{{/*
Selector labels: the stable ones only (a Deployment's selector cannot change). Each
workload adds app.kubernetes.io/component (web, monitor, worker, ...) after them.
*/}}
{{- define "ciam.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ciam.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ciam.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ciam.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret every pod reads: existingSecret, or the one the chart writes. */}}
{{- define "ciam.secretName" -}}
{{- default (include "ciam.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "ciam.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
Pod template annotations: a changed ConfigMap (or chart-written Secret) rolls the pods.
A changed existingSecret does not: `kubectl rollout restart deployment -l
app.kubernetes.io/instance=RELEASE` after editing it.
*/}}
{{- define "ciam.podAnnotations" -}}
checksum/config: {{ .Values.config | toYaml | sha256sum }}
{{- if not .Values.existingSecret }}
checksum/secret: {{ .Values.secretEnv | toYaml | sha256sum }}
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The pod spec fields every pod shares (the service account is set by each workload: the
migration Job runs before it exists).
*/}}
{{- define "ciam.podSpec" -}}
automountServiceAccountToken: false
# Kubernetes would add variables for each Service of the namespace (CIAM_MONITOR_PORT for a
# Service named ciam-monitor...), inside the CIAM_ names of the provider's settings.
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
# The root file system is read-only: /tmp, and granian's Prometheus files
# (PROMETHEUS_MULTIPROC_DIR, $CIAM_VAR_DIR/metrics: one directory per pod, never shared).
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: 64Mi
  - name: metrics
    emptyDir:
      sizeLimit: 64Mi
{{- end }}

{{/* The container fields every container shares, but its env. */}}
{{- define "ciam.container" -}}
image: {{ include "ciam.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  - name: metrics
    mountPath: /var/lib/ciam/metrics
{{- end }}

{{/* The settings of the long-running pods and CronJobs: the ConfigMap and the Secret. */}}
{{- define "ciam.envFrom" -}}
envFrom:
  - configMapRef:
      name: {{ include "ciam.fullname" . }}
  - secretRef:
      name: {{ include "ciam.secretName" . }}
{{- end }}
