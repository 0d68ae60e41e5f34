// check.mjs COMMAND ...: the node side of tests/helm (see tests/helm/run).
//   validate RENDERED                 every object against the API schemas
//   assert RENDERED VALUES...         what matters in the chart, for the merged values
//   schema-closed SCHEMA              every object in values.schema.json is closed
//   pod-template RENDERED KIND        the workload's pod template as canonical JSON
//   strip-generated < RENDERED        drop the chart-generated TLS Secret (deploy/)
//   daemonset-args RENDERED NODE IP   the node agent's command line as shell lines
// Output lines: "PASS name", "FAIL name: detail" (assert), or per command.
import fs from "node:fs";
import crypto from "node:crypto";
import YAML from "yaml";
import { validateObject } from "./k8s-schema.mjs";

const DRIVER = "csi.atomblk.io";
const READY_FILE = "/run/atomblk/ready";
const HOLD_SECONDS_DEFAULT = 300; // atom hold_secs: the longest a swap may park IO
const GRACE_MARGIN_SECONDS = 30; // verify + exit after the hold, generously

function loadDocs(file) {
	return YAML.parseAllDocuments(fs.readFileSync(file, "utf8"))
		.map((d) => d.toJS())
		.filter((o) => o && typeof o === "object");
}

const isMap = (v) => v && typeof v === "object" && !Array.isArray(v);

// Helm's merge: maps merge key by key, anything else is replaced.
function merge(base, over) {
	if (!isMap(base) || !isMap(over))
		return over;
	const out = { ...base };
	for (const [k, v] of Object.entries(over))
		out[k] = k in base ? merge(base[k], v) : v;
	return out;
}

const find = (objs, kind, pred = () => true) => objs.filter((o) => o.kind === kind && pred(o));
const one = (objs, kind, pred) => {
	const all = find(objs, kind, pred);
	if (all.length !== 1)
		throw new Error(`expected one ${kind}, found ${all.length}`);
	return all[0];
};
const container = (podSpec, name) => {
	const c = podSpec.containers.find((x) => x.name === name);
	if (!c)
		throw new Error(`no container ${name}`);
	return c;
};
const argValue = (c, flag) => {
	const a = (c.args || []).find((x) => x.startsWith(`${flag}=`));
	return a === undefined ? undefined : a.slice(flag.length + 1);
};
const labelsMatch = (selector, labels) =>
	Object.entries(selector || {}).every(([k, v]) => labels?.[k] === v);

// Kubernetes' $(VAR) expansion in args, from the container's env.
function expand(s, env) {
	return s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n) => (n in env ? env[n] : m));
}

// The allowed RBAC surface: what the provisioner, resizer and snapshotter
// sidecars use (group/resource -> verbs). Anything else is too wide.
const ALLOWED_CLUSTER_RULES = {
	"/persistentvolumes": ["get", "list", "watch", "create", "patch", "delete"],
	"/persistentvolumeclaims": ["get", "list", "watch", "update"],
	"/persistentvolumeclaims/status": ["patch"],
	"/events": ["list", "watch", "create", "update", "patch"],
	"/nodes": ["get", "list", "watch"],
	"/pods": ["get", "list", "watch"],
	"storage.k8s.io/storageclasses": ["get", "list", "watch"],
	"storage.k8s.io/csinodes": ["get", "list", "watch"],
	"snapshot.storage.k8s.io/volumesnapshots": ["get", "list"],
	"snapshot.storage.k8s.io/volumesnapshotcontents": ["get", "list", "watch", "update", "patch"],
	"snapshot.storage.k8s.io/volumesnapshotcontents/status": ["update", "patch"],
	"snapshot.storage.k8s.io/volumesnapshotclasses": ["get", "list", "watch"],
};
const ALLOWED_NAMESPACE_RULES = {
	"coordination.k8s.io/leases": ["get", "watch", "list", "delete", "update", "create"],
};

