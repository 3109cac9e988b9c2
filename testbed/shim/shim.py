#!/usr/bin/env python3
"""The testbed's node shim: test support standing in for a kubelet and a container runtime.

Never part of the `chaos` binary. scripts/testbed starts it inside the testbed's network namespace.
It watches the Pods bound to the kwok node and turns each container into a local process of the
`chaos` binary (whatever the image; `command[0]` is replaced by it), as a kubelet would:

* waits for kwok to give the Pod its IP (kwok's `pod-assign-ip` stage, testbed/kwok/stages.yaml);
* resolves the container's env (values, Secret and ConfigMap keys, the downward API fields the
  manifests use, labels and annotations by key: an Indexed Job's JOB_COMPLETION_INDEX), expands `$(VAR)` in command and args, writes ConfigMap/Secret/emptyDir volumes
  to files and mounts them at their mountPath in a mount namespace of the Pod's own, where /etc is
  an overlay (so nothing is created on the host) and /etc/hosts resolves the Services of the Pod's
  namespace (name, name.ns, name.ns.svc, name.ns.svc.cluster.local -> ClusterIP; kube-proxy
  routes those). A listen address 0.0.0.0:PORT or [::]:PORT in the arguments becomes
  PODIP:PORT: every Pod shares the namespace's network stack, so a Pod binds its own IP only;
* runs it as the Pod's runAsUser/runAsGroup, logs in the CRI format to a file that a kwok `Logs`
  object points at (kwok then serves `pods/log` as the kubelet does);
* sets Running, then Ready only once the readiness probe (httpGet) answers 2xx/3xx, honouring
  initialDelaySeconds, periodSeconds, failureThreshold and successThreshold;
* reports the real exit: restartPolicy Never makes the Pod Succeeded or Failed with the exit
  code (a Job's Pod ends when its process does); Always/OnFailure restarts with the kubelet's
  back-off (10 s doubling to 300 s) and reports CrashLoopBackOff meanwhile;
* on deletion sends SIGTERM, SIGKILL after the grace period (at most 30 s), then removes the Pod
  (grace 0), as the kubelet does, so its IP is only reused once the process is gone.

What it does not do: resource limits (no cgroups: a memory limit is not enforced), liveness and
startup probes, exec/tcpSocket probes, init containers, image pulls (any image works), projected
or persistent volumes.
"""

import argparse
import datetime
import http.client
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

log = logging.getLogger("shim")

PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cri_stamp():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%09dZ" % int((t % 1) * 1e9)


