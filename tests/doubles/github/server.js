#!/usr/bin/env node
/*
 * GitHub REST double for mlinfra's tests.
 *
 * A stateful HTTP server on 127.0.0.1 that serves the endpoints the agent uses (issue comments,
 * the authenticated user, commit -> pulls, pulls, reviews, deployments and their statuses, the
 * repository) and checks EVERY request against GitHub's official OpenAPI description
 * (@octokit/openapi, generated/api.github.com.json): the method and path template must exist,
 * path and query parameters must match their schemas, the JSON body must validate against the
 * operation's requestBody schema, and Authorization, Accept and User-Agent must be present. A
 * request that does not conform is answered the way GitHub answers it (400, 401, 403, 404, 422)
 * and recorded as a violation, so a test can prove that the agent never sent one.
 *
 * The double also checks its own 2xx answers against the operation's response schema and
 * records any mismatch as a response error: the shapes the agent parses are GitHub's shapes.
 *
 * Test control lives under /_double/ (never validated, never recorded):
 *   GET  /_double/ready        compiles every validator, then answers (call once after start)
 *   POST /_double/reset        forgets all state, requests, violations and faults
 *   POST /_double/seed         adds users, tokens, repos, pulls, issues, comments, reviews
 *   GET  /_double/state        the whole state as JSON
 *   GET  /_double/requests     every recorded API request (token redacted)
 *   GET  /_double/violations   the violations and the double's own response errors
 *   POST /_double/fail         injects a fault for the next N requests matching a path
 *   DELETE /_double/fail       removes all faults
 * See README.md beside this file for the seed and fault formats.
 *
 * Usage: node server.js [--port N] [--web-url URL]
 * Listens on 127.0.0.1 only and prints "listening on 127.0.0.1:PORT" once ready.
 */
'use strict';

const http = require('http');
const path = require('path');

const MODULES = path.join(__dirname, '..', '..', 'node_modules');
const Ajv = require(path.join(MODULES, 'ajv')).default;
const addFormats = require(path.join(MODULES, 'ajv-formats')).default;
const SPEC_FILE = path.join(MODULES, '@octokit', 'openapi', 'generated', 'api.github.com.json');

/* ---- arguments ------------------------------------------------------------------------------ */

function parseArgs(argv) {
  const o = { port: 0, webUrl: 'https://github.com' };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') o.port = Number(argv[++i]);
    else if (a === '--web-url') o.webUrl = argv[++i];
    else {
      process.stderr.write(`github double: unknown argument ${a}\n`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
    process.stderr.write('github double: --port wants a number 0..65535\n');
    process.exit(2);
  }
  return o;
}

const ARGS = parseArgs(process.argv);
const SUPPORTED_API_VERSIONS = ['2022-11-28', '2026-03-10'];
const DOCS = 'https://docs.github.com/rest';
const MAX_BODY = 25 * 1024 * 1024;

/* ---- the OpenAPI description ---------------------------------------------------------------- */

const spec = require(SPEC_FILE);
const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, logger: false });
addFormats(ajv);
/* The components are added once under the id "gh"; every schema taken from an operation has its
 * "#/components/..." references rewritten to "gh#/components/...", so they resolve there. */
ajv.addSchema({ $id: 'gh', components: { schemas: spec.components.schemas } });

function rewriteRefs(node) {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node && typeof node === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')) out[k] = 'gh' + v;
      else out[k] = rewriteRefs(v);
    }
    return out;
  }
  return node;
}

function resolve(node) {
  /* Follows a local reference ("#/components/parameters/per-page") to what it names. */
  while (node && node.$ref) {
    const parts = node.$ref.replace(/^#\//, '').split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    let cur = spec;
    for (const p of parts) cur = cur[p];
    node = cur;
  }
  return node;
}

const validatorCache = new Map();
function validator(key, schema) {
  let v = validatorCache.get(key);
  if (!v) {
    v = ajv.compile(rewriteRefs(schema));
    validatorCache.set(key, v);
  }
  return v;
}

function escapeRegex(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/* One route per (method, path template) of the description. */
const routes = [];
for (const [template, item] of Object.entries(spec.paths)) {
  for (const method of ['get', 'put', 'post', 'patch', 'delete', 'head', 'options']) {
    const op = item[method];
    if (!op) continue;
    const params = [...(item.parameters || []), ...(op.parameters || [])].map(resolve);
    const names = [];
    let literals = 0;
    const source = template
      .split('/')
      .map((seg) => {
        if (!seg.includes('{')) {
          literals++;
          return escapeRegex(seg);
        }
        return seg
          .split(/(\{[^}]+\})/)
          .map((piece) => {
            const m = /^\{([^}]+)\}$/.exec(piece);
            if (!m) return escapeRegex(piece);
            names.push(m[1]);
            const p = params.find((x) => x.in === 'path' && x.name === m[1]);
            return p && p['x-multi-segment'] ? '(.+)' : '([^/]+)';
          })
          .join('');
      })
      .join('/');
    routes.push({ method: method.toUpperCase(), template, regex: new RegExp(`^${source}$`), names, literals, op, params });
  }
}

function matchRoute(method, pathname) {
  const hits = [];
  for (const r of routes) {
    const m = r.regex.exec(pathname);
    if (m) hits.push({ r, m });
  }
  if (hits.length === 0) return { error: 'path' };
  const same = hits.filter((h) => h.r.method === method);
  if (same.length === 0) return { error: 'method', allowed: [...new Set(hits.map((h) => h.r.method))] };
  same.sort((a, b) => b.r.literals - a.r.literals);
  const { r, m } = same[0];
  const pathParams = {};
  r.names.forEach((n, i) => {
    try {
      pathParams[n] = decodeURIComponent(m[i + 1]);
    } catch (e) {
      pathParams[n] = m[i + 1];
    }
  });
  return { route: r, pathParams };
}

/* Turns a parameter's text into the type its schema wants; undefined when it cannot. */
function coerce(text, schema) {
  schema = resolve(schema) || {};
  const type = schema.type;
  if (type === 'integer') return /^-?\d+$/.test(text) ? Number(text) : undefined;
  if (type === 'number') return text !== '' && !Number.isNaN(Number(text)) ? Number(text) : undefined;
  if (type === 'boolean') return text === 'true' ? true : text === 'false' ? false : undefined;
  if (type === 'array') return text.split(',');
  return text;
}

function ajvText(errors) {
  return (errors || [])
    .slice(0, 5)
    .map((e) => `${e.instancePath || '(root)'} ${e.message}${e.params && e.params.allowedValues ? ' ' + JSON.stringify(e.params.allowedValues) : ''}`)
    .join('; ');
}

/* ---- state ---------------------------------------------------------------------------------- */

let state;
let requests;
let violations;
let responseErrors;
let faults;
let seq;
let generation = 0;

