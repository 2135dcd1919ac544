{{/*
Names.
*/}}
{{- define "tessera.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The full name: a prefix short enough for "-worker-cpu-metrics" and similar suffixes. */}}
{{- define "tessera.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tessera.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Labels. "tessera.labels" takes the root context; the component variants take
(dict "root" $ "component" "coordinator") and optionally "class".
*/}}
{{- define "tessera.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tessera.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tessera.labels" -}}
helm.sh/chart: {{ include "tessera.chart" . }}
{{ include "tessera.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tessera
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "tessera.componentSelectorLabels" -}}
{{ include "tessera.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- with .class }}
tessera/worker-class: {{ . }}
{{- end }}
{{- end -}}

{{- define "tessera.componentLabels" -}}
{{ include "tessera.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- with .class }}
tessera/worker-class: {{ . }}
{{- end }}
{{- end -}}

{{- define "tessera.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tessera.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tessera.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* host:port listen address for a port, honouring bindAddress. */}}
{{- define "tessera.listen" -}}
{{- printf "%s:%d" .root.Values.bindAddress (int .port) -}}
{{- end -}}

{{/*
NATS.
*/}}
{{- define "tessera.natsName" -}}
{{- printf "%s-nats" (include "tessera.fullname" .) -}}
{{- end -}}

{{- define "tessera.natsUrl" -}}
{{- if .Values.nats.bundled.enabled -}}
{{- printf "nats://%s.%s.svc:4222" (include "tessera.natsName" .) .Release.Namespace -}}
{{- else -}}
{{- required "nats.url is required when nats.bundled.enabled is false (e.g. nats://nats.nats.svc:4222)" .Values.nats.url -}}
{{- end -}}
{{- end -}}

{{/* host:port of the NATS monitoring endpoint, for KEDA (which runs in its own namespace). */}}
{{- define "tessera.natsMonitoringEndpoint" -}}
{{- if .Values.nats.bundled.enabled -}}
{{- printf "%s.%s.svc:8222" (include "tessera.natsName" .) .Release.Namespace -}}
{{- else -}}
{{- required "nats.monitoringEndpoint (host:port of the NATS HTTP monitoring port) is required for KEDA autoscaling with an external NATS" .Values.nats.monitoringEndpoint -}}
{{- end -}}
{{- end -}}

{{/*
Secrets.
*/}}
{{- define "tessera.storeSecretName" -}}
{{- if .Values.store.existingSecret -}}
{{- .Values.store.existingSecret -}}
{{- else if .Values.store.credentials -}}
{{- printf "%s-store" (include "tessera.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "tessera.apiSecretName" -}}
{{- if .Values.api.existingSecret -}}
{{- .Values.api.existingSecret -}}
{{- else if or .Values.api.tokens .Values.api.webhookSecret -}}
{{- printf "%s-api" (include "tessera.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "tessera.apiTokenKey" -}}
{{- if .Values.api.existingSecret -}}{{ .Values.api.existingSecretKeys.apiTokens }}{{- else -}}api-tokens{{- end -}}
{{- end -}}

{{- define "tessera.webhookSecretKey" -}}
{{- if .Values.api.existingSecret -}}{{ .Values.api.existingSecretKeys.webhookSecret }}{{- else -}}webhook-secret{{- end -}}
{{- end -}}

{{/*
The autoscaling mode of a worker class: (dict "root" $ "class" "cpu").
*/}}
{{- define "tessera.workerAutoscalingMode" -}}
{{- $w := index .root.Values.workers .class -}}
{{- $mode := $w.autoscaling.mode | default .root.Values.autoscaling.mode -}}
{{- if not (has $mode (list "keda" "hpa" "none")) -}}
{{- fail (printf "autoscaling mode of workers.%s must be keda, hpa or none, not %q" .class $mode) -}}
{{- end -}}
{{- $mode -}}
{{- end -}}

{{/*
Environment shared by every Tessera container: NATS, store, logs, telemetry.
Takes (dict "root" $ "workload" "<name>"), plus "workloadKind" "statefulset" for a StatefulSet (default
deployment): the OpenTelemetry resource attribute k8s.<kind>.name.
*/}}
{{- define "tessera.commonEnv" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
- name: TESSERA_NATS
  value: {{ include "tessera.natsUrl" $root | quote }}
- name: TESSERA_NATS_REPLICAS
  value: {{ $v.nats.streamReplicas | int | toString | quote }}
- name: TESSERA_STORE
  value: {{ required "store.url is required: s3://bucket/prefix, gs://bucket/prefix, az://container/prefix, or a folder on store.volume.existingClaim" $v.store.url | quote }}
- name: TESSERA_LOG
  value: {{ $v.log.level | quote }}
- name: TESSERA_LOG_FORMAT
  value: {{ $v.log.format | quote }}
{{- with $v.store.s3.region }}
- name: AWS_REGION
  value: {{ . | quote }}
{{- end }}
{{- with $v.store.s3.endpointUrl }}
- name: AWS_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- if $v.store.s3.allowHttp }}
- name: AWS_ALLOW_HTTP
  value: "true"
{{- end }}
{{- range $name, $value := $v.store.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- if $v.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $v.otel.endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $v.otel.protocol | quote }}
{{- $attrs := list "k8s.pod.name=$(POD_NAME)" "k8s.namespace.name=$(POD_NAMESPACE)" "k8s.node.name=$(NODE_NAME)" "service.instance.id=$(POD_NAME)" (printf "k8s.%s.name=%s" (default "deployment" .workloadKind) .workload) -}}
{{- range $key, $value := $v.otel.resourceAttributes }}
{{- $attrs = append $attrs (printf "%s=%v" $key $value) -}}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attrs | quote }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* envFrom of every Tessera container: the store credentials. Takes the root context. */}}
{{- define "tessera.envFrom" -}}
{{- $secret := include "tessera.storeSecretName" . -}}
{{- if $secret }}
- secretRef:
    name: {{ $secret }}
{{- end }}
{{- with .Values.extraEnvFrom }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Volumes every Tessera pod has: /tmp scratch and the optional shared store volume. Takes (dict "root" $ "tmpSize" "1Gi"). */}}
{{- define "tessera.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .tmpSize }}
{{- with .root.Values.store.volume.existingClaim }}
- name: store
  persistentVolumeClaim:
    claimName: {{ . }}
{{- end }}
{{- end -}}

{{- define "tessera.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.store.volume.existingClaim }}
- name: store
  mountPath: {{ .Values.store.volume.mountPath }}
{{- end }}
{{- end -}}

{{/*
Pod annotations: checksums (restart on config changes), Prometheus scraping, user annotations.
Takes (dict "root" $ "port" 9090 "extra" map), plus "coordinator" true for the API secret and ladder.
*/}}
{{- define "tessera.podAnnotations" -}}
{{- $root := .root -}}
checksum/store-secret: {{ include (print $root.Template.BasePath "/store-secret.yaml") $root | sha256sum }}
{{- if .coordinator }}
checksum/api-secret: {{ include (print $root.Template.BasePath "/api-secret.yaml") $root | sha256sum }}
{{- end }}
{{- if and .coordinator $root.Values.ladder.rungs }}
checksum/ladder: {{ include (print $root.Template.BasePath "/ladder-configmap.yaml") $root | sha256sum }}
{{- end }}
{{- if $root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- with $root.Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Probes on a named port. Takes (dict "root" $ "port" "http"). */}}
{{- define "tessera.probes" -}}
{{- $p := .root.Values.probes -}}
startupProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  periodSeconds: {{ $p.startup.periodSeconds }}
  failureThreshold: {{ $p.startup.failureThreshold }}
livenessProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  periodSeconds: {{ $p.liveness.periodSeconds }}
  timeoutSeconds: {{ $p.liveness.timeoutSeconds }}
  failureThreshold: {{ $p.liveness.failureThreshold }}
readinessProbe:
  httpGet:
    path: /readyz
    port: {{ .port }}
  periodSeconds: {{ $p.readiness.periodSeconds }}
  timeoutSeconds: {{ $p.readiness.timeoutSeconds }}
  failureThreshold: {{ $p.readiness.failureThreshold }}
{{- end -}}

{{/* Scheduling fields. Takes (dict "root" $ "values" .Values.coordinator "selector" (selector labels yaml)). */}}
{{- define "tessera.scheduling" -}}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml .values.topologySpreadConstraints | nindent 2 }}
{{- else if .values.spreadAcrossNodes }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- .selector | nindent 8 }}
{{- end }}
{{- end -}}