function assertions(objs, v) {
	const checks = [];
	const check = (name, fn) => checks.push([name, fn]);
	const ds = () => one(objs, "DaemonSet");
	const dep = () => one(objs, "Deployment");
	const nodePod = () => ds().spec.template;
	const agent = () => container(nodePod().spec, "agent");
	const agentEnv = () => Object.fromEntries((agent().env || [])
		.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
	const mountOf = (c, path) => (c.volumeMounts || []).find((m) => m.mountPath === path);
	const volumeOf = (pod, name) => pod.spec.volumes.find((x) => x.name === name);
	const hostPathAt = (path) => {
		const m = mountOf(agent(), path);
		if (!m)
			throw new Error(`agent has no mount at ${path}`);
		const vol = volumeOf(nodePod(), m.name);
		if (vol?.hostPath?.path !== path)
			throw new Error(`${path} is not the host's ${path}: ${JSON.stringify(vol)}`);
		return m;
	};
	const expectEq = (what, got, want) => {
		if (JSON.stringify(got) !== JSON.stringify(want))
			throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
	};

	check("node: RollingUpdate, maxSurge 0, maxUnavailable from values", () => {
		const s = ds().spec.updateStrategy;
		expectEq("type", s.type, "RollingUpdate");
		expectEq("maxSurge", s.rollingUpdate.maxSurge, 0);
		expectEq("maxUnavailable", s.rollingUpdate.maxUnavailable, v.node.maxUnavailable);
	});
	check("node: selector matches the pod template labels", () => {
		if (!labelsMatch(ds().spec.selector.matchLabels, nodePod().metadata.labels))
			throw new Error("selector does not select the template");
		if ("app.kubernetes.io/version" in ds().spec.selector.matchLabels)
			throw new Error("the selector holds the version: an upgrade could not select old pods");
	});
	check("node: agent privileged, host network", () => {
		expectEq("privileged", agent().securityContext?.privileged, true);
		expectEq("hostNetwork", nodePod().spec.hostNetwork, true);
	});
	check("node: kubelet dir mounted from the host with Bidirectional propagation", () => {
		const m = hostPathAt(v.kubeletDir);
		expectEq("mountPropagation", m.mountPropagation, "Bidirectional");
		expectEq("--kubelet-dir", argValue(agent(), "--kubelet-dir"), v.kubeletDir);
	});
	check("node: host /dev, /sys, /lib/modules, headers, /var/lib/atomblk, /run/atomblk", () => {
		for (const p of ["/dev", "/sys", "/lib/modules", v.node.kernelHeadersDir, "/var/lib/atomblk", "/run/atomblk"])
			hostPathAt(p);
		expectEq("/lib/modules read-only", mountOf(agent(), "/lib/modules").readOnly, true);
		// Debian's headers link their kbuild tools into /usr/lib: build-modules needs it.
		expectEq("host /usr/lib", volumeOf(nodePod(), mountOf(agent(), "/host/usr/lib").name).hostPath.path, "/usr/lib");
		expectEq("/host/usr/lib read-only", mountOf(agent(), "/host/usr/lib").readOnly, true);
		expectEq("--state-dir", argValue(agent(), "--state-dir"), "/var/lib/atomblk");
	});
	check("node: no other container gets Bidirectional propagation or privileges", () => {
		for (const c of nodePod().spec.containers.filter((c) => c.name !== "agent")) {
			if ((c.volumeMounts || []).some((m) => m.mountPropagation === "Bidirectional"))
				throw new Error(`${c.name} has a Bidirectional mount`);
			if (c.securityContext?.privileged)
				throw new Error(`${c.name} is privileged`);
		}
	});
	check("node: readiness and startup probes test the agent's ready file", () => {
		expectEq("--ready-file", argValue(agent(), "--ready-file"), READY_FILE);
		for (const probe of ["readinessProbe", "startupProbe"])
			expectEq(probe, agent()[probe]?.exec?.command, ["test", "-f", READY_FILE]);
		const startup = agent().startupProbe;
		if (startup.periodSeconds * startup.failureThreshold < v.node.startupTimeoutSeconds - startup.periodSeconds)
			throw new Error("startup probe shorter than node.startupTimeoutSeconds");
	});
	check("node: a stale ready file is removed before the agent starts", () => {
		const init = (nodePod().spec.initContainers || []).find((c) => c.name === "clear-ready");
		expectEq("clear-ready command", init?.command, ["rm", "-f", READY_FILE]);
	});
	check("node: grace period covers the worst-case swap (hold time + margin)", () => {
		const g = nodePod().spec.terminationGracePeriodSeconds;
		expectEq("terminationGracePeriodSeconds", g, v.node.terminationGracePeriodSeconds);
		if (g < HOLD_SECONDS_DEFAULT + GRACE_MARGIN_SECONDS)
			throw new Error(`grace ${g}s < ${HOLD_SECONDS_DEFAULT}s hold time + ${GRACE_MARGIN_SECONDS}s`);
	});
	check("node: nothing in preStop or postStart (never unload, never unmount)", () => {
		const all = [...nodePod().spec.containers, ...(nodePod().spec.initContainers || [])];
		for (const c of all) {
			const text = JSON.stringify(c);
			if (c.lifecycle)
				throw new Error(`${c.name} has lifecycle hooks: ${JSON.stringify(c.lifecycle)}`);
			if (/rmmod|modprobe -r|umount/.test(text))
				throw new Error(`${c.name} mentions unload/unmount: ${text}`);
		}
	});
	check("node: agent runs with the interface's flags", () => {
		const env = agentEnv();
		const args = agent().args.map((a) => expand(a, env));
		expectEq("--mode", argValue(agent(), "--mode"), "node");
		expectEq("--endpoint", args.find((a) => a.startsWith("--endpoint=")), "--endpoint=unix:///csi/csi.sock");
		expectEq("--log-level", argValue(agent(), "--log-level"), v.logLevel);
		const nodeId = agent().env.find((e) => e.name === "NODE_ID");
		expectEq("NODE_ID", nodeId?.valueFrom?.fieldRef?.fieldPath, "spec.nodeName");
		expectEq("--node-id", argValue(agent(), "--node-id"), "$(NODE_ID)");
		const metrics = v.metrics.enabled ? `:${v.metrics.port}` : "";
		expectEq("--metrics-addr", argValue(agent(), "--metrics-addr"), metrics);
		const on = v.storage.enabled;
		expectEq("--tcp-endpoint", argValue(agent(), "--tcp-endpoint"), undefined);
		expectEq("--target-endpoint", argValue(agent(), "--target-endpoint"),
			on ? `$(POD_IP):${v.storage.port}` : undefined);
		expectEq("--pool-dir", argValue(agent(), "--pool-dir"), on ? v.storage.poolDir : undefined);
		expectEq("--pool-capacity", argValue(agent(), "--pool-capacity"),
			on && v.storage.capacity ? v.storage.capacity : undefined);
		expectEq("--nvme-port", argValue(agent(), "--nvme-port"), on ? `${v.storage.nvmePort}` : undefined);
		expectEq("--nvme-rdma", argValue(agent(), "--nvme-rdma"), on ? v.storage.rdma : undefined);
		const pool = agent().volumeMounts.find((m) => m.mountPath === v.storage.poolDir);
		expectEq("pool mount", pool && volumeOf(nodePod(), pool.name).hostPath.path,
			on ? v.storage.poolDir : undefined);
	});
	check("node: registrar registers the agent's socket under the kubelet dir", () => {
		const reg = container(nodePod().spec, "node-driver-registrar");
		const plugin = `${v.kubeletDir}/plugins/${DRIVER}`;
		expectEq("registration path", argValue(reg, "--kubelet-registration-path"), `${plugin}/csi.sock`);
		expectEq("agent socket dir", volumeOf(nodePod(), mountOf(agent(), "/csi").name).hostPath.path, plugin);
		const regDir = volumeOf(nodePod(), mountOf(reg, "/registration").name);
		expectEq("registration dir", regDir.hostPath.path, `${v.kubeletDir}/plugins_registry`);
		container(nodePod().spec, "liveness-probe");
	});
	check("pods: sidecar images pinned from registry.k8s.io/sig-storage", () => {
		const pods = [nodePod(), dep().spec.template];
		for (const p of pods)
			for (const c of p.spec.containers.filter((c) => c.name !== "agent"))
				if (!/^registry\.k8s\.io\/sig-storage\/[a-z-]+:v\d+\.\d+\.\d+$/.test(c.image))
					throw new Error(`${c.name}: ${c.image}`);
	});
	check("pods: the agent image is repository:tag from values", () => {
		const want = `${v.image.repository}:${v.image.tag || v.appVersion}`;
		expectEq("node agent", agent().image, want);
		expectEq("controller agent", container(dep().spec.template.spec, "agent").image, want);
	});
	check("pods: every mount has a volume and every named probe port exists", () => {
		for (const pod of [nodePod(), dep().spec.template]) {
			const vols = new Set(pod.spec.volumes.map((x) => x.name));
			for (const c of [...pod.spec.containers, ...(pod.spec.initContainers || [])]) {
				for (const m of c.volumeMounts || [])
					if (!vols.has(m.name))
						throw new Error(`${c.name}: mount ${m.name} has no volume`);
				for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
					const port = probe?.httpGet?.port;
					if (typeof port === "string" && !(c.ports || []).some((p) => p.name === port))
						throw new Error(`${c.name}: probe port ${port} not declared`);
				}
			}
			const hostPorts = pod.spec.hostNetwork ? pod.spec.containers.flatMap((c) => (c.ports || []).map((p) => p.containerPort)) : [];
			if (new Set(hostPorts).size !== hostPorts.length)
				throw new Error(`host port clash: ${hostPorts}`);
		}
	});
	check("controller: provisioner (topology), resizer, snapshotter; no attacher", () => {
		const spec = dep().spec.template.spec;
		const names = spec.containers.map((c) => c.name).sort();
		const want = ["agent", "csi-provisioner", "csi-resizer", "liveness-probe"];
		if (v.snapshots.enabled)
			want.push("csi-snapshotter");
		expectEq("containers", names, want.sort());
		if (spec.containers.some((c) => /attacher/.test(c.image)))
			throw new Error("an attacher is deployed");
		const prov = container(spec, "csi-provisioner");
		if (!prov.args.includes("--feature-gates=Topology=true"))
			throw new Error("provisioner without Topology=true");
		for (const c of spec.containers.filter((c) => c.name.startsWith("csi-")))
			if (!c.args.includes("--leader-election"))
				throw new Error(`${c.name} without --leader-election`);
		expectEq("--mode", argValue(container(spec, "agent"), "--mode"), "controller");
		expectEq("replicas", dep().spec.replicas, v.controller.replicas);
	});
	check("csidriver: attachRequired false, persistent, fsGroupPolicy File", () => {
		const d = one(objs, "CSIDriver");
		expectEq("name", d.metadata.name, DRIVER);
		expectEq("attachRequired", d.spec.attachRequired, false);
		expectEq("modes", d.spec.volumeLifecycleModes, ["Persistent"]);
		expectEq("fsGroupPolicy", d.spec.fsGroupPolicy, "File");
	});
	check("rbac: no wildcards, no secrets, nothing beyond the sidecars' needs", () => {
		for (const role of [...find(objs, "ClusterRole"), ...find(objs, "Role")]) {
			const allowed = role.kind === "ClusterRole" ? ALLOWED_CLUSTER_RULES : ALLOWED_NAMESPACE_RULES;
			for (const rule of role.rules) {
				const all = [...rule.verbs, ...(rule.resources || []), ...(rule.apiGroups || [])];
				if (all.includes("*"))
					throw new Error(`${role.metadata.name}: wildcard in ${JSON.stringify(rule)}`);
				if (rule.nonResourceURLs || rule.resourceNames)
					throw new Error(`${role.metadata.name}: unexpected rule ${JSON.stringify(rule)}`);
				for (const g of rule.apiGroups)
					for (const r of rule.resources) {
						if (r === "secrets")
							throw new Error(`${role.metadata.name}: secrets access`);
						const ok = allowed[`${g}/${r}`];
						const extra = rule.verbs.filter((x) => !(ok || []).includes(x));
						if (extra.length)
							throw new Error(`${role.metadata.name}: ${g}/${r} ${extra} not needed`);
					}
			}
		}
	});
	check("rbac: bindings name only the controller's account; the node's has none", () => {
		const nodeSa = nodePod().spec.serviceAccountName;
		const ctrlSa = dep().spec.template.spec.serviceAccountName;
		for (const b of [...find(objs, "ClusterRoleBinding"), ...find(objs, "RoleBinding")]) {
			for (const s of b.subjects) {
				if (s.kind !== "ServiceAccount" || s.name !== ctrlSa)
					throw new Error(`${b.metadata.name} binds ${s.kind}/${s.name}`);
			}
			const role = one(objs, b.roleRef.kind, (r) => r.metadata.name === b.roleRef.name);
			if (!role)
				throw new Error(`${b.metadata.name}: no role`);
		}
		if (nodeSa === ctrlSa)
			throw new Error("node and controller share an account");
		one(objs, "ServiceAccount", (s) => s.metadata.name === nodeSa);
		expectEq("node token", nodePod().spec.automountServiceAccountToken, false);
	});
	check("storage: StorageClasses carry the values' parameters", () => {
		const classes = find(objs, "StorageClass");
		expectEq("names", classes.map((c) => c.metadata.name), v.storageClasses.map((c) => c.name));
		for (const want of v.storageClasses) {
			const sc = classes.find((c) => c.metadata.name === want.name);
			expectEq(`${want.name} provisioner`, sc.provisioner, DRIVER);
			expectEq(`${want.name} parameters`, sc.parameters, {
				replicas: String(want.replicas),
				"csi.storage.k8s.io/fstype": want.fsType,
				transport: want.transport,
				holdSeconds: String(want.holdSeconds ?? 300),
			});
			expectEq(`${want.name} default`,
				sc.metadata.annotations?.["storageclass.kubernetes.io/is-default-class"] === "true",
				!!want.default);
			expectEq(`${want.name} reclaimPolicy`, sc.reclaimPolicy, want.reclaimPolicy ?? "Delete");
			expectEq(`${want.name} binding`, sc.volumeBindingMode, want.volumeBindingMode ?? "WaitForFirstConsumer");
		}
	});
	check("storage: VolumeSnapshotClasses from values, for this driver", () => {
		const classes = find(objs, "VolumeSnapshotClass");
		const want = v.snapshots.enabled ? v.snapshots.classes : [];
		expectEq("names", classes.map((c) => c.metadata.name), want.map((c) => c.name));
		for (const c of classes)
			expectEq(`${c.metadata.name} driver`, c.driver, DRIVER);
	});
	check("storage: headless Service resolves to the node agents' target API", () => {
		const svcs = find(objs, "Service", (s) => s.spec.clusterIP === "None" &&
			s.spec.ports.some((p) => p.name === "target-api"));
		if (!v.storage.enabled) {
			expectEq("storage services", svcs.length, 0);
			return;
		}
		expectEq("storage services", svcs.length, 1);
		const svc = svcs[0];
		if (!labelsMatch(svc.spec.selector, nodePod().metadata.labels))
			throw new Error("the storage Service does not select the node pods");
		expectEq("port", svc.spec.ports[0].port, v.storage.port);
		const port = agent().ports.find((p) => p.name === svc.spec.ports[0].targetPort);
		expectEq("agent target port", port?.containerPort, v.storage.port);
		const ctrlEnv = container(dep().spec.template.spec, "agent").env;
		const addr = ctrlEnv.find((e) => e.name === "ATOMBLK_STORAGE_SERVICE")?.value;
		expectEq("controller's storage address", addr,
			`${svc.metadata.name}.${svc.metadata.namespace}.svc:${v.storage.port}`);
	});
	check("tls: agents mount the mTLS Secret; generated one is a valid CA-signed pair", () => {
		const secretName = volumeOf(nodePod(), mountOf(agent(), "/etc/atomblk/tls").name).secret.secretName;
		const ctrl = dep().spec.template;
		const ctrlTls = volumeOf(ctrl, mountOf(container(ctrl.spec, "agent"), "/etc/atomblk/tls").name);
		expectEq("controller secret", ctrlTls.secret.secretName, secretName);
		const secrets = find(objs, "Secret");
		if (v.tls.existingSecret) {
			expectEq("secret name", secretName, v.tls.existingSecret);
			expectEq("rendered secrets", secrets.length, 0);
			return;
		}
		const s = one(objs, "Secret", (x) => x.metadata.name === secretName);
		const pem = (k) => Buffer.from(s.data[k], "base64").toString();
		const ca = new crypto.X509Certificate(pem("ca.crt"));
		const cert = new crypto.X509Certificate(pem("tls.crt"));
		if (!cert.verify(ca.publicKey))
			throw new Error("tls.crt is not signed by ca.crt");
		if (!cert.checkPrivateKey(crypto.createPrivateKey(pem("tls.key"))))
			throw new Error("tls.key does not match tls.crt");
		if (v.storage.enabled) {
			const svc = one(objs, "Service", (x) => x.spec.ports.some((p) => p.name === "target-api"));
			const want = `${svc.metadata.name}.${svc.metadata.namespace}.svc`;
			if (!cert.subjectAltName.includes(`DNS:${want}`))
				throw new Error(`certificate SANs lack ${want}: ${cert.subjectAltName}`);
		}
	});
	check("metrics: ports, Services and ServiceMonitor follow values", () => {
		const metricSvcs = find(objs, "Service", (s) => s.metadata.labels?.["atomblk.io/metrics"] === "true");
		const monitors = find(objs, "ServiceMonitor");
		const pods = [nodePod(), dep().spec.template];
		const ports = pods.map((p) => container(p.spec, "agent").ports.find((x) => x.name === "metrics"));
		if (!v.metrics.enabled) {
			expectEq("metrics services", metricSvcs.length, 0);
			expectEq("monitors", monitors.length, 0);
			expectEq("metrics ports", ports.filter(Boolean).length, 0);
			return;
		}
		expectEq("metrics ports", ports.map((p) => p?.containerPort), [v.metrics.port, v.metrics.port]);
		for (const pod of pods)
			if (!metricSvcs.some((s) => labelsMatch(s.spec.selector, pod.metadata.labels)))
				throw new Error(`no metrics Service selects ${pod.metadata.labels["app.kubernetes.io/component"]} pods`);
		expectEq("monitors", monitors.length, v.metrics.serviceMonitor.enabled ? 1 : 0);
		for (const m of monitors) {
			for (const s of metricSvcs)
				if (!labelsMatch(m.spec.selector.matchLabels, s.metadata.labels))
					throw new Error(`ServiceMonitor does not select ${s.metadata.name}`);
			expectEq("endpoint port", m.spec.endpoints[0].port, "metrics");
			for (const [k, val] of Object.entries(v.metrics.serviceMonitor.labels || {}))
				expectEq(`label ${k}`, m.metadata.labels[k], val);
		}
	});
	check("labels: every object carries the conventional labels", () => {
		for (const o of objs)
			for (const k of ["app.kubernetes.io/name", "app.kubernetes.io/instance",
					 "app.kubernetes.io/managed-by", "app.kubernetes.io/version", "helm.sh/chart"])
				if (!o.metadata.labels?.[k])
					throw new Error(`${o.kind}/${o.metadata.name} lacks ${k}`);
	});
	check("helm test: a PVC from an atomblk class and a pod that verifies IO", () => {
		const hooks = objs.filter((o) => o.metadata.annotations?.["helm.sh/hook"] === "test");
		if (!v.test.enabled) {
			expectEq("test hooks", hooks.length, 0);
			return;
		}
		const pvc = one(hooks, "PersistentVolumeClaim");
		const pod = one(hooks, "Pod");
		expectEq("class", pvc.spec.storageClassName, v.test.storageClass || v.storageClasses[0].name);
		expectEq("claim", pod.spec.volumes.find((x) => x.persistentVolumeClaim)?.persistentVolumeClaim.claimName,
			pvc.metadata.name);
		expectEq("restartPolicy", pod.spec.restartPolicy, "Never");
		if (!/sha256sum/.test(JSON.stringify(pod.spec.containers[0].command)))
			throw new Error("the test pod does not verify what it wrote");
	});

	const out = [];
	for (const [name, fn] of checks) {
		try {
			fn();
			out.push(`PASS\t${name}`);
		} catch (e) {
			out.push(`FAIL\t${name}\t${e.message}`);
		}
	}
	return out;
}