function resetState() {
  generation++;
  state = {
    users: new Map(), // login -> user
    tokens: new Map(), // token -> { login, installation, permissions }
    repos: new Map(), // "owner/name" (lower case) -> repo
    comments: new Map(), // id -> comment
    nextId: 1000,
    nextCommentId: 1000001,
    nextDeploymentId: 5001,
    nextStatusId: 9001,
    rate: { limit: 5000, used: 0 },
    linkBase: null, // overrides the scheme://host of pagination links (tests of the agent's host check)
  };
  requests = [];
  violations = [];
  responseErrors = [];
  faults = [];
  seq = 0;
}
resetState();

function now() {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function ensureUser(login, type) {
  let u = state.users.get(login);
  if (!u) {
    u = { login, id: state.nextId++, type: type || (login.endsWith('[bot]') ? 'Bot' : 'User'), name: null };
    state.users.set(login, u);
  } else if (type) {
    u.type = type;
  }
  return u;
}

function repoKey(owner, name) {
  return `${owner}/${name}`.toLowerCase();
}

function seedRepo(r) {
  const [owner, name] = (r.full_name || `${r.owner}/${r.name}`).split('/');
  if (!owner || !name) throw new Error('repo needs full_name "owner/name"');
  const key = repoKey(owner, name);
  let repo = state.repos.get(key);
  if (!repo) {
    ensureUser(owner, r.owner_type || 'Organization');
    repo = {
      id: state.nextId++,
      owner,
      name,
      private: false,
      default_branch: 'main',
      branches: {},
      commits: new Set(),
      issues: new Map(), // number -> { number, title, user, pull }
      pulls: new Map(), // number -> pull
      commit_pulls: {}, // sha -> [numbers], overrides the computed association
      reviews: new Map(), // pull number -> [review]
      deployments: [],
    };
    state.repos.set(key, repo);
  }
  if (r.default_branch) repo.default_branch = r.default_branch;
  if (r.private !== undefined) repo.private = !!r.private;
  Object.assign(repo.branches, r.branches || {});
  for (const sha of r.commits || []) repo.commits.add(sha);
  Object.assign(repo.commit_pulls, r.commit_pulls || {});
  for (const i of r.issues || []) {
    const prev = repo.issues.get(i.number) || {};
    repo.issues.set(i.number, { number: i.number, title: i.title || prev.title || `Issue ${i.number}`, user: i.user || prev.user || owner, pull: false });
    ensureUser(i.user || owner);
  }
  for (const p of r.pulls || []) seedPull(repo, p);
  for (const c of r.comments || []) {
    const count = c.count || 1;
    for (let k = 0; k < count; k++) {
      const body = count > 1 ? String(c.body || 'comment {i}').replace(/\{i\}/g, String(k + 1)) : c.body || '';
      addComment(repo, c.issue, c.user, body);
    }
  }
  for (const rv of r.reviews || []) {
    const pull = repo.pulls.get(rv.pull);
    if (!pull) throw new Error(`review for unknown pull ${rv.pull}`);
    ensureUser(rv.user);
    const list = repo.reviews.get(rv.pull) || [];
    list.push({
      id: state.nextId++,
      user: rv.user,
      state: rv.state || 'APPROVED',
      body: rv.body || '',
      commit_id: rv.commit_id || pull.head_sha,
      submitted_at: rv.submitted_at || now(),
    });
    repo.reviews.set(rv.pull, list);
  }
  return repo;
}

function seedPull(repo, p) {
  if (!Number.isInteger(p.number)) throw new Error('pull needs an integer number');
  const prev = repo.pulls.get(p.number);
  const pull = Object.assign(
    prev || {
      number: p.number,
      id: state.nextId++,
      title: `Pull request ${p.number}`,
      user: repo.owner,
      state: 'open',
      draft: false,
      head_ref: `feature-${p.number}`,
      head_sha: null,
      head_repo: `${repo.owner}/${repo.name}`,
      base_ref: repo.default_branch,
      base_sha: null,
      merged: false,
      merged_at: null,
      merge_commit_sha: null,
      commits: [],
      rebased_commits: [],
      created_at: now(),
    },
    p
  );
  if (p.merged && !pull.merged_at) pull.merged_at = now();
  if (pull.merged) pull.state = 'closed';
  if (!pull.head_sha) throw new Error(`pull ${p.number} needs head_sha`);
  if (!pull.commits.includes(pull.head_sha)) pull.commits.push(pull.head_sha);
  repo.pulls.set(p.number, pull);
  repo.issues.set(p.number, { number: p.number, title: pull.title, user: pull.user, pull: true });
  ensureUser(pull.user);
  for (const sha of [...pull.commits, ...pull.rebased_commits, pull.merge_commit_sha, pull.base_sha]) if (sha) repo.commits.add(sha);
  return pull;
}

function addComment(repo, issueNumber, login, body) {
  if (!repo.issues.has(issueNumber)) throw new Error(`comment on unknown issue ${issueNumber}`);
  ensureUser(login);
  const t = now();
  const c = { id: state.nextCommentId++, repo: repoKey(repo.owner, repo.name), issue: issueNumber, user: login, body, created_at: t, updated_at: t };
  state.comments.set(c.id, c);
  return c;
}

function seed(doc) {
  if (doc.link_base !== undefined) state.linkBase = doc.link_base;
  for (const u of doc.users || []) {
    const user = ensureUser(u.login, u.type);
    if (u.name !== undefined) user.name = u.name;
  }
  for (const t of doc.tokens || []) {
    if (!t.token || !t.login) throw new Error('token needs token and login');
    ensureUser(t.login, t.installation ? 'Bot' : undefined);
    state.tokens.set(t.token, { login: t.login, installation: !!t.installation, permissions: t.permissions || null });
  }
  for (const r of doc.repos || []) seedRepo(r);
}

/* ---- GitHub-shaped objects ------------------------------------------------------------------ */

/* A minimal instance of a schema: every required property with a plausible value. The handlers
 * then overlay the values they know, so the answer keeps GitHub's full shape. */
function synth(schema, depth) {
  schema = resolve(schema);
  if (!schema || depth > 14) return null;
  if (schema.allOf) return Object.assign({}, ...schema.allOf.map((s) => synth(s, depth + 1)));
  if (schema.oneOf) return synth(schema.oneOf[0], depth + 1);
  if (schema.anyOf) return synth(schema.anyOf[0], depth + 1);
  if (schema.nullable && depth > 0) return null;
  if (schema.enum) return schema.enum.find((e) => e !== null);
  switch (schema.type) {
    case 'object': {
      const o = {};
      for (const k of schema.required || []) o[k] = synth((schema.properties || {})[k] || {}, depth + 1);
      return o;
    }
    case 'array':
      return [];
    case 'integer':
    case 'number':
      return 0;
    case 'boolean':
      return false;
    case 'string':
      if (schema.format === 'date-time') return now();
      if (schema.format === 'uri' || schema.format === 'uri-template') return 'https://api.github.com/';
      if (schema.format === 'email') return 'noreply@github.com';
      return '';
    default:
      return null;
  }
}

const synthCache = new Map();
function make(component, values) {
  let base = synthCache.get(component);
  if (!base) {
    base = synth(spec.components.schemas[component], 0);
    synthCache.set(component, base);
  }
  return Object.assign(JSON.parse(JSON.stringify(base)), values);
}

function userObject(ctx, login) {
  const u = ensureUser(login);
  const api = `${ctx.base}/users/${encodeURIComponent(login)}`;
  return make('simple-user', {
    login: u.login,
    id: u.id,
    node_id: `MDQ6VXNlcj${u.id}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${u.id}?v=4`,
    gravatar_id: '',
    url: api,
    html_url: `${ARGS.webUrl}/${encodeURIComponent(login)}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type: u.type,
    site_admin: false,
    user_view_type: 'public',
  });
}

function repoApi(ctx, repo) {
  return `${ctx.base}/repos/${repo.owner}/${repo.name}`;
}

function repoObject(ctx, repo, component) {
  const api = repoApi(ctx, repo);
  const values = {
    id: repo.id,
    node_id: `R_kgDO${repo.id}`,
    name: repo.name,
    full_name: `${repo.owner}/${repo.name}`,
    owner: userObject(ctx, repo.owner),
    private: repo.private,
    visibility: repo.private ? 'private' : 'public',
    html_url: `${ARGS.webUrl}/${repo.owner}/${repo.name}`,
    url: api,
    default_branch: repo.default_branch,
    clone_url: `${ARGS.webUrl}/${repo.owner}/${repo.name}.git`,
    git_url: `git://github.com/${repo.owner}/${repo.name}.git`,
    ssh_url: `git@github.com:${repo.owner}/${repo.name}.git`,
    svn_url: `${ARGS.webUrl}/${repo.owner}/${repo.name}`,
    deployments_url: `${api}/deployments`,
    pulls_url: `${api}/pulls{/number}`,
    issues_url: `${api}/issues{/number}`,
    has_issues: true,
  };
  return make(component || 'repository', values);
}

function commentObject(ctx, c) {
  const repo = state.repos.get(c.repo);
  const issue = repo.issues.get(c.issue);
  const api = repoApi(ctx, repo);
  return make('issue-comment', {
    id: c.id,
    node_id: `IC_kwDO${c.id}`,
    url: `${api}/issues/comments/${c.id}`,
    html_url: `${ARGS.webUrl}/${repo.owner}/${repo.name}/${issue.pull ? 'pull' : 'issues'}/${c.issue}#issuecomment-${c.id}`,
    body: c.body,
    user: userObject(ctx, c.user),
    created_at: c.created_at,
    updated_at: c.updated_at,
    issue_url: `${api}/issues/${c.issue}`,
    author_association: c.user === repo.owner ? 'OWNER' : 'NONE',
    performed_via_github_app: null,
  });
}

function pullObject(ctx, repo, pull, component) {
  const api = repoApi(ctx, repo);
  const html = `${ARGS.webUrl}/${repo.owner}/${repo.name}/pull/${pull.number}`;
  const [headOwner, headName] = (pull.head_repo || '').split('/');
  const headRepo = pull.head_repo
    ? repoObject(ctx, state.repos.get(repoKey(headOwner, headName)) || { ...repo, owner: headOwner, name: headName, id: repo.id + 1 })
    : null;
  const values = {
    id: pull.id,
    node_id: `PR_kwDO${pull.id}`,
    number: pull.number,
    url: `${api}/pulls/${pull.number}`,
    html_url: html,
    diff_url: `${html}.diff`,
    patch_url: `${html}.patch`,
    issue_url: `${api}/issues/${pull.number}`,
    commits_url: `${api}/pulls/${pull.number}/commits`,
    review_comments_url: `${api}/pulls/${pull.number}/comments`,
    review_comment_url: `${api}/pulls/comments{/number}`,
    comments_url: `${api}/issues/${pull.number}/comments`,
    statuses_url: `${api}/statuses/${pull.head_sha}`,
    state: pull.state,
    locked: false,
    title: pull.title,
    body: pull.body === undefined ? null : pull.body,
    user: userObject(ctx, pull.user),
    labels: [],
    milestone: null,
    assignee: null,
    active_lock_reason: null,
    created_at: pull.created_at,
    updated_at: pull.merged_at || pull.created_at,
    closed_at: pull.state === 'closed' ? pull.merged_at || pull.created_at : null,
    merged_at: pull.merged_at,
    merge_commit_sha: pull.merge_commit_sha,
    draft: !!pull.draft,
    head: { label: `${headOwner || repo.owner}:${pull.head_ref}`, ref: pull.head_ref, sha: pull.head_sha, user: userObject(ctx, headOwner || repo.owner), repo: headRepo },
    base: { label: `${repo.owner}:${pull.base_ref}`, ref: pull.base_ref, sha: pull.base_sha || '0'.repeat(40), user: userObject(ctx, repo.owner), repo: repoObject(ctx, repo) },
    _links: {
      self: { href: `${api}/pulls/${pull.number}` },
      html: { href: html },
      issue: { href: `${api}/issues/${pull.number}` },
      comments: { href: `${api}/issues/${pull.number}/comments` },
      review_comments: { href: `${api}/pulls/${pull.number}/comments` },
      review_comment: { href: `${api}/pulls/comments{/number}` },
      commits: { href: `${api}/pulls/${pull.number}/commits` },
      statuses: { href: `${api}/statuses/${pull.head_sha}` },
    },
    author_association: 'CONTRIBUTOR',
    auto_merge: null,
  };
  if (component === 'pull-request') {
    Object.assign(values, {
      merged: !!pull.merged,
      mergeable: pull.state === 'open' ? true : null,
      mergeable_state: pull.state === 'open' ? 'clean' : 'unknown',
      merged_by: pull.merged ? userObject(ctx, pull.merged_by || repo.owner) : null,
      comments: [...state.comments.values()].filter((c) => c.repo === repoKey(repo.owner, repo.name) && c.issue === pull.number).length,
      review_comments: 0,
      maintainer_can_modify: false,
      commits: pull.commits.length,
      additions: 0,
      deletions: 0,
      changed_files: 0,
    });
  }
  return make(component || 'pull-request-simple', values);
}

function reviewObject(ctx, repo, pullNumber, rv) {
  const api = repoApi(ctx, repo);
  const html = `${ARGS.webUrl}/${repo.owner}/${repo.name}/pull/${pullNumber}#pullrequestreview-${rv.id}`;
  return make('pull-request-review', {
    id: rv.id,
    node_id: `PRR_kwDO${rv.id}`,
    user: userObject(ctx, rv.user),
    body: rv.body,
    state: rv.state,
    html_url: html,
    pull_request_url: `${api}/pulls/${pullNumber}`,
    _links: { html: { href: html }, pull_request: { href: `${api}/pulls/${pullNumber}` } },
    submitted_at: rv.submitted_at,
    commit_id: rv.commit_id,
    author_association: 'COLLABORATOR',
  });
}

function deploymentObject(ctx, repo, d) {
  const api = repoApi(ctx, repo);
  return make('deployment', {
    url: `${api}/deployments/${d.id}`,
    id: d.id,
    node_id: `DE_kwDO${d.id}`,
    sha: d.sha,
    ref: d.ref,
    task: d.task,
    payload: d.payload,
    original_environment: d.environment,
    environment: d.environment,
    description: d.description,
    creator: userObject(ctx, d.creator),
    created_at: d.created_at,
    updated_at: d.updated_at,
    statuses_url: `${api}/deployments/${d.id}/statuses`,
    repository_url: api,
    transient_environment: d.transient_environment,
    production_environment: d.production_environment,
  });
}

function statusObject(ctx, repo, d, s) {
  const api = repoApi(ctx, repo);
  return make('deployment-status', {
    url: `${api}/deployments/${d.id}/statuses/${s.id}`,
    id: s.id,
    node_id: `DES_kwDO${s.id}`,
    state: s.state,
    creator: userObject(ctx, s.creator),
    description: s.description,
    environment: s.environment,
    /* GitHub answers "" for an unset target URL; the description says format uri, so the
     * double points at the repository's deployments page instead and omits log_url. */
    target_url: s.log_url || `${ARGS.webUrl}/${repo.owner}/${repo.name}/deployments`,
    ...(s.log_url ? { log_url: s.log_url } : {}),
    ...(s.environment_url ? { environment_url: s.environment_url } : {}),
    created_at: s.created_at,
    updated_at: s.created_at,
    deployment_url: `${api}/deployments/${d.id}`,
    repository_url: api,
  });
}

/* ---- answering ------------------------------------------------------------------------------ */

function errorBody(status, message, docs, extra) {
  return Object.assign({ message, documentation_url: docs || DOCS, status: String(status) }, extra || {});
}

function rateHeaders() {
  state.rate.used++;
  return {
    'x-ratelimit-limit': String(state.rate.limit),
    'x-ratelimit-remaining': String(Math.max(0, state.rate.limit - state.rate.used)),
    'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
    'x-ratelimit-used': String(state.rate.used),
    'x-ratelimit-resource': 'core',
  };
}

function send(ctx, status, body, headers) {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  const h = Object.assign(
    {
      'content-type': typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8',
      'x-github-media-type': 'github.v3; format=json',
      'x-github-api-version-selected': SUPPORTED_API_VERSIONS[0],
      'x-github-request-id': `DOUBLE:${ctx.record ? ctx.record.seq : 0}`,
      'content-length': String(Buffer.byteLength(text)),
    },
    ctx.admin ? {} : rateHeaders(),
    headers || {}
  );
  if (ctx.record) ctx.record.status = status;
  if (ctx.swallow) {
    /* drop_after: the request took effect, but its answer is lost on the way. */
    ctx.record.status = `dropped after ${status}`;
    ctx.req.socket.destroy();
    return;
  }
  ctx.res.writeHead(status, h);
  ctx.res.end(text);
  if (!ctx.admin && ctx.route && status >= 200 && status < 300 && body !== undefined) checkResponse(ctx, status, body);
}

/* The double's own honesty check: a 2xx answer must match the response schema. */
function checkResponse(ctx, status, body) {
  const resp = resolve(ctx.route.op.responses[String(status)]);
  const schema = resp && resp.content && resp.content['application/json'] && resp.content['application/json'].schema;
  if (!schema) {
    responseErrors.push({ seq: ctx.record.seq, operation: ctx.route.op.operationId, status, message: `status ${status} is not a documented response` });
    return;
  }
  const v = validator(`resp ${ctx.route.method} ${ctx.route.template} ${status}`, schema);
  if (!v(typeof body === 'string' ? JSON.parse(body) : body)) {
    responseErrors.push({ seq: ctx.record.seq, operation: ctx.route.op.operationId, status, message: ajvText(v.errors) });
  }
}

function violate(ctx, kind, message) {
  const v = { seq: ctx.record.seq, method: ctx.method, path: ctx.pathname, operation: ctx.route ? ctx.route.op.operationId : null, kind, message };
  violations.push(v);
  ctx.record.violations.push(`${kind}: ${message}`);
}

function paginate(ctx, items) {
  let perPage = ctx.query.per_page === undefined ? 30 : ctx.query.per_page;
  if (perPage < 1) perPage = 30;
  if (perPage > 100) perPage = 100;
  let page = ctx.query.page === undefined ? 1 : ctx.query.page;
  if (page < 1) page = 1;
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const link = (p) => {
    const u = new URL(ctx.url.toString());
    u.searchParams.set('page', String(p));
    return `<${state.linkBase || ctx.base}${ctx.pathname}?${u.searchParams.toString()}>`;
  };
  const rels = [];
  if (page > 1) rels.push(`${link(Math.min(page - 1, last))}; rel="prev"`);
  if (page < last) rels.push(`${link(page + 1)}; rel="next"`);
  if (page < last) rels.push(`${link(last)}; rel="last"`);
  if (page > 1) rels.push(`${link(1)}; rel="first"`);
  const headers = rels.length ? { link: rels.join(', ') } : {};
  return { items: items.slice((page - 1) * perPage, page * perPage), headers };
}

/* ---- permissions ---------------------------------------------------------------------------- */

const LEVEL = { none: 0, read: 1, write: 2, admin: 3 };

/* alternatives: [["pull_requests","write"],["issues","write"]]; any one suffices. */
function allowed(ctx, alternatives) {
  const perms = ctx.token.permissions;
  if (!perms) return true;
  return alternatives.some(([name, level]) => (LEVEL[perms[name] || 'none'] || 0) >= LEVEL[level]);
}

function forbid(ctx, alternatives) {
  const docs = `${DOCS}/${ctx.route.op.operationId}`;
  send(ctx, 403, errorBody(403, 'Resource not accessible by integration', docs), {
    'x-accepted-github-permissions': alternatives.map(([n, l]) => `${n}=${l}`).join('; '),
  });
}

function notFound(ctx) {
  send(ctx, 404, errorBody(404, 'Not Found', `${DOCS}/${ctx.route.op.operationId}`));
}

function validationFailed(ctx, resource, field, code, message) {
  send(ctx, 422, errorBody(422, 'Validation Failed', `${DOCS}/${ctx.route.op.operationId}`, { errors: [Object.assign({ resource, field, code }, message ? { message } : {})] }));
}

/* ---- the endpoints -------------------------------------------------------------------------- */

function repoOf(ctx) {
  const repo = state.repos.get(repoKey(ctx.params.owner, ctx.params.repo));
  if (!repo) notFound(ctx);
  return repo;
}

function commentsOfIssue(repo, number) {
  const key = repoKey(repo.owner, repo.name);
  return [...state.comments.values()].filter((c) => c.repo === key && c.issue === number).sort((a, b) => a.id - b.id);
}

function commentBodyTooLong(ctx, body) {
  if ([...body].length > 65536) {
    validationFailed(ctx, 'IssueComment', 'body', 'custom', 'body is too long (maximum is 65536 characters)');
    return true;
  }
  return false;
}

function associatedPulls(repo, sha) {
  if (repo.commit_pulls[sha]) return repo.commit_pulls[sha].map((n) => repo.pulls.get(n)).filter(Boolean);
  const branchSha = repo.branches[sha];
  const target = branchSha || sha;
  const out = [];
  for (const p of repo.pulls.values()) {
    if (p.merge_commit_sha === target || p.commits.includes(target) || p.rebased_commits.includes(target) || (branchSha === undefined && p.head_ref === sha)) out.push(p);
  }
  return out.sort((a, b) => a.number - b.number);
}

const handlers = {
  'users/get-authenticated'(ctx) {
    if (ctx.token.installation) {
      send(ctx, 403, errorBody(403, 'Resource not accessible by integration', `${DOCS}/users/users#get-the-authenticated-user`));
      return;
    }
    const u = ensureUser(ctx.token.login);
    const base = userObject(ctx, u.login);
    send(
      ctx,
      200,
      make('private-user', Object.assign(base, {
        name: u.name,
        company: null,
        blog: '',
        location: null,
        email: null,
        hireable: null,
        bio: null,
        public_repos: 0,
        public_gists: 0,
        followers: 0,
        following: 0,
        created_at: '2020-01-01T00:00:00Z',
        updated_at: '2020-01-01T00:00:00Z',
        private_gists: 0,
        total_private_repos: 0,
        owned_private_repos: 0,
        disk_usage: 0,
        collaborators: 0,
        two_factor_authentication: true,
        user_view_type: 'private',
      }))
    );
  },

  'repos/get'(ctx) {
    const repo = repoOf(ctx);
    if (!repo) return;
    const perms = ctx.token.permissions;
    const write = !perms || Object.values(perms).includes('write');
    const body = repoObject(ctx, repo, 'full-repository');
    Object.assign(body, {
      network_count: 0,
      subscribers_count: 0,
      has_discussions: false,
      permissions: { admin: false, maintain: false, push: write, triage: write, pull: true },
    });
    send(ctx, 200, body);
  },

  'issues/list-comments'(ctx) {
    const repo = repoOf(ctx);
    if (!repo) return;
    if (!repo.issues.has(ctx.params.issue_number)) return notFound(ctx);
    const perm = [['issues', 'read'], ['pull_requests', 'read']];
    if (!allowed(ctx, perm)) return forbid(ctx, perm);
    let list = commentsOfIssue(repo, ctx.params.issue_number);
    if (ctx.query.since) list = list.filter((c) => c.updated_at >= ctx.query.since);
    const page = paginate(ctx, list);
    send(ctx, 200, page.items.map((c) => commentObject(ctx, c)), page.headers);
  },

  'issues/create-comment'(ctx) {
    const repo = repoOf(ctx);
    if (!repo) return;
    const issue = repo.issues.get(ctx.params.issue_number);
    if (!issue) return notFound(ctx);
    const perm = issue.pull ? [['pull_requests', 'write'], ['issues', 'write']] : [['issues', 'write']];
    if (!allowed(ctx, perm)) return forbid(ctx, perm);
    if (commentBodyTooLong(ctx, ctx.body.body)) return;
    const c = addComment(repo, issue.number, ctx.token.login, ctx.body.body);
    const obj = commentObject(ctx, c);
    send(ctx, 201, obj, { location: obj.url });
  },

  'issues/get-comment'(ctx) {
    const repo = repoOf(ctx);
    if (!repo) return;
    const c = state.comments.get(ctx.params.comment_id);
    if (!c || c.repo !== repoKey(repo.owner, repo.name)) return notFound(ctx);
    const perm = [['issues', 'read'], ['pull_requests', 'read']];
    if (!allowed(ctx, perm)) return forbid(ctx, perm);
    send(ctx, 200, commentObject(ctx, c));
  },

  'issues/update-comment'(ctx) {
    const repo = repoOf(ctx);
    if (!repo) return;
    const c = state.comments.get(ctx.params.comment_id);
    if (!c || c.repo !== repoKey(repo.owner, repo.name)) return notFound(ctx);
    const perm = repo.issues.get(c.issue).pull ? [['pull_requests', 'write'], ['issues', 'write']] : [['issues', 'write']];
    if (!allowed(ctx, perm)) return forbid(ctx, perm);
    if (commentBodyTooLong(ctx, ctx.body.body)) return;
    c.body = ctx.body.body;
    c.updated_at = now();
    c.edits = (c.edits || 0) + 1;
    c.edited_by = ctx.token.login;
    send(ctx, 200, commentObject(ctx, c));
  },

  'repos/list-pull-requests-associated-with-commit'(ctx) {
    const repo = repoOf(ctx);
    if (!repo) return;
    const perm = [['contents', 'read']];
    if (!allowed(ctx, perm)) return forbid(ctx, perm);
    const sha = ctx.params.commit_sha;
    if (!repo.commits.has(sha) && repo.branches[sha] === undefined && !repo.commit_pulls[sha]) {
      send(ctx, 422, errorBody(422, `No commit found for SHA: ${sha}`, `${DOCS}/commits/commits#list-pull-requests-associated-with-a-commit`));
      return;
    }
    const page = paginate(ctx, associatedPulls(repo, sha));
    send(ctx, 200, page.items.map((p) => pullObject(ctx, repo, p, 'pull-request-simple')), page.headers);
  },

  'pulls/get'(ctx) {
    const repo = repoOf(ctx);
    if (!repo) return;
    const pull = repo.pulls.get(ctx.params.pull_number);
    if (!pull) return notFound(ctx);
    const perm = [['pull_requests', 'read']];
    if (!allowed(ctx, perm)) return forbid(ctx, perm);
    send(ctx, 200, pullObject(ctx, repo, pull, 'pull-request'));
  },

  'pulls/list-reviews'(ctx) {
    const repo = repoOf(ctx);
    if (!repo) return;
    if (!repo.pulls.has(ctx.params.pull_number)) return notFound(ctx);
    const perm = [['pull_requests', 'read']];
    if (!allowed(ctx, perm)) return forbid(ctx, perm);
    const page = paginate(ctx, repo.reviews.get(ctx.params.pull_number) || []);
    send(ctx, 200, page.items.map((rv) => reviewObject(ctx, repo, ctx.params.pull_number, rv)), page.headers);
  },

  'repos/create-deployment'(ctx) {
    const repo = repoOf(ctx);
    if (!repo) return;
    const perm = [['deployments', 'write']];
    if (!allowed(ctx, perm)) return forbid(ctx, perm);
    const b = ctx.body;
    const sha = /^[0-9a-f]{40}$/.test(b.ref) ? b.ref : repo.branches[b.ref];
    if (!sha) {
      send(ctx, 422, errorBody(422, `No ref found for: ${b.ref}`, `${DOCS}/deployments/deployments#create-a-deployment`));
      return;
    }
    if (b.required_contexts === undefined && repo.failing_checks) {
      send(ctx, 409, errorBody(409, 'Conflict: Commit status checks failed for ' + b.ref, `${DOCS}/deployments/deployments#create-a-deployment`));
      return;
    }
    const t = now();
    const env = b.environment === undefined ? 'production' : b.environment;
    const d = {
      id: state.nextDeploymentId++,
      sha,
      ref: b.ref,
      task: b.task === undefined ? 'deploy' : b.task,
      payload: b.payload === undefined || b.payload === '' ? {} : typeof b.payload === 'string' ? JSON.parse(b.payload) : b.payload,
      environment: env,
      description: b.description === undefined ? '' : b.description,
      transient_environment: !!b.transient_environment,
      production_environment: b.production_environment === undefined ? env === 'production' : b.production_environment,
      auto_merge: b.auto_merge === undefined ? true : b.auto_merge,
      required_contexts: b.required_contexts === undefined ? null : b.required_contexts,
      creator: ctx.token.login,
      created_at: t,
      updated_at: t,
      statuses: [],
    };
    repo.deployments.push(d);
    send(ctx, 201, deploymentObject(ctx, repo, d));
  },

  'repos/list-deployments'(ctx) {
    const repo = repoOf(ctx);
    if (!repo) return;
    const perm = [['deployments', 'read']];
    if (!allowed(ctx, perm)) return forbid(ctx, perm);
    const q = ctx.query;
    const list = repo.deployments
      .filter((d) => (q.sha === undefined || q.sha === 'none' || d.sha === q.sha) && (q.ref === undefined || q.ref === 'none' || d.ref === q.ref) && (q.task === undefined || q.task === 'none' || d.task === q.task) && (q.environment === undefined || q.environment === 'none' || d.environment === q.environment))
      .slice()
      .reverse();
    const page = paginate(ctx, list);
    send(ctx, 200, page.items.map((d) => deploymentObject(ctx, repo, d)), page.headers);
  },

  'repos/create-deployment-status'(ctx) {
    const repo = repoOf(ctx);
    if (!repo) return;
    const d = repo.deployments.find((x) => x.id === ctx.params.deployment_id);
    if (!d) return notFound(ctx);
    const perm = [['deployments', 'write']];
    if (!allowed(ctx, perm)) return forbid(ctx, perm);
    const b = ctx.body;
    if (b.description !== undefined && [...b.description].length > 140) {
      validationFailed(ctx, 'DeploymentStatus', 'description', 'custom', 'description is too long (maximum is 140 characters)');
      return;
    }
    const s = {
      id: state.nextStatusId++,
      state: b.state,
      description: b.description || '',
      environment: b.environment || d.environment,
      environment_url: b.environment_url || '',
      log_url: b.log_url || b.target_url || '',
      creator: ctx.token.login,
      created_at: now(),
    };
    d.statuses.push(s);
    d.updated_at = s.created_at;
    /* GitHub marks the environment's earlier deployments inactive after a success unless told
     * not to (auto_inactive defaults to true). */
    if (b.state === 'success' && b.auto_inactive !== false) {
      for (const other of repo.deployments) {
        if (other !== d && other.environment === d.environment && other.statuses.length && other.statuses[other.statuses.length - 1].state === 'success') {
          other.statuses.push({ id: state.nextStatusId++, state: 'inactive', description: '', environment: other.environment, environment_url: '', log_url: '', creator: ctx.token.login, created_at: now() });
        }
      }
    }
    send(ctx, 201, statusObject(ctx, repo, d, s), { location: `${repoApi(ctx, repo)}/deployments/${d.id}/statuses/${s.id}` });
  },

  'repos/list-deployment-statuses'(ctx) {
    const repo = repoOf(ctx);
    if (!repo) return;
    const d = repo.deployments.find((x) => x.id === ctx.params.deployment_id);
    if (!d) return notFound(ctx);
    const perm = [['deployments', 'read']];
    if (!allowed(ctx, perm)) return forbid(ctx, perm);
    const page = paginate(ctx, d.statuses.slice().reverse());
    send(ctx, 200, page.items.map((s) => statusObject(ctx, repo, d, s)), page.headers);
  },
};

/* ---- request checking ----------------------------------------------------------------------- */

/* The answer to a non-conforming request, sent once faults have had their say. */
function reject(ctx, status, body, headers) {
  ctx.rejection = { status, body, headers };
  return false;
}

/* Returns true when the request may go on to its handler; otherwise ctx.rejection holds the
 * answer GitHub would give. Violations are recorded either way. */
function checkRequest(ctx) {
  const h = ctx.req.headers;
  const m = matchRoute(ctx.method, ctx.pathname);
  if (m.error === 'path') {
    violate(ctx, 'path', `no operation in the OpenAPI description matches ${ctx.method} ${ctx.pathname}`);
    return reject(ctx, 404, errorBody(404, 'Not Found'));
  }
  if (m.error === 'method') {
    violate(ctx, 'method', `${ctx.method} is not an operation on ${ctx.pathname} (allowed: ${m.allowed.join(', ')})`);
    return reject(ctx, 404, errorBody(404, 'Not Found'));
  }
  ctx.route = m.route;
  ctx.record.operation = m.route.op.operationId;
  const op = m.route.op;

  /* Headers GitHub insists on, or that the agent promises to send. */
  if (!h['user-agent']) {
    violate(ctx, 'header', 'User-Agent is missing (GitHub refuses such requests)');
    return reject(ctx, 403, 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.\n');
  }
  const accept = h.accept || '';
  if (!accept) {
    violate(ctx, 'header', 'Accept is missing (send application/vnd.github+json)');
    return reject(ctx, 400, errorBody(400, 'Accept header missing: send application/vnd.github+json'));
  }
  if (!/application\/(vnd\.github(\.[a-z0-9-]+)*(\+json)?|json)|\*\/\*/.test(accept)) {
    violate(ctx, 'header', `Accept "${accept}" is not a JSON media type GitHub serves`);
    return reject(ctx, 415, errorBody(415, `Unsupported 'Accept' header: '${accept}'. Must accept 'application/json'.`));
  }
  const version = h['x-github-api-version'];
  if (version !== undefined && !SUPPORTED_API_VERSIONS.includes(version)) {
    violate(ctx, 'header', `X-GitHub-Api-Version "${version}" is not supported`);
    return reject(ctx, 400, errorBody(400, `API version ${version} is not supported.`));
  }
  const auth = h.authorization;
  if (!auth) {
    violate(ctx, 'header', 'Authorization is missing');
    return reject(ctx, 401, errorBody(401, 'Requires authentication'));
  }
  const am = /^(Bearer|token) (\S+)$/i.exec(auth);
  if (!am) {
    violate(ctx, 'header', 'Authorization is not "Bearer TOKEN" or "token TOKEN"');
    return reject(ctx, 401, errorBody(401, 'Bad credentials'));
  }
  ctx.record.auth_scheme = am[1];

  /* Path parameters against their schemas. */
  for (const p of m.route.params.filter((x) => x.in === 'path')) {
    const raw = m.pathParams[p.name];
    const val = coerce(raw, p.schema);
    const v = validator(`param ${m.route.template} ${p.name}`, p.schema || {});
    if (val === undefined || !v(val)) {
      violate(ctx, 'path-param', `${p.name}="${raw}" does not match ${JSON.stringify(resolve(p.schema))}`);
      return reject(ctx, 404, errorBody(404, 'Not Found'));
    }
    ctx.params[p.name] = val;
  }

  /* Query parameters: known ones must match their schemas; unknown ones are not part of the
   * operation and are reported, since GitHub would silently ignore what the agent meant. */
  const qp = m.route.params.filter((x) => x.in === 'query');
  const seen = new Set();
  for (const [name, raw] of ctx.url.searchParams.entries()) {
    if (seen.has(name)) {
      violate(ctx, 'query', `query parameter ${name} given twice`);
      return reject(ctx, 422, errorBody(422, `Invalid request: ${name} given twice`));
    }
    seen.add(name);
    const p = qp.find((x) => x.name === name);
    if (!p) {
      violate(ctx, 'query', `query parameter ${name} is not defined for ${op.operationId}`);
      return reject(ctx, 422, errorBody(422, `Invalid request: unknown parameter ${name}`));
    }
    const val = coerce(raw, p.schema);
    const v = validator(`query ${m.route.method} ${m.route.template} ${name}`, p.schema || {});
    if (val === undefined || !v(val)) {
      violate(ctx, 'query', `${name}="${raw}" does not match ${JSON.stringify(resolve(p.schema))}`);
      return reject(ctx, 422, errorBody(422, `Invalid request.\n\n${name} is not valid: ${raw}`));
    }
    ctx.query[name] = val;
  }
  for (const p of qp) {
    if (p.required && !seen.has(p.name)) {
      violate(ctx, 'query', `required query parameter ${p.name} is missing`);
      return reject(ctx, 422, errorBody(422, `Invalid request: ${p.name} is required`));
    }
  }

  /* The body against the requestBody schema. */
  const rb = resolve(op.requestBody);
  const raw = ctx.rawBody;
  if (!rb) {
    if (raw.length > 0) {
      violate(ctx, 'body', `${op.operationId} takes no request body, got ${raw.length} bytes`);
      return reject(ctx, 400, errorBody(400, 'Problems parsing JSON'));
    }
    return true;
  }
  if (raw.length === 0) {
    if (rb.required) {
      violate(ctx, 'body', `${op.operationId} requires a JSON body`);
      return reject(ctx, 422, errorBody(422, 'Invalid request.\n\nNo body was sent.'));
    }
    ctx.body = {};
    return true;
  }
  const ctype = (h['content-type'] || '').split(';')[0].trim().toLowerCase();
  if (ctype !== 'application/json') {
    violate(ctx, 'header', `Content-Type "${h['content-type'] || ''}" is not application/json`);
    return reject(ctx, 415, errorBody(415, 'Unsupported Media Type: send application/json'));
  }
  let json;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    violate(ctx, 'body', `body is not JSON: ${e.message}`);
    return reject(ctx, 400, errorBody(400, 'Problems parsing JSON'));
  }
  const schema = rb.content && rb.content['application/json'] && rb.content['application/json'].schema;
  const v = validator(`body ${m.route.method} ${m.route.template}`, schema || {});
  if (!v(json)) {
    violate(ctx, 'body', ajvText(v.errors));
    return reject(ctx, 422, errorBody(422, `Invalid request.\n\n${ajvText(v.errors)}`));
  }
  ctx.body = json;
  ctx.record.body = json;
  return true;
}

/* ---- faults --------------------------------------------------------------------------------- */

function takeFault(ctx) {
  for (const f of faults) {
    if (f.remaining <= 0) continue;
    if (f.method && f.method.toUpperCase() !== ctx.method) continue;
    if (f.path && !ctx.pathname.includes(f.path)) continue;
    if (f.path_regex && !new RegExp(f.path_regex).test(ctx.pathname)) continue;
    f.remaining--;
    f.hits++;
    return f;
  }
  return null;
}

function faultResponse(f) {
  const reset = String(Math.floor(Date.now() / 1000) + (f.reset_in === undefined ? 60 : f.reset_in));
  switch (f.kind) {
    case 'secondary_rate_limit':
      return {
        status: f.status || 403,
        headers: Object.assign(f.retry_after === null ? {} : { 'retry-after': String(f.retry_after === undefined ? 1 : f.retry_after) }, f.headers || {}),
        body: errorBody(f.status || 403, 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID DOUBLE.', 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits'),
      };
    case 'rate_limit':
      return {
        status: f.status || 403,
        headers: Object.assign({ 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-used': '5000', 'x-ratelimit-reset': reset, 'x-ratelimit-resource': 'core' }, f.headers || {}),
        body: errorBody(f.status || 403, 'API rate limit exceeded for installation ID 1.', 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit'),
      };
    default:
      return { status: f.status, headers: f.headers || {}, body: f.body === undefined ? errorBody(f.status || 500, 'Server Error') : f.body };
  }
}

/* ---- admin ---------------------------------------------------------------------------------- */

function snapshot() {
  const repos = {};
  for (const [key, r] of state.repos) {
    repos[key] = {
      owner: r.owner,
      name: r.name,
      default_branch: r.default_branch,
      branches: r.branches,
      pulls: [...r.pulls.values()],
      issues: [...r.issues.values()],
      reviews: Object.fromEntries(r.reviews),
      deployments: r.deployments,
      comments: [...state.comments.values()].filter((c) => c.repo === key),
    };
  }
  return {
    users: [...state.users.values()],
    tokens: [...state.tokens.values()].map((t) => ({ login: t.login, installation: t.installation, permissions: t.permissions })),
    repos,
    faults,
    counts: { requests: requests.length, violations: violations.length, response_errors: responseErrors.length },
  };
}

function warmUp() {
  /* Compiles every validator the served operations need, so no request pays for it later and a
   * timing-sensitive test is not slowed by the first call. */
  for (const r of routes) {
    if (!handlers[r.op.operationId]) continue;
    for (const p of r.params) validator(`${p.in === 'path' ? 'param' : 'query'} ${p.in === 'path' ? r.template : r.method + ' ' + r.template} ${p.name}`, p.schema || {});
    const rb = resolve(r.op.requestBody);
    if (rb) validator(`body ${r.method} ${r.template}`, rb.content['application/json'].schema);
    for (const [status, resp0] of Object.entries(r.op.responses)) {
      const resp = resolve(resp0);
      const schema = resp && resp.content && resp.content['application/json'] && resp.content['application/json'].schema;
      if (status.startsWith('2') && schema) validator(`resp ${r.method} ${r.template} ${status}`, schema);
    }
  }
}

function admin(ctx) {
  const sub = ctx.pathname.slice('/_double'.length);
  let body = {};
  if (ctx.rawBody.length) {
    try {
      body = JSON.parse(ctx.rawBody.toString('utf8'));
    } catch (e) {
      return send(ctx, 400, { message: `admin body is not JSON: ${e.message}` });
    }
  }
  try {
    if (ctx.method === 'GET' && sub === '/ready') {
      warmUp();
      return send(ctx, 200, { ready: true, operations: Object.keys(handlers).length });
    }
    if (ctx.method === 'POST' && sub === '/reset') {
      resetState();
      return send(ctx, 200, { reset: true });
    }
    if (ctx.method === 'POST' && sub === '/seed') {
      seed(body);
      return send(ctx, 200, { seeded: true });
    }
    if (ctx.method === 'GET' && sub === '/state') return send(ctx, 200, snapshot());
    if (ctx.method === 'GET' && sub === '/requests') return send(ctx, 200, requests);
    if (ctx.method === 'GET' && sub === '/violations') return send(ctx, 200, { violations, response_errors: responseErrors });
    if (ctx.method === 'POST' && sub === '/fail') {
      const list = Array.isArray(body) ? body : [body];
      for (const f of list) {
        if (!f.path && !f.path_regex) throw new Error('a fault needs path (substring) or path_regex');
        if (!f.kind && !f.status && !f.drop && !f.drop_after && !f.delay_ms) throw new Error('a fault needs kind, status, drop, drop_after or delay_ms');
        faults.push(Object.assign({ remaining: f.count === undefined ? 1 : f.count, hits: 0 }, f));
      }
      return send(ctx, 200, { faults: faults.length });
    }
    if (ctx.method === 'DELETE' && sub === '/fail') {
      faults = [];
      return send(ctx, 200, { faults: 0 });
    }
  } catch (e) {
    return send(ctx, 400, { message: e.message });
  }
  return send(ctx, 404, { message: `no admin endpoint ${ctx.method} ${ctx.pathname}` });
}

/* ---- the server ----------------------------------------------------------------------------- */

function handle(req, res, rawBody) {
  const url = new URL(req.url, `http://${req.headers.host || '127.0.0.1'}`);
  let pathname = url.pathname;
  /* GitHub Enterprise Server serves the API under /api/v3; accept both so GITHUB_API_URL with a
   * path is tested too. Links and urls in answers keep the prefix the request used. */
  let prefix = '';
  if (pathname.startsWith('/api/v3/')) {
    prefix = '/api/v3';
    pathname = pathname.slice(prefix.length);
  }
  const ctx = {
    req,
    res,
    url,
    method: req.method,
    pathname,
    base: `http://${req.headers.host || '127.0.0.1'}${prefix}`,
    rawBody,
    params: {},
    query: {},
    body: null,
    admin: pathname.startsWith('/_double/'),
  };
  if (ctx.admin) return admin(ctx);

  const authHeader = req.headers.authorization;
  ctx.record = {
    seq: ++seq,
    time: new Date().toISOString(),
    method: req.method,
    path: pathname,
    prefix,
    query: Object.fromEntries(url.searchParams.entries()),
    operation: null,
    headers: {
      'user-agent': req.headers['user-agent'] || null,
      accept: req.headers.accept || null,
      'x-github-api-version': req.headers['x-github-api-version'] || null,
      'content-type': req.headers['content-type'] || null,
      authorization: authHeader ? authHeader.replace(/^(\S+)\s.*$/, '$1 ***') : null,
    },
    token_login: null,
    body_length: rawBody.length,
    status: null,
    fault: null,
    violations: [],
  };
  requests.push(ctx.record);

  const ok = checkRequest(ctx);
  const fault = takeFault(ctx);
  if (fault) {
    ctx.record.fault = fault.kind || (fault.drop ? 'drop' : fault.drop_after ? 'drop_after' : fault.status ? `status ${fault.status}` : 'delay');
    const born = generation;
    const act = () => {
      /* A delayed answer whose client gave up, or which outlived a reset, is not given: it
       * would otherwise act on the next test's state. */
      if (born !== generation || req.socket.destroyed) return;
      if (fault.drop) {
        ctx.record.status = 'dropped';
        req.socket.destroy();
        return;
      }
      if (fault.drop_after) {
        ctx.swallow = true;
        proceed(ctx, ok);
        return;
      }
      if (fault.kind || fault.status) {
        const fr = faultResponse(fault);
        ctx.admin = false;
        ctx.route = null; /* fault answers are not checked against the response schema */
        send(ctx, fr.status, fr.body, fr.headers);
        return;
      }
      if (!res.writableEnded) proceed(ctx, ok);
    };
    if (fault.delay_ms) setTimeout(act, fault.delay_ms);
    else act();
    return;
  }
  proceed(ctx, ok);
}

function proceed(ctx, ok) {
  if (ctx.res.writableEnded) return;
  if (!ok) {
    send(ctx, ctx.rejection.status, ctx.rejection.body, ctx.rejection.headers);
    return;
  }
  const auth = /^(?:Bearer|token) (\S+)$/i.exec(ctx.req.headers.authorization);
  const token = state.tokens.get(auth[1]);
  if (!token) {
    send(ctx, 401, errorBody(401, 'Bad credentials'));
    return;
  }
  ctx.token = token;
  ctx.record.token_login = token.login;
  const handler = handlers[ctx.route.op.operationId];
  if (!handler) {
    /* A real operation the double does not serve: not the agent's fault, but a test relying on
     * it must learn that it is missing. */
    responseErrors.push({ seq: ctx.record.seq, operation: ctx.route.op.operationId, status: 501, message: 'operation not implemented by the double' });
    send(ctx, 501, errorBody(501, `the GitHub double does not implement ${ctx.route.op.operationId}`));
    return;
  }
  try {
    handler(ctx);
  } catch (e) {
    responseErrors.push({ seq: ctx.record.seq, operation: ctx.route.op.operationId, status: 500, message: `handler threw: ${e.stack}` });
    if (!ctx.res.headersSent) send(ctx, 500, errorBody(500, `double error: ${e.message}`));
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) {
      res.writeHead(413, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'request body too large' }));
      req.destroy();
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (size > MAX_BODY) return;
    handle(req, res, Buffer.concat(chunks));
  });
  req.on('error', () => {});
});
server.keepAliveTimeout = 30000;
server.listen(ARGS.port, '127.0.0.1', () => {
  process.stdout.write(`listening on 127.0.0.1:${server.address().port}\n`);
});

function stop() {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
