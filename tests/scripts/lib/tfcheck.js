#!/usr/bin/env node
// Static checks of the repository's Terraform, without terraform (which cannot be installed
// on the build machines): every .tf and .tfvars file parses (HashiCorp's HCL parser, through
// @cdktf/hcl2json), and the configurations hang together the way `terraform validate` would
// see it for these points:
//
//  - every module call's source resolves to a directory of .tf files (local paths), or is
//    pinned with a version (registry sources);
//  - every variable a module declares without a default is passed by each call, and every
//    argument a call passes is a variable the module declares;
//  - every `var.X` a configuration reads is declared, every `local.X` defined, every
//    `module.M.O` an output that module has;
//  - every root configuration (environments/*) pins terraform (required_version) and each
//    provider (source and version; azurerm "~> 4.0"), uses an azurerm backend with
//    use_oidc = true, and sets every variable without a default in terraform.tfvars (which
//    sets nothing undeclared);
//  - every provider a resource or data source uses is in the module's required_providers.
//
//   node tests/scripts/lib/tfcheck.js ROOT [ROOT...]   (each ROOT holds environments/ and modules/)
//
// Prints one line per problem ("file: message"; with several roots "ROOT: file: message")
// and exits 1 if there is any, else prints a summary and exits 0. Several roots are checked
// in one process because loading the HCL parser is the slow part.
"use strict";

const fs = require("fs");
const path = require("path");

const hcl = require(path.join(__dirname, "..", "..", "node_modules", "@cdktf", "hcl2json"));

let root = ".";
let problems = [];
const problem = (file, msg) => problems.push(`${path.relative(root, file) || file}: ${msg}`);

const META_ARGS = new Set(["source", "version", "providers", "count", "for_each", "depends_on"]);

function listDirs(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => path.join(dir, d.name)).sort();
}

function filesIn(dir, ext) {
  return fs.readdirSync(dir).filter((f) => f.endsWith(ext)).sort().map((f) => path.join(dir, f));
}

// Every string in a parsed document that holds an interpolation, for reference scanning.
function expressions(v, out = []) {
  if (typeof v === "string") {
    if (v.includes("${")) out.push(v);
  } else if (Array.isArray(v)) {
    v.forEach((x) => expressions(x, out));
  } else if (v && typeof v === "object") {
    Object.values(v).forEach((x) => expressions(x, out));
  }
  return out;
}

// hcl2json gives blocks as { label: [ {body} ] }; merge a directory's files into one module.
async function loadModule(dir) {
  const mod = { dir, files: [], variable: {}, output: {}, locals: {}, module: {}, resource: {}, data: {}, terraform: [], provider: {}, exprs: [] };
  const tfFiles = filesIn(dir, ".tf");
  for (const file of tfFiles) {
    let doc;
    try {
      doc = await hcl.parse(path.basename(file), fs.readFileSync(file, "utf8"));
    } catch (e) {
      problem(file, `does not parse: ${String(e.message || e).trim()}`);
      continue;
    }
    mod.files.push(file);
    for (const [name, blocks] of Object.entries(doc.variable || {})) mod.variable[name] = Object.assign({ file }, blocks[0]);
    for (const [name, blocks] of Object.entries(doc.output || {})) mod.output[name] = Object.assign({ file }, blocks[0]);
    for (const block of doc.locals || []) for (const name of Object.keys(block)) mod.locals[name] = file;
    for (const [name, blocks] of Object.entries(doc.module || {})) mod.module[name] = Object.assign({ file }, blocks[0]);
    for (const [type, byName] of Object.entries(doc.resource || {})) for (const name of Object.keys(byName)) mod.resource[`${type}.${name}`] = file;
    for (const [type, byName] of Object.entries(doc.data || {})) for (const name of Object.keys(byName)) mod.data[`${type}.${name}`] = file;
    for (const t of doc.terraform || []) mod.terraform.push(Object.assign({ file }, t));
    for (const name of Object.keys(doc.provider || {})) mod.provider[name] = file;
    for (const s of expressions(doc)) mod.exprs.push({ file, s });
  }
  if (tfFiles.length === 0) problem(dir, "no .tf files");
  return mod;
}

function requiredProviders(mod) {
  const out = {};
  for (const t of mod.terraform) {
    for (const block of t.required_providers || []) {
      for (const [name, spec] of Object.entries(block)) out[name] = { spec, file: t.file };
    }
  }
  return out;
}

function checkReferences(mod) {
  for (const { file, s } of mod.exprs) {
    for (const m of s.matchAll(/\bvar\.([A-Za-z_][A-Za-z0-9_-]*)/g)) {
      if (!mod.variable[m[1]]) problem(file, `reads var.${m[1]}, which is not declared`);
    }
    for (const m of s.matchAll(/\blocal\.([A-Za-z_][A-Za-z0-9_-]*)/g)) {
      if (!mod.locals[m[1]]) problem(file, `reads local.${m[1]}, which is not defined`);
    }
  }
}

function checkProvidersDeclared(mod) {
  const declared = requiredProviders(mod);
  const used = new Set();
  for (const addr of Object.keys(mod.resource).concat(Object.keys(mod.data))) used.add(addr.split("_")[0]);
  for (const p of used) {
    if (!declared[p]) problem(mod.dir, `uses the ${p} provider but does not list it in required_providers`);
  }
  for (const [name, { spec, file }] of Object.entries(declared)) {
    if (!spec || typeof spec !== "object" || !spec.source) problem(file, `required_providers.${name} has no source`);
  }
}

