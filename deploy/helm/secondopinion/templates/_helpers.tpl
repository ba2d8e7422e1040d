{{/*
The chart's one source of what runs is topology.json: every template ranges
over the units so.units derives from it, never over a list of its own.
*/}}

{{- define "so.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "so.topology" -}}
{{- .Files.Get "topology.json" -}}
{{- end -}}

{{/* The labels a workload's pods are selected by. Takes (dict "root" $ "component" name). */}}
{{- define "so.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{- define "so.labels" -}}
{{ include "so.selectorLabels" . }}
app.kubernetes.io/part-of: secondopinion
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{- end -}}

{{- define "so.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if eq $tag "latest" -}}
{{- fail "image.tag: name the version to run, not latest" -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* A workload's variables in the Secret: NAME for "PATIENT_IDENTITY_NAME". */}}
{{- define "so.envName" -}}
{{- upper (replace "-" "_" .) -}}
{{- end -}}

{{/* The CNPG Cluster holding a workload's store. */}}
{{- define "so.dbCluster" -}}
{{- if eq .root.Values.cnpg.layout "shared" -}}
{{- printf "%s-db" (include "so.fullname" .root) -}}
{{- else -}}
{{- printf "%s-%s-db" (include "so.fullname" .root) .workload -}}
{{- end -}}
{{- end -}}

{{/*
Where a workload's secret variable comes from, as JSON {name, key, optional}:
its store's URL from the CNPG Cluster's own app Secret when the chart runs one
Cluster per store; everything else from existingSecret, by the key
<WORKLOAD>_<VARIABLE> (the variable's own name when it already starts with
<WORKLOAD>_: PRICING_QUOTE_KEY, not PRICING_PRICING_QUOTE_KEY). Takes (dict "root" $ "workload" name "var" NAME "required" bool).
*/}}
{{- define "so.secretSource" -}}
{{- $v := .root.Values -}}
{{- if and (eq .var "DATABASE_URL") $v.cnpg.enabled (eq $v.cnpg.layout "perService") -}}
{{- dict "name" (printf "%s-app" (include "so.dbCluster" .)) "key" "uri" "optional" false | toJson -}}
{{- else -}}
{{- $prefix := printf "%s_" (include "so.envName" .workload) -}}
{{- $key := ternary .var (printf "%s%s" $prefix .var) (hasPrefix $prefix .var) -}}
{{- dict "name" $v.existingSecret "key" $key "optional" (not .required) | toJson -}}
{{- end -}}
{{- end -}}

{{/*
so.units is what the templates range over, as JSON {"units": [...]}: in
distributed mode one unit per workload of the topology, in all mode one unit
for the whole platform. A unit carries its names, the commands it runs, its
callers (ingress), its peers (egress: what it requires and every peer whose URL
it is given), whether it is the edge the public reaches, the CNPG Clusters of
its stores, and its complete environment.
*/}}
{{- define "so.units" -}}
{{- $top := include "so.topology" . | fromJson -}}
{{- if not $top.workloads -}}
{{- fail "topology.json is missing or has no workloads: run make generate" -}}
{{- end -}}
{{- $full := include "so.fullname" . -}}
{{- $port := int $top.port -}}
{{- $v := .Values -}}
{{- $edges := list -}}
{{- range $top.workloads -}}
{{- if not .callers -}}{{- $edges = append $edges .name -}}{{- end -}}
{{- end -}}
{{- if ne (len $edges) 1 -}}
{{- fail (printf "topology.json: want exactly one workload nobody inside calls (the edge the public reaches), got %v" $edges) -}}
{{- end -}}
{{- $edge := first $edges -}}
{{- $secrets := list -}}
{{- range $top.shared -}}{{- if .secret -}}{{- $secrets = append $secrets .name -}}{{- end -}}{{- end -}}
{{- range $w := $top.workloads -}}
{{- range $w.env -}}{{- if .secret -}}{{- $secrets = append $secrets .name -}}{{- end -}}{{- end -}}
{{- if $w.store -}}{{- $secrets = append $secrets (printf "%s_DATABASE_URL" (include "so.envName" $w.name)) -}}{{- end -}}
{{- end -}}
{{- range $name, $_ := $v.config -}}
{{- if not (has $name $top.variables) -}}{{- fail (printf "config.%s: not a variable of secondopinion (topology.json variables)" $name) -}}{{- end -}}
{{- if has $name $secrets -}}{{- fail (printf "config.%s is a secret: put it in existingSecret" $name) -}}{{- end -}}
{{- end -}}
{{- $shared := list (dict "name" "DATA_DIR" "value" "/data") (dict "name" "METRICS_LISTEN" "value" (printf ":%d" (int $top.metricsPort))) -}}
{{- $given := list -}}
{{- range $shared -}}{{- $given = append $given .name -}}{{- end -}}
{{- range $top.shared -}}
{{- if .secret -}}
{{- $shared = append $shared (dict "name" .name "secret" (dict "name" $v.existingSecret "key" .name "optional" (not .required))) -}}
{{- else if and .required (not (has .name $given)) (not (hasKey $v.config .name)) -}}
{{- fail (printf "config.%s is required by every workload" .name) -}}
{{- end -}}
{{- end -}}
{{- $units := list -}}
{{- if eq $v.deploymentMode "distributed" -}}
{{- range $w := $top.workloads -}}
{{- $over := index $v.workloads $w.name | default dict -}}
{{- $extra := $over.env | default dict -}}
{{- $peers := list -}}
{{- range $w.requires -}}{{- $peers = append $peers . -}}{{- end -}}
{{- $env := $shared -}}
{{- range $e := $w.env -}}
{{- if $e.peer -}}
{{- $peers = append $peers $e.peer -}}
{{- $env = append $env (dict "name" $e.name "value" (printf "http://%s-%s:%d" $full $e.peer $port)) -}}
{{- else if $e.secret -}}
{{- $env = append $env (dict "name" $e.name "secret" (include "so.secretSource" (dict "root" $ "workload" $w.name "var" $e.name "required" $e.required) | fromJson)) -}}
{{- else if and $e.required (not (hasKey $extra $e.name)) -}}
{{- fail (printf "workloads.%s.env.%s is required" $w.name $e.name) -}}
{{- end -}}
{{- end -}}
{{- $migrate := list -}}
{{- $clusters := list -}}
{{- if $w.store -}}
{{- $migrate = list "migrate" (printf "--target=%s" $w.name) -}}
{{- if $v.cnpg.enabled -}}{{- $clusters = list (include "so.dbCluster" (dict "root" $ "workload" $w.name)) -}}{{- end -}}
{{- end -}}
{{- $units = append $units (dict "name" $w.name "resource" (printf "%s-%s" $full $w.name)
    "args" (list "serve" (printf "--target=%s" $w.name) "--migrate=false") "migrateArgs" $migrate
    "callers" ($w.callers | default list) "peers" ($peers | uniq | sortAlpha) "edge" (eq $w.name $edge)
    "dbClusters" $clusters "env" $env "extraEnv" $extra) -}}
{{- end -}}
{{- else if eq $v.deploymentMode "all" -}}
{{- $over := index $v.workloads "all" | default dict -}}
{{- $extra := $over.env | default dict -}}
{{- $env := $shared -}}
{{- $seen := dict -}}
{{- $clusters := list -}}
{{- range $w := $top.workloads -}}
{{- if and $w.store $v.cnpg.enabled -}}{{- $clusters = append $clusters (include "so.dbCluster" (dict "root" $ "workload" $w.name)) -}}{{- end -}}
{{- range $e := $w.env -}}
{{- /* Peers are in the process, and SERVICE_SECRET serves only calls to another process. */ -}}
{{- if and $e.secret (ne $e.name "SERVICE_SECRET") -}}
{{- $name := $e.name -}}
{{- if eq $e.name "DATABASE_URL" -}}{{- $name = printf "%s_DATABASE_URL" (include "so.envName" $w.name) -}}{{- end -}}
{{- if not (hasKey $seen $name) -}}
{{- $_ := set $seen $name true -}}
{{- $env = append $env (dict "name" $name "secret" (include "so.secretSource" (dict "root" $ "workload" $w.name "var" $e.name "required" $e.required) | fromJson)) -}}
{{- end -}}
{{- else if and (not $e.secret) (not $e.peer) $e.required (not (hasKey $extra $e.name)) -}}
{{- fail (printf "workloads.all.env.%s is required" $e.name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $units = list (dict "name" "all" "resource" $full "args" (list "serve" "--migrate=false") "migrateArgs" (list "migrate")
    "callers" list "peers" list "edge" true "dbClusters" ($clusters | uniq) "env" $env "extraEnv" $extra) -}}
{{- else -}}
{{- fail (printf "deploymentMode: want distributed or all, got %q" $v.deploymentMode) -}}
{{- end -}}
{{- range $u := $units -}}
{{- $set := list -}}
{{- range $u.env -}}{{- $set = append $set .name -}}{{- end -}}
{{- range $name, $_ := $u.extraEnv -}}
{{- if not (has $name $top.variables) -}}{{- fail (printf "workloads.%s.env.%s: not a variable of secondopinion (topology.json variables)" $u.name $name) -}}{{- end -}}
{{- if has $name $secrets -}}{{- fail (printf "workloads.%s.env.%s is a secret: put it in existingSecret" $u.name $name) -}}{{- end -}}
{{- if has $name $set -}}{{- fail (printf "workloads.%s.env.%s is set by the chart" $u.name $name) -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- dict "units" $units | toJson -}}
{{- end -}}

{{/* A container's env list from a unit's env entries. */}}
{{- define "so.env" -}}
{{- range .env }}
- name: {{ .name }}
  {{- if .secret }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret.name }}
      key: {{ .secret.key }}
      optional: {{ .secret.optional }}
  {{- else }}
  value: {{ .value | quote }}
  {{- end }}
{{- end }}
{{- range $name, $value := .extraEnv }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{- define "so.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1001
runAsGroup: 1001
fsGroup: 1001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "so.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1001
runAsGroup: 1001
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
