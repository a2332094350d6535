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

{{- define "headroom.kafkaVolumes" -}}
{{- $k := .Values.kafka -}}
{{- if eq (include "headroom.kafkaSasl" .) "true" }}
- name: kafka-sasl
  secret:
    secretName: {{ required "kafka.sasl.existingSecret is required with a SASL kafka.securityProtocol: a Secret holding the username and password" $k.sasl.existingSecret | quote }}
    defaultMode: 0440
    items:
      - key: {{ $k.sasl.usernameKey | default "username" | quote }}
        path: username
      - key: {{ $k.sasl.passwordKey | default "password" | quote }}
        path: password
{{- end }}
{{- if and (eq (include "headroom.kafkaTls" .) "true") $k.tls.existingSecret }}
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
