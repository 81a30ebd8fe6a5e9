#!/usr/bin/env node
// Validates SARIF files against the SARIF 2.1.0 JSON schema shipped by the npm package
// @microsoft/jest-sarif (lib/schemas/sarif-2.1.0-rtm.5.json: the schema GitHub code
// scanning validates uploads against, as published on schemastore.org).
//
// That schema is written in JSON Schema draft-04, which Ajv 8 does not load. It uses only
// keywords whose meaning did not change between draft-04 and draft-07 (type, properties,
// required, items, enum, minimum/maximum without the boolean exclusive forms, pattern,
// format, uniqueItems, minItems, additionalProperties, anyOf, oneOf, $ref, default) - this
// script checks that before it runs - so it is validated here as draft-07 after renaming its
// draft-04 "id" to "$id". Formats (uri, uri-reference, date-time) come from ajv-formats.
//
// usage: validate_sarif.js SCHEMA FILE...   exits 0 when every file is valid, 1 otherwise.
'use strict';
const fs = require('fs');
const path = require('path');

const nm = process.env.MLINFRA_NODE_MODULES || path.join(__dirname, '..', '..', 'node_modules');
const Ajv = require(path.join(nm, 'ajv')).default;
const addFormats = require(path.join(nm, 'ajv-formats'));

const [schemaPath, ...files] = process.argv.slice(2);
if (!schemaPath || files.length === 0) {
  console.error('usage: validate_sarif.js SCHEMA FILE...');
  process.exit(2);
}
const schema = JSON.parse(fs.readFileSync(schemaPath, 'utf8'));

// Only keywords that mean the same in draft-04 and draft-07 may appear.
const allowed = new Set(['$schema', 'id', 'title', 'description', 'type', 'properties',
  'definitions', 'required', 'items', 'enum', 'minimum', 'maximum', 'pattern', 'format',
  'uniqueItems', 'minItems', 'maxItems', 'minLength', 'maxLength', 'additionalProperties',
  'anyOf', 'oneOf', 'allOf', '$ref', 'default', 'patternProperties', 'dependencies', 'not']);
function check(node, where) {
  if (Array.isArray(node)) { node.forEach((n, i) => check(n, `${where}/${i}`)); return; }
  if (!node || typeof node !== 'object') return;
  for (const [k, v] of Object.entries(node)) {
    if (!allowed.has(k)) throw new Error(`schema keyword '${k}' at ${where} is not known to mean the same in draft-07`);
    if (k === 'properties' || k === 'definitions' || k === 'patternProperties') {
      for (const [name, sub] of Object.entries(v)) check(sub, `${where}/${k}/${name}`);
    } else if (k !== 'enum' && k !== 'default' && k !== 'required') {
      check(v, `${where}/${k}`);
    }
  }
}
check(schema, '#');
delete schema.$schema;
if (schema.id) { schema.$id = schema.id; delete schema.id; }

// unicodeRegExp: false - the schema's "language" pattern has a lone ']' that only non-unicode
// regular expressions accept (as Ajv 6, which @microsoft/jest-sarif itself uses, compiles it).
const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
addFormats(ajv);
const validate = ajv.compile(schema);

let bad = 0;
for (const f of files) {
  let doc;
  try {
    doc = JSON.parse(fs.readFileSync(f, 'utf8'));
  } catch (e) {
    console.error(`${f}: not JSON: ${e.message}`);
    bad++;
    continue;
  }
  if (validate(doc)) {
    console.log(`${f}: valid SARIF 2.1.0`);
  } else {
    bad++;
    console.error(`${f}: INVALID`);
    for (const e of validate.errors.slice(0, 20)) console.error(`  ${e.instancePath || '/'}: ${e.message} ${JSON.stringify(e.params)}`);
  }
}
process.exit(bad ? 1 : 0);
