{{/* Common names and labels. */}}
{{- define "headroom.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "headroom.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "headroom.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "headroom.secretName" -}}
{{- .Values.secret.existingSecret | default (printf "%s-secrets" (include "headroom.fullname" .)) -}}
{{- end -}}

{{/*
Kafka security (values `kafka.*`), shared by every service and the topics Job. The services read
the same KAFKA_* variables as outside Kubernetes and validate them at boot (libs/config); the
checks here only catch what would render a pod that cannot start. Secrets are existing ones
(created before install, so the pre-install topics hook sees them too) mounted as files.
*/}}
{{- define "headroom.kafkaSecurityProtocol" -}}
{{- $p := .Values.kafka.securityProtocol | default "PLAINTEXT" | upper -}}
{{- if not (has $p (list "PLAINTEXT" "SSL" "SASL_PLAINTEXT" "SASL_SSL")) -}}
{{- fail (printf "kafka.securityProtocol must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, not %q" $p) -}}
{{- end -}}
{{- $p -}}
{{- end -}}

{{- define "headroom.kafkaSasl" -}}
{{- hasPrefix "SASL_" (include "headroom.kafkaSecurityProtocol" .) -}}
{{- end -}}

{{- define "headroom.kafkaTls" -}}
{{- has (include "headroom.kafkaSecurityProtocol" .) (list "SSL" "SASL_SSL") -}}
{{- end -}}

{{- define "headroom.kafkaEnv" -}}
{{- $p := include "headroom.kafkaSecurityProtocol" . -}}
{{- $k := .Values.kafka -}}
- name: KAFKA_BROKERS
  value: {{ required "kafka.brokers is required" $k.brokers | quote }}
{{- with $k.clientIdPrefix }}
- name: KAFKA_CLIENT_ID_PREFIX
  value: {{ . | quote }}
{{- end }}
{{- if ne $p "PLAINTEXT" }}
- name: KAFKA_SECURITY_PROTOCOL
  value: {{ $p | quote }}
{{- end }}
{{- if eq (include "headroom.kafkaSasl" .) "true" }}
{{- $m := required (printf "kafka.sasl.mechanism is required with kafka.securityProtocol %s: plain, scram-sha-256 or scram-sha-512" $p) $k.sasl.mechanism | lower }}
{{- if not (has $m (list "plain" "scram-sha-256" "scram-sha-512")) }}
{{- fail (printf "kafka.sasl.mechanism must be plain, scram-sha-256 or scram-sha-512, not %q" $m) }}
{{- end }}
- name: KAFKA_SASL_MECHANISM
  value: {{ $m | quote }}
- name: KAFKA_SASL_USERNAME_FILE
  value: /var/run/secrets/headroom/kafka-sasl/username
- name: KAFKA_SASL_PASSWORD_FILE
  value: /var/run/secrets/headroom/kafka-sasl/password
{{- else if $k.sasl.mechanism }}
{{- fail (printf "kafka.sasl.mechanism is set but kafka.securityProtocol %s does not use SASL (SASL_PLAINTEXT or SASL_SSL does)" $p) }}
{{- end }}
{{- if eq (include "headroom.kafkaTls" .) "true" }}
{{- if and $k.tls.existingSecret $k.tls.caKey }}
- name: KAFKA_TLS_CA_FILE
  value: /var/run/secrets/headroom/kafka-tls/ca.crt
{{- end }}
{{- if and $k.tls.existingSecret $k.tls.certKey }}
- name: KAFKA_TLS_CERT_FILE
  value: /var/run/secrets/headroom/kafka-tls/tls.crt
- name: KAFKA_TLS_KEY_FILE
  value: /var/run/secrets/headroom/kafka-tls/tls.key
{{- end }}
{{- if eq (toString $k.tls.rejectUnauthorized) "false" }}
- name: KAFKA_TLS_REJECT_UNAUTHORIZED
  value: "false"
{{- end }}
{{- else if $k.tls.existingSecret }}
{{- fail (printf "kafka.tls.existingSecret is set but kafka.securityProtocol %s does not use TLS (SSL or SASL_SSL does)" $p) }}
{{- end }}
{{- end -}}

{{/*
The SASL user of one workload: `app` is a service name, or "" for the topics Job. With
kafka.sasl.perServiceUsers each service has its own keys in kafka.sasl.existingSecret (so the
broker's ACLs can tell the services apart); the Job, and every service otherwise, use
usernameKey/passwordKey.
*/}}
{{- define "headroom.kafkaSaslKeys" -}}
{{- $s := .root.Values.kafka.sasl -}}
{{- if and .app $s.perServiceUsers -}}
{{- $u := index ($s.services | default dict) .app | default dict -}}
{{- $user := required (printf "kafka.sasl.services.%s.usernameKey is required with kafka.sasl.perServiceUsers" .app) $u.usernameKey -}}
{{- $pw := required (printf "kafka.sasl.services.%s.passwordKey is required with kafka.sasl.perServiceUsers" .app) $u.passwordKey -}}
{{- dict "username" $user "password" $pw | toJson -}}
{{- else -}}
{{- dict "username" ($s.usernameKey | default "username") "password" ($s.passwordKey | default "password") | toJson -}}
{{- end -}}
{{- end -}}

{{/* Volumes of one workload: `(dict "root" $ "app" "<service>")`, app "" for the topics Job. */}}
{{- define "headroom.kafkaVolumes" -}}
{{- $root := .root -}}
{{- $k := $root.Values.kafka -}}
{{- if eq (include "headroom.kafkaSasl" $root) "true" }}
{{- $keys := include "headroom.kafkaSaslKeys" . | fromJson }}
- name: kafka-sasl
  secret:
    secretName: {{ required "kafka.sasl.existingSecret is required with a SASL kafka.securityProtocol: a Secret holding the username and password" $k.sasl.existingSecret | quote }}
    defaultMode: 0440
    items:
      - key: {{ $keys.username | quote }}
        path: username
      - key: {{ $keys.password | quote }}
        path: password
{{- end }}
{{- if and (eq (include "headroom.kafkaTls" $root) "true") $k.tls.existingSecret }}
{{- if and (not $k.tls.caKey) (not $k.tls.certKey) }}
{{- fail "kafka.tls.existingSecret is set but neither kafka.tls.caKey nor kafka.tls.certKey names a key of it" }}
{{- end }}
{{- if and $k.tls.certKey (not $k.tls.keyKey) }}
{{- fail "kafka.tls.certKey needs kafka.tls.keyKey: a client certificate without its key" }}
{{- end }}
{{- if and $k.tls.keyKey (not $k.tls.certKey) }}
{{- fail "kafka.tls.keyKey needs kafka.tls.certKey: a client key without its certificate" }}
{{- end }}
- name: kafka-tls
  secret:
    secretName: {{ $k.tls.existingSecret | quote }}
    defaultMode: 0440
    items:
      {{- with $k.tls.caKey }}
      - key: {{ . | quote }}
        path: ca.crt
      {{- end }}
      {{- if $k.tls.certKey }}
      - key: {{ $k.tls.certKey | quote }}
        path: tls.crt
      - key: {{ $k.tls.keyKey | quote }}
        path: tls.key
      {{- end }}
{{- end }}
{{- end -}}

{{/*
The ACL step of the topics Job (kafka.acls.enabled): `tools/infra/cli.ts acls` sets the access
table's ACLs (libs/contracts/src/topic-access.ts) as the Job's user, which must be allowed to alter
ACLs (a super user). The services' user names are read from the same Secret keys the services
log in with, so the ACLs cannot name a user other than the one a service is.
*/}}
{{- define "headroom.kafkaAclsEnabled" -}}
{{- $k := .Values.kafka -}}
{{- if ($k.acls | default dict).enabled -}}
{{- if ne (include "headroom.kafkaSasl" .) "true" -}}
{{- fail "kafka.acls.enabled needs a SASL kafka.securityProtocol (SASL_PLAINTEXT or SASL_SSL): ACLs name SASL users" -}}
{{- end -}}
{{- if not $k.sasl.perServiceUsers -}}
{{- fail "kafka.acls.enabled needs kafka.sasl.perServiceUsers: services sharing one Kafka user cannot be told apart by ACLs" -}}
{{- end -}}
true
{{- end -}}
{{- end -}}

{{- define "headroom.kafkaAclEnv" -}}
{{- $root := . -}}
{{- range $app, $cfg := $root.Values.apps }}
- name: KAFKA_ACL_USER_{{ upper $app }}_FILE
  value: /var/run/secrets/headroom/kafka-users/{{ $app }}
{{- $groupVar := printf "%s_GROUP_ID" (upper $app) }}
{{- with (index ($cfg.env | default dict) $groupVar) | default (index ($root.Values.env | default dict) $groupVar) }}
- name: {{ $groupVar }}
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- with $root.Values.kafka.acls.lagGroups }}
- name: KAFKA_ACL_LAG_GROUPS
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "headroom.kafkaAclVolume" -}}
{{- $root := . -}}
- name: kafka-users
  secret:
    secretName: {{ $root.Values.kafka.sasl.existingSecret | quote }}
    defaultMode: 0440
    items:
      {{- range $app, $cfg := $root.Values.apps }}
      {{- $keys := include "headroom.kafkaSaslKeys" (dict "root" $root "app" $app) | fromJson }}
      - key: {{ $keys.username | quote }}
        path: {{ $app }}
      {{- end }}
{{- end -}}

{{- define "headroom.kafkaVolumeMounts" -}}
{{- if eq (include "headroom.kafkaSasl" .) "true" }}
- name: kafka-sasl
  mountPath: /var/run/secrets/headroom/kafka-sasl
  readOnly: true
{{- end }}
{{- if and (eq (include "headroom.kafkaTls" .) "true") .Values.kafka.tls.existingSecret }}
- name: kafka-tls
  mountPath: /var/run/secrets/headroom/kafka-tls
  readOnly: true
{{- end }}
{{- end -}}