function shq(s) {
	return `'${String(s).replace(/'/g, "'\\''")}'`;
}

// The node agent exactly as the DaemonSet runs it, for the VM rollout replay:
// env with field references resolved for this node, args after Kubernetes'
// $(VAR) expansion, host paths behind each mount, ready file, grace period.
function daemonsetArgs(objs, nodeName, podIp) {
	const ds = one(objs, "DaemonSet");
	const pod = ds.spec.template.spec;
	const agent = container(pod, "agent");
	const fields = { "spec.nodeName": nodeName, "status.podIP": podIp, "status.hostIP": podIp,
			 "metadata.namespace": ds.metadata.namespace, "metadata.name": `${ds.metadata.name}-replay` };
	const env = {};
	for (const e of agent.env || []) {
		if (e.value !== undefined)
			env[e.name] = expand(e.value, env);
		else if (e.valueFrom?.fieldRef)
			env[e.name] = fields[e.valueFrom.fieldRef.fieldPath] ?? "";
		else
			throw new Error(`env ${e.name}: unsupported source`);
	}
	const lines = [];
	lines.push(`ATOMBLK_AGENT_IMAGE=${shq(agent.image)}`);
	for (const [k, val] of Object.entries(env))
		lines.push(`export ${k}=${shq(val)}`);
	const argv = [...(agent.command || []), ...(agent.args || []).map((a) => expand(a, env))];
	lines.push(`ATOMBLK_AGENT_ARGS=(${argv.map(shq).join(" ")})`);
	const mounts = (agent.volumeMounts || []).map((m) => {
		const vol = pod.volumes.find((x) => x.name === m.name);
		const src = vol.hostPath ? vol.hostPath.path : `${Object.keys(vol).find((k) => k !== "name")}:${m.name}`;
		return `${src}:${m.mountPath}`;
	});
	lines.push(`ATOMBLK_AGENT_MOUNTS=(${mounts.map(shq).join(" ")})`);
	const init = (pod.initContainers || []).map((c) => [...(c.command || []), ...(c.args || [])].map(shq).join(" "));
	lines.push(`ATOMBLK_INIT_COMMANDS=(${init.map(shq).join(" ")})`);
	const ready = agent.readinessProbe?.exec?.command;
	lines.push(`ATOMBLK_READY_FILE=${shq(ready?.[2] ?? "")}`);
	lines.push(`ATOMBLK_GRACE_SECONDS=${pod.terminationGracePeriodSeconds ?? 30}`);
	return lines;
}

