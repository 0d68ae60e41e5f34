// Validation of rendered Kubernetes objects against the API schemas.
//
// kubernetes-models' validate() checks types, enums and required fields from
// the Kubernetes OpenAPI schema, but (like that schema) lets unknown fields
// through, which an API server with strict field validation (kubectl's
// default) refuses. unknownFields() closes that gap by walking each object
// along the typed interfaces the same packages ship (.d.ts files).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.join(here, "node_modules");

// apiVersion -> [module directory, package]; core "v1" has no group.
function modelFile(apiVersion, kind) {
	if (apiVersion.startsWith("monitoring.coreos.com/"))
		return path.join(modules, "@kubernetes-models/prometheus-operator", apiVersion, kind);
	return path.join(modules, "kubernetes-models", apiVersion, kind);
}

// CRDs with no model package here: the external-snapshotter's v1 schema for
// VolumeSnapshotClass, written out (it has four fields).
const handSchemas = {
	"snapshot.storage.k8s.io/v1/VolumeSnapshotClass"(obj) {
		const errors = [];
		const allowed = ["apiVersion", "kind", "metadata", "driver", "deletionPolicy", "parameters"];
		for (const k of Object.keys(obj))
			if (!allowed.includes(k))
				errors.push(`unknown field "${k}"`);
		if (typeof obj.driver !== "string" || !obj.driver)
			errors.push("driver: required string");
		if (!["Delete", "Retain"].includes(obj.deletionPolicy))
			errors.push("deletionPolicy: must be Delete or Retain");
		if (obj.parameters !== undefined &&
		    (typeof obj.parameters !== "object" ||
		     Object.values(obj.parameters).some((v) => typeof v !== "string")))
			errors.push("parameters: must map strings to strings");
		if (typeof obj.metadata?.name !== "string")
			errors.push("metadata.name: required string");
		return errors;
	},
};

const dtsCache = new Map();

// The first interface of a .d.ts file: property name -> type text, and the
// files its imported type names come from.
function parseDts(file) {
	if (dtsCache.has(file))
		return dtsCache.get(file);
	let result = null;
	if (fs.existsSync(file)) {
		const text = fs.readFileSync(file, "utf8");
		const imports = {};
		for (const m of text.matchAll(/^import \{([^}]*)\} from "([^"]+)";/gm)) {
			let spec = m[2];
			spec = spec.startsWith(".") ? path.resolve(path.dirname(file), spec)
						    : path.join(modules, spec);
			spec = spec.replace(/\.js$/, "") + ".d.ts";
			for (const name of m[1].split(",").map((s) => s.trim()).filter(Boolean))
				imports[name] = spec;
		}
		const body = text.match(/^export interface \w+(?: extends [\w, ]+)? \{\n([\s\S]*?)^\}/m);
		if (body) {
			const props = {};
			const lines = body[1].split("\n");
			for (let i = 0; i < lines.length; i++) {
				const m = lines[i].match(/^ {4}"([^"]+)"\??: (.*)$/);
				if (!m)
					continue;
				let type = m[2];
				if (type === "{") { // a map: { [key: string]: T; }
					const v = lines[i + 1].match(/\[key: string\]: (.*);$/);
					type = v ? `Map<${v[1]}>` : "any";
				}
				props[m[1]] = type.replace(/;$/, "");
			}
			result = { props, imports };
		}
	}
	dtsCache.set(file, result);
	return result;
}

function checkValue(value, type, iface, where, errors) {
	let m;
	if ((m = type.match(/^Array<(.*)>$/))) {
		if (Array.isArray(value))
			value.forEach((v, i) => checkValue(v, m[1], iface, `${where}[${i}]`, errors));
	} else if ((m = type.match(/^Map<(.*)>$/))) {
		if (value && typeof value === "object")
			for (const [k, v] of Object.entries(value))
				checkValue(v, m[1], iface, `${where}.${k}`, errors);
	} else if (/^\w+$/.test(type) && iface.imports[type]) {
		const inner = parseDts(iface.imports[type]);
		if (inner && value && typeof value === "object" && !Array.isArray(value))
			checkObject(value, inner, where, errors);
	}
}

function checkObject(obj, iface, where, errors) {
	for (const [k, v] of Object.entries(obj)) {
		const type = iface.props[k];
		if (type === undefined) {
			errors.push(`${where}.${k}: unknown field`);
			continue;
		}
		checkValue(v, type, iface, `${where}.${k}`, errors);
	}
}

// Every problem with one object, as strings; empty when it is valid.
export async function validateObject(obj) {
	const id = `${obj.apiVersion}/${obj.kind}`;
	if (handSchemas[id])
		return handSchemas[id](obj);
	const file = modelFile(obj.apiVersion, obj.kind);
	if (!fs.existsSync(file + ".js"))
		return [`no schema known for ${id}`];
	const errors = [];
	const mod = await import(file + ".js");
	const Model = mod[obj.kind];
	try {
		new Model(obj).validate();
	} catch (e) {
		errors.push(...String(e.message).split("\n").filter(Boolean));
	}
	const iface = parseDts(file + ".d.ts");
	if (!iface)
		errors.push(`no interface for ${id}`);
	else
		checkObject(obj, iface, "", errors);
	return errors;
}
