{{/*
Names, labels and the values every template shares.
*/}}

{{/* The CSI driver name: compiled into the agent (GetPluginInfo), not a value. */}}
{{- define "atomblk.driverName" -}}
csi.atomblk.io
{{- end }}

{{- define "atomblk.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified base name; "atomblk" when the release is called so. */}}
{{- define "atomblk.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "atomblk.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "atomblk.labels" -}}
helm.sh/chart: {{ include "atomblk.chart" . }}
{{ include "atomblk.selectorLabels" . }}
app.kubernetes.io/version: {{ include "atomblk.imageTag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: atomblk
{{- end }}

{{- define "atomblk.selectorLabels" -}}
app.kubernetes.io/name: {{ include "atomblk.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Pod selector of one component: (list $ "node") */}}
{{- define "atomblk.componentSelector" -}}
{{ include "atomblk.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "atomblk.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "atomblk.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "atomblk.imageTag" .) }}
{{- end }}

{{- define "atomblk.nodeName" -}}
{{- printf "%s-node" (include "atomblk.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "atomblk.controllerName" -}}
{{- printf "%s-controller" (include "atomblk.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "atomblk.storageServiceName" -}}
{{- printf "%s-storage" (include "atomblk.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "atomblk.tlsSecretName" -}}
{{- .Values.tls.existingSecret | default (printf "%s-tls" (include "atomblk.fullname" .)) }}
{{- end }}

{{/* The plugin directory on the host, where the node agent's socket lives. */}}
{{- define "atomblk.pluginDir" -}}
{{- printf "%s/plugins/%s" .Values.kubeletDir (include "atomblk.driverName" .) }}
{{- end }}

{{/* Where the agents find the mTLS material (ca.crt, tls.crt, tls.key). */}}
{{- define "atomblk.tlsDir" -}}
/etc/atomblk/tls
{{- end }}

{{- define "atomblk.metricsAddr" -}}
{{- if .Values.metrics.enabled }}{{ printf ":%d" (int .Values.metrics.port) }}{{ end }}
{{- end }}
