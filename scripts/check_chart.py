#!/usr/bin/env python3
"""Checks the Helm chart charts/tessera without a cluster or a helm binary.

Run through scripts/check_chart.sh, which installs the pinned tools:
helm-python-sdk (Helm 4's Go SDK in a wheel: lint, values schema, render),
kubernetes-validate (Kubernetes' own JSON schemas), yamllint.

For the chart's files and for every value set in charts/tessera/ci/*.yaml:
  1. yamllint the chart's own YAML (values, Chart.yaml, value sets);
  2. helm lint --strict against Kubernetes 1.33, then values.schema.json;
  3. render, yamllint the manifests (duplicate keys, indentation, stray spaces);
  4. validate every built-in kind strictly against the Kubernetes 1.33 schemas and the
     custom resources (KEDA ScaledObject, ServiceMonitor) against the schemas below;
     any other kind fails;
  5. assert the chart's invariants (probes, drain vs grace period, one packager as a StatefulSet
     with its headless Service, KEDA consumers, security contexts, references between objects...).
Then value sets that must be refused are rendered and must fail, and values.yaml must
have a comment on every setting. Exits 1 listing every failure.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import helm_python as helm
import jsonschema
import kubernetes_validate.utils as kv
import referencing
import yaml
from yamllint import config as yamllint_config
from yamllint import linter as yamllint_linter

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "charts" / "tessera"
KUBE_VERSION = "1.33.0"
RELEASE, NAMESPACE = "demo", "media"
SAMPLE = "/usr/share/tessera/sample.mp4"
CODECS = ("h264", "av1", "aac", "image")
CLASSES = ("cpu", "gpu")

# yamllint for the chart's own files, and a looser one for rendered manifests (long lines are data there).
LINT_SOURCE = """
extends: default
rules:
  line-length: {max: 120}
  document-start: disable
  comments: {min-spaces-from-content: 1}
  truthy: {check-keys: false}
"""
LINT_RENDERED = """
extends: default
rules:
  line-length: disable
  document-start: disable
  comments: disable
  comments-indentation: disable
  truthy: {check-keys: false}
  indentation: {spaces: consistent, indent-sequences: whatever}