class Services:
    """ClusterIPs of the Services of every namespace, for the Pods' /etc/hosts."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_ns = {}  # ns -> {name: ip}
        self.listeners = []  # callables(ns)

    def set(self, ns, name, ip):
        with self.lock:
            m = self.by_ns.setdefault(ns, {})
            if ip:
                m[name] = ip
            else:
                m.pop(name, None)
            listeners = list(self.listeners)
        for f in listeners:
            f(ns)

    def hosts(self, ns, pod_ip, pod_name, with_services):
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
        if pod_ip:
            lines.append(f"{pod_ip}\t{pod_name}")
        if not with_services:
            return "\n".join(lines) + "\n"
        with self.lock:
            for other, svcs in sorted(self.by_ns.items()):
                for name, ip in sorted(svcs.items()):
                    fq = f"{name}.{other}.svc.cluster.local {name}.{other}.svc {name}.{other}"
                    lines.append(f"{ip}\t{name} {fq}" if other == ns else f"{ip}\t{fq}")
        return "\n".join(lines) + "\n"


class Container:
    def __init__(self, spec):
        self.spec = spec
        self.name = spec.name
        self.proc = None
        self.started_at = None
        self.restarts = 0
        self.ready = False
        self.successes = 0
        self.failures = 0
        self.next_probe = 0.0
        self.next_start = 0.0
        self.last_terminated = None  # dict for lastState
        self.exit_code = None
        self.done = False  # restartPolicy says: not again
        self.log_threads = []


class PodWorker(threading.Thread):
    def __init__(self, shim, pod):
        super().__init__(daemon=True, name=f"pod-{pod.metadata.namespace}/{pod.metadata.name}")
        self.shim = shim
        self.pod = pod
        self.ns = pod.metadata.namespace
        self.name = pod.metadata.name
        self.uid = pod.metadata.uid
        self.lock = threading.Lock()
        self.deleted = threading.Event()  # the object is gone (or force-deleted)
        self.dir = os.path.join(shim.state, "pods", self.uid)
        self.containers = [Container(c) for c in pod.spec.containers]
        self.phase = "Pending"
        self.pod_ip = None
        self.status_sent = None
        self.repair_at = 0.0

    # -- events from the watch

    def update(self, pod):
        with self.lock:
            self.pod = pod

    def gone(self):
        self.deleted.set()

    # -- helpers

    def current(self):
        with self.lock:
            return self.pod

    def core(self):
        return self.shim.core

    def patch_status(self, status):
        body = {"status": status}
        try:
            self.core().patch_namespaced_pod_status(
                self.name, self.ns, body, _content_type="application/strategic-merge-patch+json")
        except ApiException as e:
            if e.status != 404:
                log.warning("%s/%s: status patch failed: %s %s", self.ns, self.name, e.status, e.reason)

    def container_status(self, c):
        st = {"name": c.name, "image": c.spec.image, "imageID": "", "restartCount": c.restarts,
              "ready": c.ready, "started": c.proc is not None and c.proc.poll() is None}
        if c.proc is not None and c.proc.poll() is None:
            st["state"] = {"running": {"startedAt": c.started_at}, "waiting": None, "terminated": None}
            st["containerID"] = f"shim://{self.uid}/{c.name}/{c.proc.pid}"
        elif c.done and c.last_terminated is not None:
            st["state"] = {"terminated": c.last_terminated, "waiting": None, "running": None}
        elif c.last_terminated is not None:
            st["state"] = {"running": None, "terminated": None, "waiting": {"reason": "CrashLoopBackOff",
                                       "message": f"back-off restarting failed container {c.name} in pod {self.name}"}}
        else:
            st["state"] = {"running": None, "terminated": None, "waiting": {"reason": "ContainerCreating"}}
        if c.last_terminated is not None and not c.done:
            st["lastState"] = {"terminated": c.last_terminated}
        return st

    def send_status(self, force=False):
        ready = all(c.ready for c in self.containers) and self.phase == "Running"
        cond = "True" if ready else "False"
        conditions = [
            {"type": "Ready", "status": cond, "lastTransitionTime": now_rfc3339()},
            {"type": "ContainersReady", "status": cond, "lastTransitionTime": now_rfc3339()},
        ]
        if not ready:
            for c in conditions:
                c["reason"] = "PodCompleted" if self.phase in ("Succeeded", "Failed") else "ContainersNotReady"
        status = {"phase": self.phase, "conditions": conditions,
                  "containerStatuses": [self.container_status(c) for c in self.containers]}
        key = json.dumps({"phase": self.phase, "ready": ready,
                          "cs": [(s["ready"], s["restartCount"], [k for k, v in s["state"].items() if v][0],
                                  (s["state"].get("waiting") or {}).get("reason"))
                                 for s in status["containerStatuses"]]})
        # Like a kubelet's status manager, repair a Ready condition someone else changed: the
        # node lifecycle controller sets Ready=False on every Pod of a Node it sees NotReady, and
        # only the node's kubelet (here, the shim) ever sets it back.
        # Not within 2 s of our own patch: the watch may not have brought it back yet.
        drift = self.status_sent is not None and time.monotonic() >= self.repair_at \
            and self.api_ready() not in (None, cond)
        if force or key != self.status_sent or drift:
            if drift and not force and key == self.status_sent:
                log.info("%s/%s: Ready was changed to %s by someone else; setting %s again",
                         self.ns, self.name, self.api_ready(), cond)
            self.repair_at = time.monotonic() + 2.0
            self.status_sent = key
            self.patch_status(status)

    def api_ready(self):
        """The Ready condition of the Pod as last seen by the watch ("True", "False", or None)."""
        st = self.current().status
        for c in (st.conditions if st else None) or []:
            if c.type == "Ready":
                return c.status
        return None

    def event(self, reason, message, type_="Normal"):
        try:
            self.core().create_namespaced_event(self.ns, {
                "metadata": {"generateName": f"{self.name}."},
                "involvedObject": {"kind": "Pod", "namespace": self.ns, "name": self.name,
                                   "uid": self.uid, "apiVersion": "v1"},
                "reason": reason, "message": message, "type": type_,
                "source": {"component": "chaos-testbed-shim", "host": self.shim.node},
                "firstTimestamp": now_rfc3339(), "lastTimestamp": now_rfc3339(), "count": 1,
            })
        except ApiException:
            pass

    # -- preparing a container

    def secret_key(self, name, key):
        s = self.core().read_namespaced_secret(name, self.ns)
        import base64
        return base64.b64decode((s.data or {})[key]).decode()

    def configmap_key(self, name, key):
        cm = self.core().read_namespaced_config_map(name, self.ns)
        return (cm.data or {})[key]

    def field(self, path):
        pod = self.current()
        # metadata.labels['k'] / metadata.annotations['k'], as the kubelet resolves them: the
        # Job controller gives an Indexed Job's Pods JOB_COMPLETION_INDEX this way.
        m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
        if m:
            found = (pod.metadata.labels if m.group(1) == "labels" else pod.metadata.annotations) or {}
            return found.get(m.group(2), "")
        return {
            "metadata.name": pod.metadata.name,
            "metadata.namespace": pod.metadata.namespace,
            "metadata.uid": pod.metadata.uid,
            "spec.nodeName": pod.spec.node_name,
            "spec.serviceAccountName": pod.spec.service_account_name or "",
            "status.podIP": self.pod_ip,
            "status.hostIP": (pod.status.host_ip if pod.status else "") or "",
        }.get(path, "")

    def env_of(self, spec):
        env = {}
        for e in spec.env or []:
            if e.value_from is None:
                env[e.name] = expand(e.value or "", env)
                continue
            vf = e.value_from
            try:
                if vf.secret_key_ref is not None:
                    env[e.name] = self.secret_key(vf.secret_key_ref.name, vf.secret_key_ref.key)
                elif vf.config_map_key_ref is not None:
                    env[e.name] = self.configmap_key(vf.config_map_key_ref.name, vf.config_map_key_ref.key)
                elif vf.field_ref is not None:
                    env[e.name] = self.field(vf.field_ref.field_path)
            except (ApiException, KeyError) as err:
                optional = (vf.secret_key_ref or vf.config_map_key_ref)
                if optional is not None and optional.optional:
                    continue
                raise RuntimeError(f"env {e.name}: {err}") from err
        return env

    def write_volumes(self):
        """name -> host directory holding the volume's files."""
        import base64
        out = {}
        for v in self.current().spec.volumes or []:
            d = os.path.join(self.dir, "volumes", v.name)
            os.makedirs(d, exist_ok=True)
            files = {}
            mode = 0o644
            if v.config_map is not None:
                cm = self.core().read_namespaced_config_map(v.config_map.name, self.ns)
                files = dict(cm.data or {})
                for k, b in (cm.binary_data or {}).items():
                    files[k] = base64.b64decode(b)
                items = v.config_map.items
                mode = v.config_map.default_mode if v.config_map.default_mode is not None else 0o644
            elif v.secret is not None:
                s = self.core().read_namespaced_secret(v.secret.secret_name, self.ns)
                files = {k: base64.b64decode(b) for k, b in (s.data or {}).items()}
                items = v.secret.items
                mode = v.secret.default_mode if v.secret.default_mode is not None else 0o644
            elif v.empty_dir is not None:
                items = None
                os.chmod(d, 0o777)
            else:
                raise RuntimeError(f"volume {v.name}: only configMap, secret and emptyDir are supported")
            if items:
                files = {i.path: files[i.key] for i in items if i.key in files}
            for k, content in files.items():
                p = os.path.join(d, k)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                with open(p, "wb") as f:
                    f.write(content.encode() if isinstance(content, str) else content)
                os.chmod(p, mode)
            out[v.name] = d
        return out

    def hosts_path(self):
        return os.path.join(self.dir, "hosts")

    def write_hosts(self):
        text = self.shim.services.hosts(self.ns, self.pod_ip, self.name, not self.shim.cluster_dns)
        p = self.hosts_path()
        # In place: the file is bind-mounted over /etc/hosts in the Pod's mount namespace.
        with open(p, "a+") as f:
            f.seek(0)
            if f.read() == text:
                return
            f.seek(0)
            f.truncate()
            f.write(text)

    def resolv_path(self):
        return os.path.join(self.dir, "resolv.conf")

    def write_resolv(self):
        """As the kubelet writes it for dnsPolicy ClusterFirst."""
        d = self.shim.cluster_domain
        with open(self.resolv_path(), "w") as f:
            f.write(f"search {self.ns}.svc.{d} svc.{d} {d}\nnameserver {self.shim.cluster_dns}\noptions ndots:5\n")

    def argv_of(self, spec, env):
        cmd = [expand(a, env) for a in (spec.command or [])]
        args = [expand(a, env) for a in (spec.args or [])]
        argv = [self.shim.binary()] + (cmd[1:] if cmd else []) + args
        out = []
        for a in argv:
            a = re.sub(r"(^|=)(0\.0\.0\.0|\[::\]):(\d+)$", lambda m: f"{m.group(1)}{self.pod_ip}:{m.group(3)}", a)
            out.append(a)
        return out

    def start_container(self, c, volumes):
        pod = self.current()
        spec = c.spec
        env = self.env_of(spec)
        argv = self.argv_of(spec, env)
        full_env = {"PATH": PATH_ENV, "HOSTNAME": self.name, "HOME": "/"}
        full_env.update(env)
        sc = pod.spec.security_context
        csc = spec.security_context
        uid = (csc.run_as_user if csc and csc.run_as_user is not None else
               sc.run_as_user if sc and sc.run_as_user is not None else None)
        gid = (csc.run_as_group if csc and csc.run_as_group is not None else
               sc.run_as_group if sc and sc.run_as_group is not None else None)
        upper = os.path.join(self.dir, c.name, "etc-upper")
        work = os.path.join(self.dir, c.name, "etc-work")
        os.makedirs(upper, exist_ok=True)
        os.makedirs(work, exist_ok=True)
        script = [f"mount -t overlay overlay -o lowerdir=/etc,upperdir={shlex.quote(upper)},workdir={shlex.quote(work)} /etc",
                  f"mount --bind {shlex.quote(self.hosts_path())} /etc/hosts"]
        if self.shim.cluster_dns:
            script.append(f"mount --bind {shlex.quote(self.resolv_path())} /etc/resolv.conf")
        for m in spec.volume_mounts or []:
            src = volumes.get(m.name)
            if src is None:
                raise RuntimeError(f"volumeMount {m.name}: no such volume")
            if m.sub_path:
                src = os.path.join(src, m.sub_path)
            script.append(f"mkdir -p {shlex.quote(m.mount_path)}")
            script.append(f"mount --bind {shlex.quote(src)} {shlex.quote(m.mount_path)}")
            if m.read_only:
                script.append(f"mount -o remount,bind,ro {shlex.quote(m.mount_path)}")
        workdir = spec.working_dir or "/"
        script.append(f"cd {shlex.quote(workdir)}")
        drop = []
        if uid is not None:
            drop = ["setpriv", f"--reuid={uid}", f"--regid={gid if gid is not None else uid}", "--clear-groups", "--"]
        script.append("exec " + " ".join(shlex.quote(a) for a in drop + argv))
        logfile = os.path.join(self.dir, f"{c.name}.log")
        log.info("%s/%s: starting %s: %s", self.ns, self.name, c.name, " ".join(argv))
        c.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", "sh", "-ec", " && ".join(script)],
            env=full_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True)
        c.started_at = now_rfc3339()
        c.ready = False
        c.successes = 0
        c.failures = 0
        probe = spec.readiness_probe
        c.next_probe = time.monotonic() + ((probe.initial_delay_seconds or 0) if probe else 0)
        lock = threading.Lock()
        out = open(logfile, "ab")
        c.log_threads = [threading.Thread(target=pump, args=(c.proc.stdout, "stdout", out, lock), daemon=True),
                         threading.Thread(target=pump, args=(c.proc.stderr, "stderr", out, lock), daemon=True)]
        for t in c.log_threads:
            t.start()
        self.event("Started", f"Started container {c.name} as process {c.proc.pid}")

    def ensure_logs_object(self):
        body = {
            "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs",
            "metadata": {"name": self.name, "namespace": self.ns,
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": self.name,
                                              "uid": self.uid}]},
            "spec": {"logs": [{"containers": [c.name],
                               "logsFile": os.path.join(self.dir, f"{c.name}.log"),
                               "follow": True} for c in self.containers]},
        }
        try:
            self.shim.custom.create_namespaced_custom_object("kwok.x-k8s.io", "v1alpha1", self.ns, "logs", body)
        except ApiException as e:
            if e.status != 409:
                log.warning("%s/%s: cannot create its Logs object: %s %s", self.ns, self.name, e.status, e.reason)

    # -- probing

    def probe(self, c):
        p = c.spec.readiness_probe
        if p is None:
            return True
        if p.http_get is None:
            return True  # exec/tcpSocket probes are not run: counted as passing
        port = p.http_get.port
        port = getattr(port, "actual_instance", port)
        if isinstance(port, str) and not port.isdigit():
            port = next((cp.container_port for cp in c.spec.ports or [] if cp.name == port), None)
            if port is None:
                return False
        try:
            conn = http.client.HTTPConnection(self.pod_ip, int(port), timeout=p.timeout_seconds or 1)
            headers = {h.name: h.value for h in (p.http_get.http_headers or [])}
            conn.request("GET", p.http_get.path or "/", headers=headers)
            r = conn.getresponse()
            r.read()
            conn.close()
            return 200 <= r.status < 400
        except OSError:
            return False

    def step_probe(self, c):
        p = c.spec.readiness_probe
        if c.proc is None or c.proc.poll() is not None or time.monotonic() < c.next_probe:
            return
        c.next_probe = time.monotonic() + ((p.period_seconds or 10) if p else 10)
        ok = self.probe(c)
        if ok:
            c.failures = 0
            c.successes += 1
            if not c.ready and c.successes >= ((p.success_threshold or 1) if p else 1):
                c.ready = True
                log.info("%s/%s: %s ready", self.ns, self.name, c.name)
        else:
            c.successes = 0
            c.failures += 1
            if c.ready and c.failures >= ((p.failure_threshold or 3) if p else 3):
                c.ready = False
                log.info("%s/%s: %s not ready: its readiness probe failed %d times", self.ns, self.name, c.name, c.failures)
                self.event("Unhealthy", f"Readiness probe failed for {c.name}", "Warning")

    # -- the Pod's life

    def run(self):
        try:
            self.live()
        except Exception as e:  # noqa: BLE001 - a worker must never take the shim down
            log.exception("%s/%s: %s", self.ns, self.name, e)
            if not self.deleted.is_set():
                self.event("Failed", f"node shim: {e}", "Warning")
                self.phase = "Failed"
                for c in self.containers:
                    c.done = True
                    c.last_terminated = c.last_terminated or {
                        "exitCode": 128, "reason": "StartError", "message": str(e)[:500],
                        "startedAt": now_rfc3339(), "finishedAt": now_rfc3339()}
                self.send_status(force=True)
            self.stop_all(0)
            self.finish_deletion()
        finally:
            self.shim.forget(self.uid)
            if self.deleted.is_set() or self.terminating():
                shutil.rmtree(self.dir, ignore_errors=True)

    def terminating(self):
        pod = self.current()
        return pod.metadata.deletion_timestamp is not None

    def live(self):
        # Wait for kwok to assign the IP.
        while True:
            if self.deleted.is_set():
                return
            if self.terminating():
                self.finish_deletion()
                return
            pod = self.current()
            if pod.status and pod.status.pod_ip:
                self.pod_ip = pod.status.pod_ip
                break
            time.sleep(0.05)
        os.makedirs(self.dir, exist_ok=True)
        self.write_hosts()
        if self.shim.cluster_dns:
            self.write_resolv()
        self.ensure_logs_object()
        volumes = self.write_volumes()
        policy = self.current().spec.restart_policy or "Always"
        for c in self.containers:
            self.start_container(c, volumes)
        self.phase = "Running"
        self.send_status(force=True)
        while True:
            if self.deleted.is_set() or self.terminating():
                pod = self.current()
                grace = pod.metadata.deletion_grace_period_seconds
                self.stop_all(30 if grace is None else min(grace, 30))
                self.finish_deletion()
                return
            for c in self.containers:
                if c.proc is not None and c.proc.poll() is not None:
                    code = c.proc.returncode
                    for t in c.log_threads:
                        t.join(timeout=2)
                    if code < 0:  # killed by a signal
                        code = 128 - code
                    c.last_terminated = {
                        "exitCode": code, "reason": "Completed" if code == 0 else ("OOMKilled" if code == 137 else "Error"),
                        "startedAt": c.started_at, "finishedAt": now_rfc3339(),
                        "containerID": f"shim://{self.uid}/{c.name}/{c.proc.pid}"}
                    log.info("%s/%s: %s exited with %d", self.ns, self.name, c.name, code)
                    c.proc = None
                    c.ready = False
                    c.exit_code = code
                    if policy == "Never" or (policy == "OnFailure" and code == 0):
                        c.done = True
                    else:
                        backoff = min(10 * 2 ** c.restarts, 300)
                        c.next_start = time.monotonic() + backoff
                        self.event("BackOff", f"Back-off {backoff}s restarting failed container {c.name}", "Warning")
                elif c.proc is None and not c.done and time.monotonic() >= c.next_start:
                    c.restarts += 1
                    self.start_container(c, self.write_volumes())
                self.step_probe(c)
            if all(c.done for c in self.containers):
                self.phase = "Succeeded" if all(c.exit_code == 0 for c in self.containers) else "Failed"
                self.send_status(force=True)
                # A finished Pod stays until it is deleted (the Job controller or the namespace).
                while not (self.deleted.is_set() or self.terminating()):
                    time.sleep(0.1)
                self.finish_deletion()
                return
            self.send_status()
            time.sleep(0.1)

    def stop_all(self, grace):
        procs = [c.proc for c in self.containers if c.proc is not None and c.proc.poll() is None]
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            time.sleep(0.05)
        for p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        for c in self.containers:
            c.proc = None

    def finish_deletion(self):
        """The kubelet's last word: the Pod object goes once its processes are gone."""
        if self.deleted.is_set():
            return
        try:
            self.core().delete_namespaced_pod(
                self.name, self.ns,
                body=client.V1DeleteOptions(grace_period_seconds=0,
                                            preconditions=client.V1Preconditions(uid=self.uid)))
        except ApiException as e:
            if e.status not in (404, 409):
                log.warning("%s/%s: delete failed: %s %s", self.ns, self.name, e.status, e.reason)


