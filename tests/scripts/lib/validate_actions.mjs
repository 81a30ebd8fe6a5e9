#!/usr/bin/env node
// Validates action and workflow files against GitHub's schemas with @action-validator/core
// (the library behind @action-validator/cli), several files in one process. As the CLI
// does, a file named action.yml or action.yaml is an action, anything else a workflow.
//   node validate_actions.mjs FILE...
// Prints "ok: FILE" or "invalid: FILE" followed by the errors; exits 1 if any is invalid.
import fs from "fs";
import path from "path";
import { createRequire } from "module";

const require = createRequire(import.meta.url);
const here = path.dirname(new URL(import.meta.url).pathname);
const core = require(path.join(here, "..", "..", "node_modules", "@action-validator", "core"));

let invalid = 0;
for (const file of process.argv.slice(2)) {
  const text = fs.readFileSync(file, "utf8");
  const isAction = /(^|\/)action\.ya?ml$/.test(file);
  const result = isAction ? core.validateAction(text) : core.validateWorkflow(text);
  if (result.errors.length) {
    invalid++;
    console.log(`invalid: ${file}`);
    console.log(JSON.stringify(result.errors, null, 1).split("\n").slice(0, 40).join("\n"));
  } else {
    console.log(`ok: ${file}`);
  }
}
process.exit(invalid ? 1 : 0);