"""

# Schemas of the custom resources the chart renders, for the fields it uses. Unknown fields are
# refused, like a CRD's structural schema does. Kubernetes types come from the 1.33 definitions.
K8S = "https://kubernetes.io/api/_definitions.json#/$defs/"
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
OBJECT_META = {"$ref": K8S + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}


def closed(properties: dict, required: list | None = None) -> dict:
    return {"type": "object", "properties": properties, "additionalProperties": False, "required": required or []}


SCALED_OBJECT = closed(
    {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": OBJECT_META,
        "spec": closed(
            {
                "scaleTargetRef": closed(
                    {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "name": {"type": "string", "minLength": 1},
                        "envSourceContainerName": {"type": "string"},
                    },
                    ["name"],
                ),
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "initialCooldownPeriod": {"type": "integer", "minimum": 0},
                "idleReplicaCount": {"type": "integer", "minimum": 0},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "fallback": closed(
                    {"failureThreshold": {"type": "integer", "minimum": 1}, "replicas": {"type": "integer", "minimum": 0}},
                    ["failureThreshold", "replicas"],
                ),
                "advanced": closed(
                    {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "horizontalPodAutoscalerConfig": closed(
                            {
                                "name": {"type": "string"},
                                "behavior": {"$ref": K8S + "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerBehavior"},
                            }
                        ),
                    }
                ),
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": closed(
                        {
                            "type": {"type": "string", "minLength": 1},
                            "name": {"type": "string"},
                            # KEDA's CRD: every metadata value is a string.
                            "metadata": STRING_MAP,
                            "authenticationRef": closed({"name": {"type": "string"}, "kind": {"type": "string"}}, ["name"]),
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            "useCachedMetrics": {"type": "boolean"},
                        },
                        ["type", "metadata"],
                    ),
                },
            },
            ["scaleTargetRef", "triggers"],
        ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
)

# The nats-jetstream trigger's metadata (KEDA docs: scalers/nats-jetstream).
NATS_JETSTREAM_METADATA = closed(
    {
        "natsServerMonitoringEndpoint": {"type": "string", "pattern": r"^[A-Za-z0-9.\-]+:[0-9]+$"},
        "account": {"type": "string", "minLength": 1},
        "stream": {"type": "string", "minLength": 1},
        "consumer": {"type": "string", "minLength": 1},
        "lagThreshold": {"type": "string", "pattern": "^[1-9][0-9]*$"},
        "activationLagThreshold": {"type": "string", "pattern": "^[0-9]+$"},
        "useHttps": {"enum": ["true", "false"]},
    },
    ["natsServerMonitoringEndpoint", "account", "stream", "consumer", "lagThreshold"],
)

DURATION = {"type": "string", "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}
SERVICE_MONITOR = closed(
    {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": OBJECT_META,
        "spec": closed(
            {
                "selector": {"$ref": K8S + "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"},
                "namespaceSelector": closed({"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}}),
                "jobLabel": {"type": "string"},
                "targetLabels": {"type": "array", "items": {"type": "string"}},
                "podTargetLabels": {"type": "array", "items": {"type": "string"}},
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": closed(
                        {
                            "port": {"type": "string"},
                            "targetPort": {"type": ["integer", "string"]},
                            "path": {"type": "string", "pattern": "^/"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": DURATION,
                            "scrapeTimeout": DURATION,
                            "honorLabels": {"type": "boolean"},
                        }
                    ),
                },
            },
            ["selector", "endpoints"],
        ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
)

CUSTOM_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): SCALED_OBJECT,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
}


@contextlib.contextmanager
def go_stderr():
    """Captures what the Go library writes to file descriptor 2 (lint's warnings), as a list of lines."""
    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines.extend(line for line in capture.read().decode(errors="replace").splitlines() if line.strip())


class HelmLog(logging.Handler):
    """Collects what Helm's Go SDK logs (e.g. lint's "missing required values")."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())

    def take(self) -> list[str]:
        records, self.records = self.records, []
        return records


class Checker:
    def __init__(self) -> None:
        self.helm_log = HelmLog()
        logger = logging.getLogger("tessera.check_chart.helm")
        logger.propagate = False
        logger.addHandler(self.helm_log)
        helm.enable_logging(logging.WARNING, logger)
        self.failures: list[str] = []
        self.checked = 0
        definitions = kv.schema_contents(f"kubernetes-json-schema/v{KUBE_VERSION}-local-strict/_definitions.json", KUBE_VERSION)
        self.registry = referencing.Registry().with_resource(
            "https://kubernetes.io/api/_definitions.json", referencing.Resource.from_contents(definitions)
        )

    def fail(self, where: str, message: str) -> None:
        self.failures.append(f"{where}: {message}")

    def expect(self, condition: bool, where: str, message: str) -> bool:
        self.checked += 1
        if not condition:
            self.fail(where, message)
        return condition

    # ---- YAML and schemas -------------------------------------------------------------------

    def yamllint(self, text: str, where: str, conf: str) -> None:
        problems = list(yamllint_linter.run(text, yamllint_config.YamlLintConfig(conf)))
        for p in problems:
            if p.level == "error" or conf is LINT_SOURCE:
                self.fail(where, f"yamllint line {p.line}: {p.desc} ({p.rule})")

    def validate_object(self, obj: dict, where: str) -> None:
        key = (obj.get("apiVersion"), obj.get("kind"))
        self.checked += 1
        try:
            version = kv.validate(obj, KUBE_VERSION, strict=True)
            if version != "1.33":
                self.fail(where, f"validated against Kubernetes {version}, not 1.33")
            return
        except kv.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            self.fail(where, f"Kubernetes {KUBE_VERSION} schema: {path}: {e.message}")
            return
        except kv.SchemaNotFoundError:
            pass
        schema = CUSTOM_SCHEMAS.get(key)
        if schema is None:
            self.fail(where, f"unknown kind {key[1]} ({key[0]}): neither a Kubernetes {KUBE_VERSION} kind nor a known CRD")
            return
        self.validate_schema(obj, schema, where)
        if key[1] == "ScaledObject":
            for i, trigger in enumerate(obj["spec"].get("triggers", [])):
                if trigger.get("type") != "nats-jetstream":
                    self.fail(where, f"trigger {i}: type {trigger.get('type')!r}, expected nats-jetstream")
                else:
                    self.validate_schema(trigger.get("metadata", {}), NATS_JETSTREAM_METADATA, f"{where} trigger {i} metadata")

    def validate_schema(self, obj: object, schema: dict, where: str) -> None:
        validator = jsonschema.Draft202012Validator(schema, registry=self.registry)
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.path)):
            path = ".".join(str(p) for p in error.absolute_path)
            self.fail(where, f"schema: {path or '(root)'}: {error.message}")

    # ---- helm -------------------------------------------------------------------------------

    def lint(self, values: dict, name: str, allowed_log: str | None = None) -> None:
        self.helm_log.take()
        with go_stderr() as logged:
            report = helm.lint(str(CHART), values, strict=True, kube_version=f"v{KUBE_VERSION}", namespace=NAMESPACE)
        for record in self.helm_log.take() + logged:
            if allowed_log is None or allowed_log not in record:
                self.fail(f"helm lint [{name}]", f"helm logged: {record}")
        for message in report.get("messages", []):
            # severity: 1 info, 2 warning, 3 error; strict lint fails on warnings too.
            if message.get("severity", 0) >= 2:
                self.fail(f"helm lint [{name}]", f"{message.get('path')}: {message.get('error')}")
        for error in report.get("errors", []):
            self.fail(f"helm lint [{name}]", str(error))

    def render(self, values: dict) -> dict[str, str]:
        with helm.Chart.load(str(CHART)) as chart:
            chart.validate_schema(values)
            return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True, revision=1)

    # ---- one value set ------------------------------------------------------------------------

    def check_value_set(self, name: str, values: dict) -> None:
        self.lint(values, name)
        try:
            rendered = self.render(values)
        except Exception as e:  # noqa: BLE001 - any failure to render is a failure of the chart
            self.fail(f"render [{name}]", f"{type(e).__name__}: {e}")
            return
        objects: list[tuple[str, dict]] = []
        for template, text in sorted(rendered.items()):
            where = f"[{name}] {template}"
            if template.endswith("NOTES.txt"):
                self.expect("helm test" in text, where, "NOTES.txt does not explain helm test")
                continue
            if not text.strip():
                continue
            # Templates that open with a {{- if }} leave a blank first line; helm drops it too.
            self.yamllint(text.lstrip("\n"), where, LINT_RENDERED)
            try:
                docs = [d for d in yaml.safe_load_all(text) if d]
            except yaml.YAMLError as e:
                self.fail(where, f"not YAML: {e}")
                continue
            for doc in docs:
                label = f"[{name}] {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
                self.validate_object(doc, label)
                objects.append((template, doc))
        Invariants(self, name, values, objects).run()


class Invariants:
    """What must hold in every rendering, whatever the values."""

    def __init__(self, checker: Checker, name: str, values: dict, objects: list[tuple[str, dict]]):
        self.c = checker
        self.name = name
        self.values = values
        self.objects = [doc for _, doc in objects]
        self.templates = {id(doc): template for template, doc in objects}
        with helm.Chart.load(str(CHART)) as chart:
            self.merged = chart.merge_values(values)

    def where(self, obj: dict, detail: str = "") -> str:
        return f"[{self.name}] {obj['kind']}/{obj['metadata']['name']}" + (f" {detail}" if detail else "")

    def of_kind(self, *kinds: str) -> list[dict]:
        return [o for o in self.objects if o.get("kind") in kinds]

    @staticmethod
    def env(container: dict) -> dict[str, dict]:
        return {e["name"]: e for e in container.get("env", [])}

    @staticmethod
    def env_value(container: dict, name: str) -> str | None:
        entry = Invariants.env(container).get(name)
        return None if entry is None else entry.get("value")

    def workloads(self) -> list[dict]:
        return self.of_kind("Deployment", "StatefulSet")

    def component(self, obj: dict) -> str | None:
        return obj["metadata"].get("labels", {}).get("app.kubernetes.io/component")

    def run(self) -> None:
        self.c.expect(bool(self.objects), f"[{self.name}]", "nothing rendered")
        checks = [self.names_and_labels, *[lambda w=w: self.pod_basics(w) for w in self.workloads()], self.coordinator,
                  self.workers, self.packager, self.services, self.disruption_budgets, self.autoscalers,
                  self.references, self.nats, self.helm_test]
        for check in checks:
            try:
                check()
            except (KeyError, TypeError, AttributeError, IndexError, ValueError) as e:
                # A manifest without the expected shape (the schema errors above say where).
                name = getattr(check, "__name__", "check")
                self.c.fail(f"[{self.name}] {name}", f"manifests not shaped as expected: {type(e).__name__}: {e}")

    def names_and_labels(self) -> None:
        seen: set[tuple[str, str]] = set()
        for obj in self.objects:
            meta = obj["metadata"]
            key = (obj["kind"], meta["name"])
            self.c.expect(key not in seen, self.where(obj), "rendered twice")
            seen.add(key)
            # A StatefulSet's pods carry controller-revision-hash=<name>-<hash of up to 10 characters>, a label
            # value (63 at most), so its name gets 52.
            limit = {"Service": 63, "StatefulSet": 52}.get(obj["kind"], 253)
            self.c.expect(len(meta["name"]) <= limit, self.where(obj), f"name longer than {limit}")
            self.c.expect("namespace" not in meta or meta["namespace"] == NAMESPACE, self.where(obj), "wrong namespace")
            labels = meta.get("labels", {})
            for label in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "helm.sh/chart"):
                self.c.expect(label in labels, self.where(obj), f"label {label} missing")

    def pod_basics(self, workload: dict) -> None:
        spec = workload["spec"]
        template = spec["template"]
        pod = template["spec"]
        where = self.where(workload)
        selector = spec["selector"].get("matchLabels", {})
        labels = template["metadata"].get("labels", {})
        self.c.expect(all(labels.get(k) == v for k, v in selector.items()), where, "selector does not match the pod labels")
        psc = pod.get("securityContext", {})
        self.c.expect(psc.get("runAsNonRoot") is True, where, "pod securityContext.runAsNonRoot is not true")
        self.c.expect(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where, "no RuntimeDefault seccomp profile")
        self.c.expect(pod.get("automountServiceAccountToken") is False, where, "service account token mounted")
        for container in pod.get("containers", []):
            cwhere = f"{where} container {container['name']}"
            sc = container.get("securityContext", {})
            self.c.expect(sc.get("readOnlyRootFilesystem") is True, cwhere, "root filesystem is writable")
            self.c.expect(sc.get("allowPrivilegeEscalation") is False, cwhere, "privilege escalation allowed")
            self.c.expect(sc.get("capabilities", {}).get("drop") == ["ALL"], cwhere, "capabilities not dropped (ALL)")
            self.c.expect("requests" in container.get("resources", {}), cwhere, "no resource requests")
            self.c.expect("memory" in container.get("resources", {}).get("limits", {}), cwhere, "no memory limit")
            ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                p = container.get(probe)
                if not self.c.expect(p is not None and "httpGet" in p, cwhere, f"no HTTP {probe}"):
                    continue
                self.c.expect(p["httpGet"]["port"] in ports, cwhere, f"{probe} port {p['httpGet']['port']!r} is not a named container port")
            names = [e["name"] for e in container.get("env", [])]
            dupes = sorted({n for n in names if names.count(n) > 1})
            self.c.expect(not dupes, cwhere, f"environment variables set twice: {dupes}")
            if container["name"] != "nats":
                live = container.get("livenessProbe", {}).get("httpGet", {}).get("path")
                ready = container.get("readinessProbe", {}).get("httpGet", {}).get("path")
                self.c.expect(live == "/healthz", cwhere, f"liveness probe on {live}, not /healthz")
                self.c.expect(ready == "/readyz", cwhere, f"readiness probe on {ready}, not /readyz")
                self.c.expect(container.get("args", [None])[0] in ("coordinator", "worker", "packager", "origin"), cwhere, "not a Tessera service")
                for var in ("TESSERA_NATS", "TESSERA_STORE", "TESSERA_LOG", "TESSERA_LOG_FORMAT"):
                    self.c.expect(bool(self.env_value(container, var)), cwhere, f"{var} not set")
                mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
                self.c.expect("/tmp" in mounts, cwhere, "no writable /tmp (the root filesystem is read-only)")

    def deployments(self, component: str) -> list[dict]:
        return [d for d in self.of_kind("Deployment") if self.component(d) == component]

    def coordinator(self) -> None:
        deployments = self.deployments("coordinator")
        if not self.c.expect(len(deployments) == 1, f"[{self.name}]", f"{len(deployments)} coordinator Deployments"):
            return
        d = deployments[0]
        container = d["spec"]["template"]["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        listen = self.env_value(container, "TESSERA_LISTEN") or ""
        self.c.expect(listen.endswith(f":{ports.get('http')}"), self.where(d), f"TESSERA_LISTEN {listen} is not the http port")
        rtmp = self.env_value(container, "TESSERA_RTMP")
        if "rtmp" in ports:
            self.c.expect(rtmp is not None and rtmp.endswith(f":{ports['rtmp']}"), self.where(d), f"TESSERA_RTMP {rtmp} is not the rtmp port")
        else:
            self.c.expect(rtmp == "off", self.where(d), "no rtmp port but TESSERA_RTMP is not off")
        ladder = self.env_value(container, "TESSERA_LADDER")
        rungs = self.merged["ladder"]["rungs"]
        if rungs:
            cm = next((o for o in self.of_kind("ConfigMap") if o["metadata"]["name"].endswith("-ladder")), None)
            if self.c.expect(cm is not None and ladder is not None, self.where(d), "ladder ConfigMap or TESSERA_LADDER missing") and cm:
                mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
                file_name = Path(ladder).name
                self.c.expect(str(Path(mounts.get("ladder", "/nowhere")) / file_name) == ladder, self.where(d), "TESSERA_LADDER is not the mounted file")
                self.check_ladder(cm, file_name, rungs)
        else:
            self.c.expect(ladder is None, self.where(d), "TESSERA_LADDER set without rungs")
        for var, path in (("TESSERA_API_TOKEN", "api"), ("TESSERA_WEBHOOK_SECRET", "api")):
            entry = self.env(container).get(var)
            if entry is not None:
                self.c.expect("valueFrom" in entry and "secretKeyRef" in entry["valueFrom"], self.where(d), f"{var} is not read from a Secret")
        api = self.merged["api"]
        if api["tokens"] or api["existingSecret"]:
            self.c.expect("TESSERA_API_TOKEN" in self.env(container), self.where(d), "API tokens configured but TESSERA_API_TOKEN not set")

    def check_ladder(self, cm: dict, file_name: str, rungs: list) -> None:
        where = self.where(cm)
        try:
            ladder = json.loads(cm["data"][file_name])
        except (KeyError, ValueError) as e:
            self.c.fail(where, f"no JSON ladder in {file_name}: {e}")
            return
        self.c.expect(list(ladder) == ["rungs"] and len(ladder["rungs"]) == len(rungs), where, "ladder is not {rungs: [...]} with every rung")
        for rung in ladder.get("rungs", []):
            allowed = {"codec", "height", "bitrate_kbps", "speed", "max_frame_rate"}
            self.c.expect(set(rung) <= allowed, where, f"rung has unknown fields {set(rung) - allowed}")
            self.c.expect(rung.get("codec") in ("h264", "av1"), where, f"rung codec {rung.get('codec')}")
            self.c.expect(isinstance(rung.get("height"), int) and rung["height"] % 2 == 0, where, f"rung height {rung.get('height')} is not an even integer")
            self.c.expect(isinstance(rung.get("bitrate_kbps"), int), where, f"rung bitrate {rung.get('bitrate_kbps')} is not an integer")

    def workers(self) -> None:
        enabled = [c for c in CLASSES if self.merged["workers"][c]["enabled"]]
        deployments = self.deployments("worker")
        self.c.expect(len(deployments) == len(enabled), f"[{self.name}]", f"{len(deployments)} worker Deployments for classes {enabled}")
        for d in deployments:
            where = self.where(d)
            pod = d["spec"]["template"]["spec"]
            container = pod["containers"][0]
            cls = self.env_value(container, "TESSERA_CLASS")
            self.c.expect(cls in CLASSES, where, f"TESSERA_CLASS {cls!r}")
            self.c.expect(d["metadata"]["labels"].get("tessera/worker-class") == cls, where, "worker-class label differs from TESSERA_CLASS")
            self.c.expect(d["metadata"]["name"].endswith(f"-worker-{cls}"), where, "name does not end in -worker-<class>")
            codecs = (self.env_value(container, "TESSERA_CODECS") or "").split(",")
            self.c.expect(bool(codecs) and set(codecs) <= set(CODECS), where, f"TESSERA_CODECS {codecs}")
            drain = self.env_value(container, "TESSERA_DRAIN_TIMEOUT")
            grace = pod.get("terminationGracePeriodSeconds")
            if self.c.expect(drain is not None and drain.isdigit(), where, "TESSERA_DRAIN_TIMEOUT not set to seconds"):
                self.c.expect(isinstance(grace, int) and grace > int(drain), where, f"terminationGracePeriodSeconds {grace} is not above TESSERA_DRAIN_TIMEOUT {drain}")
            slots = self.env_value(container, "TESSERA_SLOTS")
            self.c.expect(slots is not None and slots.isdigit() and int(slots) >= 1, where, "TESSERA_SLOTS not set (the default is the node's cores)")
            ops = self.env_value(container, "TESSERA_OPS_LISTEN") or ""
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            self.c.expect("ops" in ports and ops.endswith(f":{ports['ops']}"), where, f"TESSERA_OPS_LISTEN {ops!r} is not the ops port")
            values = self.merged["workers"][cls] if cls in CLASSES else {}
            gpus = int(values.get("gpus", 0) or 0)
            limit = container.get("resources", {}).get("limits", {}).get("nvidia.com/gpu")
            if gpus > 0:
                self.c.expect(limit == gpus, where, f"nvidia.com/gpu limit {limit}, expected {gpus}")
            else:
                self.c.expect(limit is None, where, "nvidia.com/gpu limit without gpus")
            if cls == "gpu" and gpus > 0:
                tolerations = pod.get("tolerations", [])
                self.c.expect(any(t.get("key") == "nvidia.com/gpu" for t in tolerations), where, "GPU workers do not tolerate nvidia.com/gpu")
                self.c.expect(bool(pod.get("nodeSelector") or pod.get("affinity")), where, "GPU workers have no node selection")
            strategy = d["spec"].get("strategy", {})
            self.c.expect(strategy.get("rollingUpdate", {}).get("maxUnavailable") == 0, where, "a rollout may remove workers before new ones run")
            mode = values.get("autoscaling", {}).get("mode") or self.merged["autoscaling"]["mode"]
            if mode == "none":
                self.c.expect("replicas" in d["spec"], where, "fixed-size class without replicas")
            else:
                self.c.expect("replicas" not in d["spec"], where, f"replicas set although {mode} owns them (every upgrade would reset the scale)")

    def packager(self) -> None:
        """At most one packager pod, even while one is evicted or deleted: a StatefulSet of one replica, whose
        controller (unlike a ReplicaSet) creates the replacement only once the old pod is gone."""
        packagers = [w for w in self.workloads() if self.component(w) == "packager"]
        if not self.c.expect(len(packagers) == 1, f"[{self.name}]", f"{len(packagers)} packager workloads (exactly one needed)"):
            return
        s = packagers[0]
        where = self.where(s)
        spec = s["spec"]
        if not self.c.expect(s["kind"] == "StatefulSet", where, f"a {s['kind']}, not a StatefulSet (a ReplicaSet starts a second packager while the first is terminating)"):
            return
        self.c.expect(spec.get("replicas") == 1, where, f"replicas {spec.get('replicas')}, must be 1")
        self.c.expect(spec.get("podManagementPolicy") == "OrderedReady", where, f"podManagementPolicy {spec.get('podManagementPolicy')}, must be OrderedReady")
        update = spec.get("updateStrategy", {})
        self.c.expect(update.get("type") == "RollingUpdate", where, f"updateStrategy {update.get('type')}, must be RollingUpdate (OnDelete never rolls it)")
        rolling = update.get("rollingUpdate", {})
        self.c.expect(rolling.get("partition", 0) == 0 and rolling.get("maxUnavailable", 1) in (1, "1"), where, f"rollingUpdate {rolling} (a partition would hold back pod -0)")
        self.c.expect(not spec.get("volumeClaimTemplates"), where, "volumeClaimTemplates: the packager keeps no state of its own")
        pod = spec["template"]["spec"]
        grace = pod.get("terminationGracePeriodSeconds")
        self.c.expect(isinstance(grace, int) and 1 <= grace <= 300, where, f"terminationGracePeriodSeconds {grace}: the replacement waits for the old pod, keep it within 1-300 s")
        # The governing Service: rendered, headless, selecting exactly the packager's pods.
        governing = next((o for o in self.of_kind("Service") if o["metadata"]["name"] == spec.get("serviceName")), None)
        if self.c.expect(governing is not None, where, f"serviceName {spec.get('serviceName')!r} is not a rendered Service"):
            gwhere = self.where(governing)
            self.c.expect(governing["spec"].get("clusterIP") == "None", gwhere, "the packager's governing Service is not headless")
            self.c.expect(self.pods_selected(governing["spec"].get("selector", {})) == [s], gwhere, "does not select the packager's pods (only)")
            self.c.expect(self.component(governing) == "packager", gwhere, "not labelled as the packager's")
        container = pod["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        ops = self.env_value(container, "TESSERA_OPS_LISTEN") or ""
        self.c.expect("ops" in ports and ops.endswith(f":{ports['ops']}"), where, f"TESSERA_OPS_LISTEN {ops!r} is not the ops port")
        if self.merged["otel"]["endpoint"]:
            attrs = self.env_value(container, "OTEL_RESOURCE_ATTRIBUTES") or ""
            self.c.expect(f"k8s.statefulset.name={s['metadata']['name']}" in attrs.split(","), where, "OTEL_RESOURCE_ATTRIBUTES does not name the StatefulSet")
        for scaler in self.of_kind("HorizontalPodAutoscaler", "ScaledObject"):
            self.c.expect(scaler["spec"]["scaleTargetRef"]["name"] != s["metadata"]["name"], self.where(scaler), "scales the packager")
        # The optional PDB: exactly one, maxUnavailable 1 (never blocks a drain), or none.
        selector = spec["selector"]["matchLabels"]
        pdbs = [b for b in self.of_kind("PodDisruptionBudget") if self.pods_selected(b["spec"]["selector"].get("matchLabels", {})) == [s]]
        if self.merged["packager"]["podDisruptionBudget"]["enabled"]:
            self.c.expect(len(pdbs) == 1 and pdbs[0]["spec"].get("maxUnavailable") == 1, where, f"podDisruptionBudget.enabled: {len(pdbs)} PDBs, expected one with maxUnavailable 1")
        else:
            self.c.expect(not pdbs, where, "a PDB although packager.podDisruptionBudget.enabled is false")
        # Metrics: the ServiceMonitor selects a Service of the packager with the port it scrapes.
        for sm in self.of_kind("ServiceMonitor"):
            scraped = [svc for svc in self.of_kind("Service") if self.service_monitor_selects(sm, svc) and self.pods_selected(svc["spec"].get("selector", {})) == [s]]
            sm_ports = {e.get("port") for e in sm["spec"]["endpoints"]}
            self.c.expect(any({p.get("name") for p in svc["spec"]["ports"]} & sm_ports for svc in scraped), self.where(sm), f"scrapes no Service of the packager {selector}")

    @staticmethod
    def service_monitor_selects(sm: dict, svc: dict) -> bool:
        labels = svc["metadata"].get("labels", {})
        selector = sm["spec"]["selector"]
        if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
            return False
        for e in selector.get("matchExpressions", []):
            present, value = e["key"] in labels, labels.get(e["key"])
            ok = {"In": present and value in e.get("values", []), "NotIn": not present or value not in e.get("values", []),
                  "Exists": present, "DoesNotExist": not present}[e["operator"]]
            if not ok:
                return False
        return True

    def pods_selected(self, selector: dict) -> list[dict]:
        out = []
        for w in self.workloads():
            labels = w["spec"]["template"]["metadata"].get("labels", {})
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                out.append(w)
        return out

    def services(self) -> None:
        for svc in self.of_kind("Service"):
            where = self.where(svc)
            targets = self.pods_selected(svc["spec"].get("selector", {}))
            if not self.c.expect(bool(targets), where, "selects no pods of this release"):
                continue
            for target in targets:
                names = {p.get("name") for c in target["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
                for port in svc["spec"]["ports"]:
                    tp = port.get("targetPort")
                    self.c.expect(not isinstance(tp, str) or tp in names, where, f"targetPort {tp} not a port of {target['metadata']['name']}")
            stype = svc["spec"].get("type", "ClusterIP")
            if stype == "ClusterIP":
                for field in ("externalTrafficPolicy", "loadBalancerSourceRanges", "loadBalancerClass"):
                    self.c.expect(field not in svc["spec"], where, f"{field} on a ClusterIP Service")
        rtmp = self.merged["coordinator"]["rtmp"]
        svc = next((s for s in self.of_kind("Service") if s["metadata"]["name"].endswith("-rtmp")), None)
        if rtmp["enabled"] and self.c.expect(svc is not None, f"[{self.name}]", "no RTMP Service"):
            self.c.expect(svc["spec"].get("type", "ClusterIP") == rtmp["service"]["type"], self.where(svc), "type differs from values")
            if rtmp["service"]["type"] == "LoadBalancer":
                self.c.expect(svc["spec"].get("loadBalancerSourceRanges", []) == rtmp["service"]["loadBalancerSourceRanges"], self.where(svc), "loadBalancerSourceRanges lost")
                self.c.expect(svc["spec"].get("externalTrafficPolicy") == rtmp["service"]["externalTrafficPolicy"], self.where(svc), "externalTrafficPolicy lost")
                for k, v in rtmp["service"]["annotations"].items():
                    self.c.expect(svc["metadata"].get("annotations", {}).get(k) == v, self.where(svc), f"annotation {k} lost")

    def disruption_budgets(self) -> None:
        for pdb in self.of_kind("PodDisruptionBudget"):
            where = self.where(pdb)
            targets = self.pods_selected(pdb["spec"]["selector"].get("matchLabels", {}))
            if not self.c.expect(len(targets) == 1, where, f"selects {len(targets)} workloads"):
                continue
            target = targets[0]
            max_unavailable = pdb["spec"].get("maxUnavailable")
            min_available = pdb["spec"].get("minAvailable")
            allows = (max_unavailable is not None and max_unavailable not in (0, "0", "0%")) or min_available in (0, "0", "0%")
            if target["spec"].get("replicas") == 1 or target["kind"] == "StatefulSet" or self.component(target) == "packager":
                self.c.expect(allows, where, "a single-replica workload would block node drains")
            self.c.expect(allows or (isinstance(min_available, int) and min_available < (target["spec"].get("replicas") or 1)), where, "allows no disruption at all")

    def autoscalers(self) -> None:
        deployments = {d["metadata"]["name"]: d for d in self.of_kind("Deployment")}
        targets: list[str] = []
        for so in self.of_kind("ScaledObject"):
            where = self.where(so)
            target = deployments.get(so["spec"]["scaleTargetRef"]["name"])
            targets.append(so["spec"]["scaleTargetRef"]["name"])
            if not self.c.expect(target is not None and self.component(target) == "worker", where, "does not scale a worker Deployment of this release"):
                continue
            container = target["spec"]["template"]["spec"]["containers"][0]
            cls = self.env_value(container, "TESSERA_CLASS")
            codecs = (self.env_value(container, "TESSERA_CODECS") or "").split(",")
            consumers = []
            for trigger in so["spec"]["triggers"]:
                meta = trigger.get("metadata", {})
                consumers.append(meta.get("consumer"))
                self.c.expect(meta.get("stream") == "TESSERA_TASKS", where, f"stream {meta.get('stream')}, expected TESSERA_TASKS")
                consumer = meta.get("consumer", "")
                self.c.expect(re.fullmatch(r"worker-(cpu|gpu)-(h264|av1|aac|image)(-first)?", consumer) is not None, where, f"consumer {consumer!r} is not worker-{{class}}-{{codec}}[-first]")
            expected = sorted(f"worker-{cls}-{codec}{suffix}" for codec in codecs for suffix in ("", "-first"))
            self.c.expect(sorted(consumers) == expected, where, f"consumers {sorted(consumers)}, expected one per codec and priority of the class: {expected}")
            self.c.expect(so["spec"].get("minReplicaCount", 0) <= so["spec"].get("maxReplicaCount", 100), where, "minReplicaCount above maxReplicaCount")
        for hpa in self.of_kind("HorizontalPodAutoscaler"):
            where = self.where(hpa)
            name = hpa["spec"]["scaleTargetRef"]["name"]
            targets.append(name)
            target = deployments.get(name)
            if not self.c.expect(target is not None, where, f"scales {name}, which is not rendered"):
                continue
            self.c.expect(hpa["spec"].get("minReplicas", 1) >= 1 and hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"], where, "bad replica bounds")
            self.c.expect("replicas" not in target["spec"], where, "its target sets replicas")
            if self.component(target) == "worker":
                container = target["spec"]["template"]["spec"]["containers"][0]
                cls = self.env_value(container, "TESSERA_CLASS")
                external = [m["external"] for m in hpa["spec"]["metrics"] if m["type"] == "External"]
                self.c.expect(
                    any(e["metric"]["name"] == "tessera_queue_pending" and e["metric"].get("selector", {}).get("matchLabels", {}).get("class") == cls for e in external),
                    where,
                    f"no External tessera_queue_pending metric for class {cls}",
                )
                wants_cpu = int(self.merged["workers"].get(cls, {}).get("autoscaling", {}).get("cpuUtilization", 0)) > 0
                has_cpu = any(m["type"] == "Resource" and m["resource"]["name"] == "cpu" for m in hpa["spec"]["metrics"])
                self.c.expect(has_cpu == wants_cpu, where, f"CPU metric {'missing' if wants_cpu else 'without cpuUtilization'}")
        dupes = sorted({t for t in targets if targets.count(t) > 1})
        self.c.expect(not dupes, f"[{self.name}]", f"scaled by more than one autoscaler: {dupes}")
        for cls in CLASSES:
            w = self.merged["workers"][cls]
            if not w["enabled"]:
                continue
            mode = w["autoscaling"]["mode"] or self.merged["autoscaling"]["mode"]
            kinds = {"keda": ["ScaledObject"], "hpa": ["HorizontalPodAutoscaler"], "none": []}[mode]
            found = [o["kind"] for o in self.of_kind("ScaledObject", "HorizontalPodAutoscaler") if o["spec"]["scaleTargetRef"]["name"].endswith(f"-worker-{cls}")]
            self.c.expect(found == kinds, f"[{self.name}] workers.{cls}", f"autoscaling mode {mode} rendered {found or 'no autoscaler'}")

    def references(self) -> None:
        """Secrets and ConfigMaps that pods use exist in the rendering or are named existing ones."""
        secrets = {o["metadata"]["name"] for o in self.of_kind("Secret")}
        secrets |= {s for s in (self.merged["store"]["existingSecret"], self.merged["api"]["existingSecret"]) if s}
        configmaps = {o["metadata"]["name"] for o in self.of_kind("ConfigMap")}
        claims = {self.merged["store"]["volume"]["existingClaim"]} - {""}
        for obj in self.workloads() + self.of_kind("Pod"):
            pod = obj["spec"]["template"]["spec"] if "template" in obj["spec"] else obj["spec"]
            where = self.where(obj)
            for container in pod.get("containers", []):
                for e in container.get("env", []):
                    ref = e.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        self.c.expect(ref["name"] in secrets, where, f"env {e['name']} reads unknown Secret {ref['name']}")
                for e in container.get("envFrom", []):
                    if "secretRef" in e:
                        self.c.expect(e["secretRef"]["name"] in secrets, where, f"envFrom unknown Secret {e['secretRef']['name']}")
                mounted = {m["name"] for m in container.get("volumeMounts", [])}
                volumes = {v["name"] for v in pod.get("volumes", [])} | {t["metadata"]["name"] for t in obj["spec"].get("volumeClaimTemplates", [])}
                self.c.expect(mounted <= volumes, where, f"mounts undeclared volumes {sorted(mounted - volumes)}")
            for v in pod.get("volumes", []):
                if "configMap" in v:
                    self.c.expect(v["configMap"]["name"] in configmaps, where, f"volume {v['name']}: unknown ConfigMap {v['configMap']['name']}")
                if "persistentVolumeClaim" in v:
                    self.c.expect(v["persistentVolumeClaim"]["claimName"] in claims, where, f"volume {v['name']}: unexpected claim")
        for name in ("Secret", "ConfigMap"):
            for obj in self.of_kind(name):
                self.c.expect(bool(obj.get("data") or obj.get("stringData")), self.where(obj), "empty")

    def nats(self) -> None:
        bundled = self.merged["nats"]["bundled"]["enabled"]
        sts = [s for s in self.of_kind("StatefulSet") if self.component(s) == "nats"]
        self.c.expect(len(sts) == (1 if bundled else 0), f"[{self.name}]", f"{len(sts)} NATS StatefulSets with bundled={bundled}")
        tessera = [w for w in self.workloads() if self.component(w) != "nats"]
        urls = {self.env_value(c, "TESSERA_NATS") for d in tessera for c in d["spec"]["template"]["spec"]["containers"]}
        self.c.expect(len(urls) == 1, f"[{self.name}]", f"services use different NATS URLs: {urls}")
        replicas = {self.env_value(c, "TESSERA_NATS_REPLICAS") for d in tessera for c in d["spec"]["template"]["spec"]["containers"]}
        self.c.expect(replicas == {str(self.merged["nats"]["streamReplicas"])}, f"[{self.name}]", f"TESSERA_NATS_REPLICAS {replicas} is not nats.streamReplicas")
        if bundled and sts:
            svc = next((s for s in self.of_kind("Service") if self.component(s) == "nats" and s["spec"].get("clusterIP") != "None"), None)
            if self.c.expect(svc is not None, f"[{self.name}]", "no NATS client Service"):
                expected = f"nats://{svc['metadata']['name']}.{NAMESPACE}.svc:4222"
                self.c.expect(urls == {expected}, f"[{self.name}]", f"TESSERA_NATS {urls} is not the bundled NATS {expected}")
                for so in self.of_kind("ScaledObject"):
                    for t in so["spec"]["triggers"]:
                        endpoint = t["metadata"].get("natsServerMonitoringEndpoint")
                        self.c.expect(endpoint == f"{svc['metadata']['name']}.{NAMESPACE}.svc:8222", self.where(so), f"monitoring endpoint {endpoint} is not the bundled NATS")
            pod = sts[0]["spec"]["template"]["spec"]
            args = " ".join(pod["containers"][0].get("command", []) + pod["containers"][0].get("args", []))
            cm = next((c for c in self.of_kind("ConfigMap") if self.component(c) == "nats"), None)
            if self.c.expect(cm is not None and "nats.conf" in cm["data"], f"[{self.name}]", "no NATS config"):
                conf = cm["data"]["nats.conf"]
                self.c.expect("jetstream" in conf and "http_port: 8222" in conf, self.where(cm), "JetStream or monitoring port 8222 missing")
                self.c.expect("/etc/nats-config/nats.conf" in args, self.where(sts[0]), "server not started with the mounted config")
                nats_server_check(self.c, conf, self.where(cm))
            nodes = self.merged["nats"]["bundled"]["replicas"]
            self.c.expect(sts[0]["spec"].get("replicas") == nodes, self.where(sts[0]), f"replicas {sts[0]['spec'].get('replicas')}, expected bundled.replicas {nodes}")
            if cm is not None and "nats.conf" in cm["data"]:
                routes = cm["data"]["nats.conf"].count(":6222")
                self.c.expect(routes == (nodes if nodes > 1 else 0), self.where(cm), f"{routes} cluster routes for {nodes} nodes")
            stream_replicas = self.merged["nats"]["streamReplicas"]
            self.c.expect(stream_replicas <= nodes, f"[{self.name}]", f"streamReplicas {stream_replicas} above the {nodes} bundled NATS nodes (JetStream would refuse the streams)")
            persistence = self.merged["nats"]["bundled"]["persistence"]["enabled"]
            self.c.expect(bool(sts[0]["spec"].get("volumeClaimTemplates")) == persistence, self.where(sts[0]), "volume claim does not follow persistence.enabled")

    def helm_test(self) -> None:
        pods = self.of_kind("Pod")
        if not self.merged["tests"]["enabled"]:
            self.c.expect(not pods, f"[{self.name}]", "test pod rendered although tests.enabled is false")
            return
        if not self.c.expect(len(pods) == 1, f"[{self.name}]", f"{len(pods)} test pods"):
            return
        pod = pods[0]
        where = self.where(pod)
        self.c.expect(pod["metadata"].get("annotations", {}).get("helm.sh/hook") == "test", where, "not a helm test hook")
        self.c.expect(self.templates.get(id(pod), "").startswith("tessera/templates/tests/"), where, "not under templates/tests")
        container = pod["spec"]["containers"][0]
        script = " ".join(container.get("command", []) + container.get("args", []))
        self.c.expect(f"tessera submit {SAMPLE} --wait" in script, where, f"does not run tessera submit {SAMPLE} --wait")
        server = self.env_value(container, "TESSERA_SERVER") or ""
        coordinator = next(iter(s for s in self.of_kind("Service") if s["metadata"]["name"].endswith("-coordinator")), None)
        if self.c.expect(coordinator is not None, where, "no coordinator Service"):
            port = coordinator["spec"]["ports"][0]["port"]
            self.c.expect(server == f"http://{coordinator['metadata']['name']}.{NAMESPACE}.svc:{port}", where, f"TESSERA_SERVER {server} is not the coordinator Service")
        sc = container.get("securityContext", {})
        self.c.expect(sc.get("readOnlyRootFilesystem") is True and sc.get("capabilities", {}).get("drop") == ["ALL"], where, "insecure test container")


def nats_server_check(checker: Checker, conf: str, where: str) -> None:
    """Lets a local nats-server (if any) parse the rendered config (`-t`)."""
    server = shutil.which("nats-server")
    if not server:
        if not getattr(nats_server_check, "warned", False):
            print("check_chart: no nats-server on PATH, the bundled NATS config is not parsed (scripts/test.sh installs one)")
            nats_server_check.warned = True
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nats.conf"
        path.write_text(conf.replace("store_dir: /data", f"store_dir: {tmp}/data").replace("/var/run/nats/", f"{tmp}/"))
        result = subprocess.run([server, "-t", "-c", str(path)], capture_output=True, text=True, env={"POD_NAME": "nats-0"}, timeout=30)
        checker.expect(result.returncode == 0, where, f"nats-server -t refused the config: {(result.stderr or result.stdout).strip()}")


def values_comments(checker: Checker) -> None:
    """Every setting in values.yaml is documented by a "# --" comment (helm-docs style) on the lines
    above, or by an inline comment. A documented setting whose default is a block (resources, a node
    selector) covers the block; an undocumented block is a group (e.g. "image:", perhaps under a
    plain section comment) whose settings need their own."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    covered = None  # indent of a documented block setting whose lines are covered
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        if covered is not None and indent > covered:
            continue
        covered = None
        if stripped.startswith("- ") or not re.match(r"^[\w./\"-]+:", stripped):
            continue
        above = []
        for previous in reversed(lines[: number - 1]):
            if not previous.strip().startswith("#"):
                break
            above.append(previous.strip())
        documented = any(c.startswith("# --") for c in above) or " # " in line
        following = next((n for n in lines[number:] if n.strip() and not n.strip().startswith("#")), "")
        following_indent = len(following) - len(following.lstrip())
        is_block = stripped.endswith(":") and (following_indent > indent or (following_indent == indent and following.strip().startswith("- ")))
        if is_block:
            if documented:
                covered = indent
            continue
        checker.expect(documented, f"values.yaml line {number}", f"setting {stripped.split(':')[0]!r} has no '# --' comment")


def expect_refused(checker: Checker, name: str, values: dict, needle: str) -> None:
    """A value set the chart must refuse (render or schema error mentioning `needle`)."""
    checker.checked += 1
    try:
        checker.render(values)
    except Exception as e:  # noqa: BLE001
        if needle.lower() not in str(e).lower():
            checker.fail(f"refuse [{name}]", f"refused, but the message does not mention {needle!r}: {e}")
        return
    checker.fail(f"refuse [{name}]", "rendered, but the chart must refuse these values")


def dockerfile_matches(checker: Checker) -> None:
    """The image the test pod relies on: the sample at SAMPLE, tessera as entrypoint, a non-root user."""
    path = ROOT / "Dockerfile"
    if not checker.expect(path.is_file(), "Dockerfile", "missing"):
        return
    text = path.read_text()
    checker.expect(SAMPLE in text, "Dockerfile", f"does not put the sample at {SAMPLE}")
    checker.expect('ENTRYPOINT ["tessera"]' in text, "Dockerfile", 'no ENTRYPOINT ["tessera"]')
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    uid = str(yaml.safe_load((CHART / "values.yaml").read_text())["podSecurityContext"]["runAsUser"])
    checker.expect(bool(user) and user[-1].split(":")[0] == uid, "Dockerfile", f"final USER {user[-1] if user else None} is not the chart's runAsUser {uid}")
    runtime = text[text.rfind("\nFROM ") :]
    checker.expect("ffmpeg" not in runtime.replace("--from=sample", ""), "Dockerfile", "ffmpeg in the runtime stage")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chart", type=Path, default=CHART, help="chart folder (default: charts/tessera)")
    parser.add_argument("--values", nargs="*", type=Path, help="value sets (default: the chart's ci/*.yaml)")
    args = parser.parse_args()
    set_chart(args.chart.resolve())
    started = time.monotonic()
    checker = Checker()

    for path in [CHART / "Chart.yaml", CHART / "values.yaml", *sorted((CHART / "ci").glob("*.yaml"))]:
        checker.yamllint(path.read_text(), str(path.relative_to(CHART.parent)), LINT_SOURCE)
    json.loads((CHART / "values.schema.json").read_text())
    values_comments(checker)
    dockerfile_matches(checker)

    # helm lint of the bare defaults too (store.url missing is only a lint warning there, logged by helm).
    checker.lint({}, "no values", allowed_log="store.url is required")
    value_sets = args.values or sorted((CHART / "ci").glob("*.yaml"))
    for path in value_sets:
        values = yaml.safe_load(path.read_text()) or {}
        checker.check_value_set(path.stem, values)

    base = yaml.safe_load((CHART / "ci" / "default-values.yaml").read_text())
    refusals = [
        ("no store", {}, "store.url"),
        ("hpa with zero gpu workers", {"autoscaling": {"mode": "hpa"}, "workers": {"gpu": {"enabled": True, "autoscaling": {"minReplicas": 0}}}}, "minReplicas"),
        ("unknown mode", {"autoscaling": {"mode": "sometimes"}}, "mode"),
        ("external NATS without URL", {"nats": {"bundled": {"enabled": False}}}, "nats.url"),
        ("KEDA on external NATS without monitoring", {"nats": {"bundled": {"enabled": False}, "url": "nats://nats:4222"}}, "monitoringEndpoint"),
        ("unknown codec", {"workers": {"cpu": {"codecs": ["h265"]}}}, "codecs"),
        ("misspelt setting", {"workers": {"cpu": {"replica": 3}}}, "replica"),
        ("bad rung", {"ladder": {"rungs": [{"codec": "h264", "height": 721, "bitrate_kbps": 900}]}}, "height"),
        ("unknown rung field", {"ladder": {"rungs": [{"codec": "h264", "height": 720, "bitrate": 900}]}}, "bitrate"),
        ("grace margin zero", {"workers": {"cpu": {"terminationGraceMarginSeconds": 0}}}, "terminationGraceMarginSeconds"),
        ("packager grace period of an hour", {"packager": {"terminationGracePeriodSeconds": 3600}}, "terminationGracePeriodSeconds"),
    ]
    for name, overlay, needle in refusals:
        values = merge(copy.deepcopy(base), overlay) if name != "no store" else {}
        expect_refused(checker, name, values, needle)

    elapsed = time.monotonic() - started
    if checker.failures:
        print(f"chart check FAILED ({len(checker.failures)} problems, {checker.checked} checks, {elapsed:.1f} s):", file=sys.stderr)
        for failure in checker.failures:
            print(f"  - {failure}", file=sys.stderr)
        print(f"{checker.checked - len(checker.failures)} passed, {len(checker.failures)} failed")
        return 1
    print(f"chart check passed: {len(value_sets)} value sets, {len(refusals)} refusals, {checker.checked} checks, {elapsed:.1f} s")
    print(f"{checker.checked} passed, 0 failed")
    return 0


def set_chart(path: Path) -> None:
    global CHART, ROOT
    CHART = path
    # The Dockerfile sits two levels up from the chart (charts/tessera -> repository root).
    ROOT = path.parent.parent


def merge(base: dict, overlay: dict) -> dict:
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


if __name__ == "__main__":
    sys.exit(main())
