#!/usr/bin/env node
// Sanity of the reference fixture plans, independent of the policy engine:
//  - each has the structure `terraform show -json` gives a saved plan (format 1.2);
//  - every resource change is in prior_state, every planned resource in resource_changes;
//  - the open-CORS regex of policies/mlflow.feature flags the CORS origins of the open-CORS
//    fixture and of the dev fixture, and no other (and behaves on a few sample lists);
//  - each fixture differs from the compliant one where its name says.
//   node check_fixtures.js ROOT
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.resolve(process.argv[2] || ".");
const dir = path.join(root, "tests", "fixtures", "plans");
const problems = [];
const problem = (f, m) => problems.push(`${f}: ${m}`);
const load = (f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));

const names = ["reference-compliant.json", "reference-forbidden-vm-size.json", "reference-open-cors-production.json", "reference-dev-open-cors.json"];
const plans = {};
for (const f of names) {
  let p;
  try {
    p = plans[f] = load(f);
  } catch (e) {
    problem(f, `does not load: ${e.message}`);
    continue;
  }
  if (p.format_version !== "1.2") problem(f, `format_version ${p.format_version}, expected 1.2`);
  for (const k of ["terraform_version", "variables", "planned_values", "resource_changes", "output_changes", "prior_state", "configuration", "relevant_attributes", "timestamp"]) {
    if (!(k in p)) problem(f, `no ${k}`);
  }
  const prior = new Set();
  for (const m of p.prior_state.values.root_module.child_modules || []) for (const r of m.resources) prior.add(r.address);
  const changed = new Set();
  for (const rc of p.resource_changes) {
    changed.add(rc.address);
    if (!Array.isArray(rc.change.actions) || rc.change.actions.length === 0) problem(f, `${rc.address}: no actions`);
    if (!prior.has(rc.address)) problem(f, `${rc.address} changes but is not in prior_state`);
    if (rc.change.actions[0] === "update" && JSON.stringify(rc.change.before) === JSON.stringify(rc.change.after) && JSON.stringify(rc.change.after_unknown) === "{}") {
      problem(f, `${rc.address}: an update that changes nothing`);
    }
  }
  for (const m of p.planned_values.root_module.child_modules || []) {
    for (const r of m.resources) if (!changed.has(r.address)) problem(f, `${r.address} planned but not in resource_changes`);
  }
  const calls = p.configuration.root_module.module_calls;
  for (const [name, call] of Object.entries(calls)) {
    if (!fs.existsSync(path.join(root, "environments", "production", call.source))) problem(f, `module ${name}: source ${call.source} does not exist from environments/production`);
  }
}

// The regex exactly as the feature file writes it, applied as terraform-compliance applies
// it (Python re.match, case-insensitive; JavaScript's dialect agrees for this pattern) to the
// CORS origins in the chart's values (JSON documents, decoded).
const feature = fs.readFileSync(path.join(root, "policies", "mlflow.feature"), "utf8");
const m = feature.match(/MLFLOW_SERVER_CORS_ALLOWED_ORIGINS\n\s*And its value must not match the "(.*)" regex/);
if (!m) {
  problem("policies/mlflow.feature", "no open-CORS regex step found");
} else {
  const re = new RegExp("^(?:" + m[1] + ")", "i"); // re.match: anchored at the start only
  const expected = { "reference-compliant.json": false, "reference-forbidden-vm-size.json": false, "reference-open-cors-production.json": true, "reference-dev-open-cors.json": true };
  for (const [f, p] of Object.entries(plans)) {
    const helm = p.resource_changes.find((rc) => rc.type === "helm_release");
    const docs = ((helm && helm.change.after && helm.change.after.values) || []).filter((v) => typeof v === "string").map((v) => JSON.parse(v));
    const origins = docs.map((d) => d.extraEnvVars && d.extraEnvVars.MLFLOW_SERVER_CORS_ALLOWED_ORIGINS).filter((v) => typeof v === "string");
    if (origins.length !== 1) problem(f, `expected one CORS setting in the helm values, found ${origins.length}`);
    const hit = origins.some((v) => re.test(v));
    if (hit !== expected[f]) problem(f, `the open-CORS regex ${hit ? "matches" : "does not match"} its CORS origins (${origins.join(" | ")})`);
  }
  for (const [value, open] of [["*", true], ["https://a.example.com,*", true], ["*,https://b.example.com", true], ["https://a.example.com", false], ["https://*.example.com", false], ["*.example.com", false]]) {
    if (re.test(value) !== open) problem("policies/mlflow.feature", `the open-CORS regex ${open ? "misses" : "flags"} ${value}`);
  }
}

const aks = (p) => p.resource_changes.find((rc) => rc.type === "azurerm_kubernetes_cluster").change.after;
if (plans["reference-forbidden-vm-size.json"] && aks(plans["reference-forbidden-vm-size.json"]).default_node_pool[0].vm_size !== "Standard_E16s_v5") {
  problem("reference-forbidden-vm-size.json", "the node pool is not on Standard_E16s_v5");
}
if (plans["reference-dev-open-cors.json"] && aks(plans["reference-dev-open-cors.json"]).tags.environment !== "dev") {
  problem("reference-dev-open-cors.json", "the cluster is not tagged environment=dev");
}
for (const f of names.slice(0, 3)) {
  if (plans[f] && aks(plans[f]).tags.environment !== "production") problem(f, "the cluster is not tagged environment=production");
}

if (problems.length) {
  problems.forEach((p) => console.log(p));
  console.log(`check_fixtures: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log(`check_fixtures: ${names.length} fixture plans ok`);