async function checkModuleCalls(mod, modules) {
  for (const [callName, call] of Object.entries(mod.module)) {
    const source = call.source;
    if (typeof source !== "string" || source === "") {
      problem(call.file, `module "${callName}" has no source`);
      continue;
    }
    if (source.startsWith("./") || source.startsWith("../")) {
      const target = path.resolve(mod.dir, source);
      if (!fs.existsSync(target) || !fs.statSync(target).isDirectory() || filesIn(target, ".tf").length === 0) {
        problem(call.file, `module "${callName}": source ${source} does not resolve to a directory of .tf files`);
        continue;
      }
      if (!modules.has(target)) modules.set(target, await loadModule(target));
      const child = modules.get(target);
      for (const [v, decl] of Object.entries(child.variable)) {
        if (!("default" in decl) && !(v in call)) problem(call.file, `module "${callName}" does not pass ${v}, which ${source} requires`);
      }
      for (const arg of Object.keys(call)) {
        if (arg === "file" || META_ARGS.has(arg)) continue;
        if (!child.variable[arg]) problem(call.file, `module "${callName}" passes ${arg}, which ${source} does not declare`);
      }
      // module.NAME.OUTPUT references must name outputs the module has.
      for (const { file, s } of mod.exprs) {
        for (const m of s.matchAll(new RegExp(`\\bmodule\\.${callName}\\.([A-Za-z_][A-Za-z0-9_-]*)`, "g"))) {
          if (!child.output[m[1]]) problem(file, `reads module.${callName}.${m[1]}, which ${source} does not output`);
        }
      }
    } else if (!call.version) {
      problem(call.file, `module "${callName}": registry source ${source} has no version`);
    }
  }
  for (const { file, s } of mod.exprs) {
    for (const m of s.matchAll(/\bmodule\.([A-Za-z_][A-Za-z0-9_-]*)/g)) {
      if (!mod.module[m[1]]) problem(file, `reads module.${m[1]}, which is not called here`);
    }
  }
}

async function checkRoot(mod) {
  const versions = mod.terraform.filter((t) => t.required_version);
  if (versions.length === 0) problem(mod.dir, "no terraform.required_version");
  const declared = requiredProviders(mod);
  if (Object.keys(declared).length === 0) problem(mod.dir, "no required_providers");
  for (const [name, { spec, file }] of Object.entries(declared)) {
    if (!spec || typeof spec !== "object" || !spec.version) problem(file, `provider ${name} is not pinned (no version constraint)`);
    else if (!/^\s*(~>|=|>=)/.test(spec.version)) problem(file, `provider ${name} version "${spec.version}" is not a pin (use ~> or an exact version)`);
  }
  if (declared.azurerm && declared.azurerm.spec.version !== "~> 4.0") problem(declared.azurerm.file, `azurerm must be "~> 4.0" (is "${declared.azurerm.spec.version}")`);
  for (const p of ["azurerm", "kubernetes", "helm"]) if (!declared[p]) problem(mod.dir, `provider ${p} is not in required_providers`);
  const backends = mod.terraform.flatMap((t) => Object.entries(t.backend ? t.backend[0] || t.backend : {}).map(([kind, body]) => ({ kind, body: Array.isArray(body) ? body[0] : body, file: t.file })));
  const azure = backends.find((b) => b.kind === "azurerm");
  if (!azure) problem(mod.dir, "no azurerm backend");
  else if (azure.body.use_oidc !== true) problem(azure.file, "the azurerm backend must set use_oidc = true");

  const tfvarsFile = path.join(mod.dir, "terraform.tfvars");
  if (!fs.existsSync(tfvarsFile)) {
    problem(mod.dir, "no terraform.tfvars");
    return;
  }
  let tfvars;
  try {
    tfvars = await hcl.parse("terraform.tfvars", fs.readFileSync(tfvarsFile, "utf8"));
  } catch (e) {
    problem(tfvarsFile, `does not parse: ${String(e.message || e).trim()}`);
    return;
  }
  for (const [v, decl] of Object.entries(mod.variable)) {
    if (!("default" in decl) && !(v in tfvars)) problem(tfvarsFile, `does not set ${v}, which has no default`);
  }
  for (const v of Object.keys(tfvars)) if (!mod.variable[v]) problem(tfvarsFile, `sets ${v}, which is not declared`);
}

async function checkTree() {
  const modules = new Map();
  const roots = listDirs(path.join(root, "environments"));
  if (roots.length === 0) problem(root, "no environments/*");
  for (const dir of listDirs(path.join(root, "modules"))) modules.set(dir, await loadModule(dir));
  const rootMods = [];
  for (const dir of roots) {
    const mod = await loadModule(dir);
    rootMods.push(mod);
    await checkRoot(mod);
    await checkModuleCalls(mod, modules);
  }
  for (const mod of modules.values()) await checkModuleCalls(mod, modules);
  for (const mod of rootMods.concat([...modules.values()])) {
    checkReferences(mod);
    checkProvidersDeclared(mod);
  }
  const nfiles = rootMods.concat([...modules.values()]).reduce((n, m) => n + m.files.length, 0);
  return `${rootMods.length} environments, ${modules.size} modules, ${nfiles} .tf files`;
}

async function main() {
  const roots = process.argv.slice(2);
  if (roots.length === 0) roots.push(".");
  let failed = 0;
  for (const r of roots) {
    root = path.resolve(r);
    problems = [];
    const summary = await checkTree();
    const prefix = roots.length > 1 ? `${r}: ` : "";
    if (problems.length) {
      failed++;
      for (const p of problems) console.log(prefix + p);
      console.log(`${prefix}tfcheck: ${problems.length} problem(s)`);
    } else {
      console.log(`${prefix}tfcheck: ${summary}: ok`);
    }
  }
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(`tfcheck: ${e.stack || e}`);
  process.exit(2);
});