def expand(s, env):
    """Kubernetes' $(VAR) expansion; $$(VAR) stays literal $(VAR)."""
    def sub(m):
        if m.group(0).startswith("$$"):
            return m.group(0)[1:]
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$\$\([A-Za-z_][A-Za-z0-9_]*\)|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", sub, s)


def bookmark_rv(ev, rv):
    raw = ev.get("raw_object") or (ev["object"] if isinstance(ev["object"], dict) else {})
    return (raw.get("metadata") or {}).get("resourceVersion") or rv


def pump(stream, name, out, lock):
    """Copies a process stream into the container log, in the CRI log format kwok reads."""
    for line in iter(stream.readline, b""):
        tag = b"F"
        if not line.endswith(b"\n"):
            tag = b"P"
        else:
            line = line[:-1]
        with lock:
            out.write(cri_stamp().encode() + b" " + name.encode() + b" " + tag + b" " + line + b"\n")
            out.flush()
    stream.close()


class Shim:
    def __init__(self, args):
        config.load_kube_config(config_file=args.kubeconfig)
        cfg = client.Configuration.get_default_copy()
        cfg.connection_pool_maxsize = 64
        self.api = client.ApiClient(cfg)
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.node = args.node
        self.state = args.state
        self.chaos_bin = args.chaos_bin
        self.cluster_dns = args.cluster_dns
        self.cluster_domain = args.cluster_domain
        self.bin_key = None
        self.bin_path = None
        self.services = Services()
        self.workers = {}
        self.lock = threading.Lock()
        self.services.listeners.append(self.services_changed)
        self.stopping = threading.Event()

    def binary(self):
        """The `chaos` binary as the Pods run it: a world-readable copy in the state dir (the
        Pods run as their runAsUser, who may not read the original's directory, e.g. /root),
        refreshed when the original changes, so a rebuild applies to the next Pod started."""
        st = os.stat(self.chaos_bin)
        key = f"{int(st.st_mtime_ns)}-{st.st_size}"
        with self.lock:
            if self.bin_key != key:
                d = os.path.join(self.state, "bin")
                os.makedirs(d, exist_ok=True)
                os.chmod(d, 0o755)
                dst = os.path.join(d, f"chaos-{key}")
                if not os.path.exists(dst):
                    shutil.copyfile(self.chaos_bin, dst + ".tmp")
                    os.chmod(dst + ".tmp", 0o755)
                    os.rename(dst + ".tmp", dst)
                self.bin_key, self.bin_path = key, dst
            return self.bin_path

    def services_changed(self, ns):
        with self.lock:
            workers = [w for w in self.workers.values() if w.pod_ip]
        for w in workers:
            try:
                w.write_hosts()
            except OSError:
                pass

    def forget(self, uid):
        with self.lock:
            self.workers.pop(uid, None)

    def watch_services(self):
        rv = None
        while not self.stopping.is_set():
            try:
                if rv is None:
                    lst = self.core.list_service_for_all_namespaces()
                    seen = set()
                    for s in lst.items:
                        ip = s.spec.cluster_ip if s.spec.cluster_ip not in (None, "None") else None
                        self.services.set(s.metadata.namespace, s.metadata.name, ip)
                        seen.add((s.metadata.namespace, s.metadata.name))
                    with self.services.lock:
                        stale = [(ns, n) for ns, m in self.services.by_ns.items() for n in m if (ns, n) not in seen]
                    for ns, n in stale:
                        self.services.set(ns, n, None)
                    rv = lst.metadata.resource_version
                for ev in watch.Watch().stream(self.core.list_service_for_all_namespaces,
                                               resource_version=rv, timeout_seconds=240,
                                               allow_watch_bookmarks=True):
                    if ev["type"] == "BOOKMARK":
                        rv = bookmark_rv(ev, rv)
                        continue
                    s = ev["object"]
                    rv = s.metadata.resource_version
                    ip = s.spec.cluster_ip if s.spec.cluster_ip not in (None, "None") else None
                    self.services.set(s.metadata.namespace, s.metadata.name,
                                      None if ev["type"] == "DELETED" else ip)
            except ApiException as e:
                if e.status == 410:
                    rv = None
                else:
                    log.warning("service watch: %s %s", e.status, e.reason)
                    time.sleep(1)
            except Exception as e:  # noqa: BLE001
                log.warning("service watch: %s", e)
                rv = None
                time.sleep(1)

    def handle(self, kind, pod):
        uid = pod.metadata.uid
        with self.lock:
            w = self.workers.get(uid)
            if kind == "DELETED":
                if w is not None:
                    w.update(pod)
                    w.gone()
                return
            if w is None:
                if pod.status and pod.status.phase in ("Succeeded", "Failed"):
                    return  # finished before this shim started
                w = PodWorker(self, pod)
                self.workers[uid] = w
                w.start()
            else:
                w.update(pod)

    def watch_pods(self):
        sel = f"spec.nodeName={self.node}"
        rv = None
        while not self.stopping.is_set():
            try:
                if rv is None:
                    lst = self.core.list_pod_for_all_namespaces(field_selector=sel)
                    live = set()
                    for p in lst.items:
                        live.add(p.metadata.uid)
                        self.handle("ADDED", p)
                    with self.lock:
                        vanished = [w for uid, w in self.workers.items() if uid not in live]
                    for w in vanished:
                        w.gone()
                    rv = lst.metadata.resource_version
                for ev in watch.Watch().stream(self.core.list_pod_for_all_namespaces, field_selector=sel,
                                               resource_version=rv, timeout_seconds=240,
                                               allow_watch_bookmarks=True):
                    if ev["type"] == "BOOKMARK":
                        rv = bookmark_rv(ev, rv)
                        continue
                    p = ev["object"]
                    rv = p.metadata.resource_version
                    self.handle(ev["type"], p)
            except ApiException as e:
                if e.status == 410:
                    rv = None
                else:
                    log.warning("pod watch: %s %s", e.status, e.reason)
                    time.sleep(1)
            except Exception as e:  # noqa: BLE001
                log.warning("pod watch: %s", e)
                rv = None
                time.sleep(1)

    def shutdown(self, *_):
        """Stops every Pod's process (the testbed is going down)."""
        self.stopping.set()
        with self.lock:
            workers = list(self.workers.values())
        for w in workers:
            w.stop_all(2)
        os._exit(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--node", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--chaos-bin", required=True)
    ap.add_argument("--cluster-dns", help="the cluster DNS Service IP for the Pods' resolv.conf; "
                    "without it /etc/hosts lists the Services instead")
    ap.add_argument("--cluster-domain", default="cluster.local")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    os.makedirs(os.path.join(args.state, "pods"), exist_ok=True)
    os.chmod(args.state, 0o755)
    shim = Shim(args)
    signal.signal(signal.SIGTERM, shim.shutdown)
    signal.signal(signal.SIGINT, shim.shutdown)
    threading.Thread(target=shim.watch_services, daemon=True, name="services").start()
    log.info("node shim for %s: every container runs %s", args.node, args.chaos_bin)
    shim.watch_pods()


if __name__ == "__main__":
    main()