// Every object node of the values schema must be closed (additionalProperties
// false or a schema), except pass-throughs that say why in a description.
function schemaOpenSpots(node, where, out) {
	if (!isMap(node))
		return out;
	if (node.type === "object" && node.additionalProperties === undefined && !node.description)
		out.push(where || "/");
	if (node.additionalProperties === true)
		out.push(`${where}: additionalProperties true`);
	for (const [k, val] of Object.entries(node)) {
		if (isMap(val))
			schemaOpenSpots(val, `${where}/${k}`, out);
		else if (Array.isArray(val))
			val.forEach((x, i) => schemaOpenSpots(x, `${where}/${k}/${i}`, out));
	}
	return out;
}

async function main() {
	const [cmd, ...args] = process.argv.slice(2);
	switch (cmd) {
	case "validate": {
		let bad = 0;
		const objs = loadDocs(args[0]);
		for (const o of objs) {
			const errors = await validateObject(o);
			const id = `${o.kind}/${o.metadata?.name}`;
			if (errors.length) {
				bad++;
				for (const e of errors)
					console.log(`error ${id}: ${e}`);
			}
		}
		console.log(`${objs.length} objects, ${bad} invalid`);
		process.exit(bad || objs.length === 0 ? 1 : 0);
	}
	case "assert": {
		const [rendered, chartYaml, ...valueFiles] = args;
		const chart = YAML.parse(fs.readFileSync(chartYaml, "utf8"));
		let v = {};
		for (const f of valueFiles)
			v = merge(v, YAML.parse(fs.readFileSync(f, "utf8")) || {});
		v.appVersion = chart.appVersion;
		console.log(assertions(loadDocs(rendered), v).join("\n"));
		return;
	}
	case "schema-closed": {
		const open = schemaOpenSpots(JSON.parse(fs.readFileSync(args[0], "utf8")), "", []);
		for (const o of open)
			console.log(`open object at ${o}`);
		process.exit(open.length ? 1 : 0);
	}
	case "pod-template": {
		const w = one(loadDocs(args[0]), args[1]);
		console.log(JSON.stringify(w.spec.template));
		return;
	}
	case "strip-generated": {
		// Text level, so the rest stays byte for byte what helm printed.
		const text = fs.readFileSync(0, "utf8");
		const docs = text.split(/^---\n/m);
		const kept = docs.filter((d) => !/^\s+atomblk\.io\/generated-tls: "true"$/m.test(d));
		if (kept.length !== docs.length - 1)
			throw new Error(`expected one generated Secret, found ${docs.length - kept.length}`);
		process.stdout.write(kept.join("---\n"));
		return;
	}
	case "daemonset-args":
		console.log(daemonsetArgs(loadDocs(args[0]), args[1], args[2]).join("\n"));
		return;
	default:
		console.error("usage: check.mjs validate|assert|schema-closed|pod-template|strip-generated|daemonset-args ...");
		process.exit(2);
	}
}

main().catch((e) => {
	console.error(`check.mjs: ${e.message}`);
	process.exit(1);
});
