#!/usr/bin/env node
/*
 * OIDC federation double for mlinfra's tests: GitHub's ID-token endpoint and Azure AD's v2.0
 * token endpoint, on 127.0.0.1 only. It checks every field of the client-assertion grant the
 * way Azure AD does and answers like it (AADSTS errors), so remote/azure_ad.c is tested
 * against the protocol, not against itself.
 *
 *   node server.js --port PORT --tenant TENANT --client-id ID --request-token TOKEN
 *                  [--expires-in SECONDS] [--stats FILE]
 *
 * Endpoints:
 *   GET  /idtoken?api-version=2.0&audience=A   GitHub's ACTIONS_ID_TOKEN_REQUEST_URL: needs
 *        "Authorization: Bearer TOKEN"; answers {"count":..,"value":"<JWT>"} where the JWT's
 *        aud is A and its iss https://token.actions.githubusercontent.com.
 *   POST /TENANT/oauth2/v2.0/token             the client-assertion grant: form-encoded
 *        client_id, scope (https://storage.azure.com/.default), grant_type
 *        (client_credentials), client_assertion_type (jwt-bearer) and client_assertion (a JWT
 *        this double issued for audience api://AzureADTokenExchange). Answers
 *        {"token_type":"Bearer","expires_in":N,"access_token":"<JWT>"}; the access token's
 *        aud is https://storage.azure.com and its iss https://sts.windows.net/TENANT/, which is
 *        what Azurite's OAuth mode accepts.
 * Every request and every refusal is appended to --stats as one JSON line.
 */
'use strict';
const http = require('http');
const fs = require('fs');

function arg(name, dflt) {
    const i = process.argv.indexOf('--' + name);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const port = Number(arg('port', '0'));
const tenant = arg('tenant', 'tenant');
const clientId = arg('client-id', 'client');
const requestToken = arg('request-token', 'request-token');
const expiresIn = Number(arg('expires-in', '3599'));
const statsFile = arg('stats', null);
const issued = new Set();
let idCount = 0;

function b64url(obj) {
    return Buffer.from(JSON.stringify(obj)).toString('base64url');
}

function jwt(claims) {
    return b64url({alg: 'RS256', typ: 'JWT', kid: 'double'}) + '.' + b64url(claims) + '.' +
        Buffer.from('not-a-real-signature').toString('base64url');
}

function record(entry) {
    if (statsFile)
        fs.appendFileSync(statsFile, JSON.stringify(entry) + '\n');
}

function send(res, status, body) {
    const text = JSON.stringify(body);
    res.writeHead(status, {'Content-Type': 'application/json; charset=utf-8',
                           'Content-Length': Buffer.byteLength(text)});
    res.end(text);
}

function aadError(res, status, error, code, text, entry) {
    entry.refused = code + ': ' + text;
    record(entry);
    send(res, status, {error, error_description: code + ': ' + text + '\r\nTrace ID: double',
                       error_codes: [Number(code.slice(5))]});
}

function idToken(req, res, url, entry) {
    if (req.headers.authorization !== 'Bearer ' + requestToken) {
        entry.refused = 'bad request token';
        record(entry);
        return send(res, 401, {message: 'Bad credentials'});
    }
    const audience = url.searchParams.get('audience');
    if (!audience) {
        entry.refused = 'no audience';
        record(entry);
        return send(res, 400, {message: 'audience is required'});
    }
    const now = Math.floor(Date.now() / 1000);
    const token = jwt({iss: 'https://token.actions.githubusercontent.com', aud: audience,
                       sub: 'repo:acme/infra:environment:production', nbf: now - 5,
                       iat: now, exp: now + 300, jti: 'id-' + (++idCount)});
    issued.add(token);
    entry.audience = audience;
    record(entry);
    send(res, 200, {count: idCount, value: token});
}

function decodeClaims(token) {
    try {
        return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
    } catch (e) {
        return null;
    }
}

function tokenGrant(req, res, body, entry) {
    const type = (req.headers['content-type'] || '').split(';')[0].trim();
    if (type !== 'application/x-www-form-urlencoded')
        return aadError(res, 400, 'invalid_request', 'AADSTS900144',
                        'The request body must be application/x-www-form-urlencoded, got ' +
                        JSON.stringify(type), entry);
    const form = new URLSearchParams(body);
    entry.fields = Array.from(form.keys()).sort();
    const want = {
        client_id: clientId,
        scope: 'https://storage.azure.com/.default',
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    };
    for (const [k, v] of Object.entries(want)) {
        if (!form.has(k))
            return aadError(res, 400, 'invalid_request', 'AADSTS900144',
                            "The request body must contain the following parameter: '" + k + "'.",
                            entry);
        if (form.get(k) !== v) {
            if (k === 'client_id')
                return aadError(res, 400, 'unauthorized_client', 'AADSTS700016',
                                "Application with identifier '" + form.get(k) +
                                "' was not found in the directory '" + tenant + "'.", entry);
            return aadError(res, 400, 'invalid_request', 'AADSTS90014',
                            "The parameter '" + k + "' has the wrong value " +
                            JSON.stringify(form.get(k)) + '.', entry);
        }
    }
    const assertion = form.get('client_assertion');
    if (!assertion || !issued.has(assertion))
        return aadError(res, 401, 'invalid_client', 'AADSTS700024',
                        'Client assertion is not within its valid time range or was not ' +
                        'issued by the trusted issuer.', entry);
    const claims = decodeClaims(assertion);
    if (!claims || claims.aud !== 'api://AzureADTokenExchange')
        return aadError(res, 400, 'invalid_request', 'AADSTS700212',
                        'No matching federated identity record found for presented assertion ' +
                        'audience ' + JSON.stringify(claims && claims.aud) + '.', entry);
    const now = Math.floor(Date.now() / 1000);
    const access = jwt({aud: 'https://storage.azure.com', iss: 'https://sts.windows.net/' +
                        tenant + '/', iat: now, nbf: now - 60, exp: now + expiresIn,
                        appid: clientId, oid: '00000000-0000-0000-0000-000000000001',
                        tid: tenant});
    record(entry);
    send(res, 200, {token_type: 'Bearer', expires_in: expiresIn, ext_expires_in: expiresIn,
                    access_token: access});
}

const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const url = new URL(req.url, 'http://127.0.0.1');
        const entry = {method: req.method, path: url.pathname};
        if (req.method === 'GET' && url.pathname === '/idtoken')
            return idToken(req, res, url, entry);
        if (req.method === 'POST' && url.pathname === '/' + tenant + '/oauth2/v2.0/token')
            return tokenGrant(req, res, body, entry);
        if (req.method === 'POST' && /\/oauth2\/v2.0\/token$/.test(url.pathname))
            return aadError(res, 400, 'invalid_tenant', 'AADSTS90002',
                            "Tenant '" + url.pathname.split('/')[1] + "' not found.", entry);
        entry.refused = 'no such endpoint';
        record(entry);
        send(res, 404, {message: 'Not Found'});
    });
});

server.listen(port, '127.0.0.1', () => {
    process.stdout.write('listening on 127.0.0.1:' + server.address().port + '\n');
});
