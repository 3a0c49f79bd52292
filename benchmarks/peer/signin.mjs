// Drives the authorization code + PKCE sign-in end to end, as a relying party and a browser:
// GET /authorize, the sign-in page, POST of email and password, redirects to the code, token
// exchange (ID token nonce checked), userinfo. Works against both providers: it follows
// redirects on the issuer and fills the form that has a password field.
//
// Usage: node signin.mjs '<json>'; the JSON gives
//   base, client_id, client_secret, redirect_uri, email, password, scope, extra (more
//   authorization parameters), and either
//   mode "bench": concurrency, duration (s) -> sign-ins/s and the latency of a whole sign-in;
//   mode "mint":  sessions, count -> `count` token responses (one password sign-in per
//                 session, then authorization requests on the signed-in session).
// Prints one JSON object.

import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';

const options = JSON.parse(process.argv[2]);
const base = new URL(options.base);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const basic = 'Basic ' + Buffer.from(
  `${encodeURIComponent(options.client_id)}:${encodeURIComponent(options.client_secret)}`,
).toString('base64');
const MAX_HOPS = 12;
const TIMEOUT_MS = 30_000;

const b64url = (buffer) => buffer.toString('base64url');

class CookieJar {
  constructor() {
    this.cookies = new Map();
  }

  store(setCookie) {
    for (const line of setCookie ?? []) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = '/';
      let expired = value === '';
      for (const attribute of attributes) {
        const [key, val = ''] = attribute.trim().split('=');
        const lower = key.toLowerCase();
        if (lower === 'path') path = val || '/';
        if (lower === 'max-age' && Number(val) <= 0) expired = true;
        if (lower === 'expires' && Date.parse(val) < Date.now()) expired = true;
      }
      const key = `${name}\0${path}`;
      if (expired) this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path });
    }
  }

  header(pathname) {
    const pairs = [];
    for (const { name, value, path } of this.cookies.values()) {
      if (pathname === path || pathname.startsWith(path.endsWith('/') ? path : `${path}/`)) {
        pairs.push(`${name}=${value}`);
      }
    }
    return pairs.join('; ');
  }
}

function request(method, url, { headers = {}, body, jar } = {}) {
  return new Promise((resolve, reject) => {
    const target = new URL(url, base);
    const allHeaders = { ...headers };
    if (jar) {
      const cookie = jar.header(target.pathname);
      if (cookie) allHeaders.cookie = cookie;
    }
    if (body !== undefined) {
      allHeaders['content-type'] = 'application/x-www-form-urlencoded';
      allHeaders['content-length'] = Buffer.byteLength(body);
    }
    const req = http.request(target, { method, agent, headers: allHeaders }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        if (jar) jar.store(res.headers['set-cookie']);
        resolve({ status: res.statusCode, headers: res.headers, url: target.href,
          text: Buffer.concat(chunks).toString() });
      });
      res.on('error', reject);
    });
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`timeout ${method} ${target.pathname}`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const unescapeHtml = (value) => value.replace(/&amp;/g, '&').replace(/&quot;/g, '"')
  .replace(/&#x27;|&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');

function attributes(tag) {
  const result = {};
  for (const match of tag.matchAll(/([\w-]+)\s*=\s*"([^"]*)"/g)) {
    result[match[1].toLowerCase()] = unescapeHtml(match[2]);
  }
  return result;
}

// The form with a password field: its action and its fields, filled with the credentials.
function signInForm(html, pageUrl) {
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    if (!/type\s*=\s*"password"/i.test(match[2])) continue;
    const form = attributes(match[1]);
    const fields = new URLSearchParams();
    for (const input of match[2].matchAll(/<input\b[^>]*>/gi)) {
      const attrs = attributes(input[0]);
      if (!attrs.name) continue;
      if (attrs.type === 'password') fields.set(attrs.name, options.password);
      else if (attrs.name === 'login' || attrs.type === 'email') fields.set(attrs.name, options.email);
      else if (attrs.type === 'hidden') fields.set(attrs.name, attrs.value ?? '');
    }
    return { action: new URL(form.action || pageUrl, pageUrl).href, body: fields.toString() };
  }
  return null;
}

// One authorization request up to the redirect to the client; signs in when asked to.
async function authorize(jar, { allowSignIn }) {
  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(12));
  const nonce = b64url(randomBytes(12));
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: options.client_id,
    redirect_uri: options.redirect_uri,
    scope: options.scope,
    state,
    nonce,
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
    ...(options.extra ?? {}),
  });
  let response = await request('GET', `/authorize?${params}`, { jar });
  let requests = 1;
  for (let hop = 0; hop < MAX_HOPS; hop += 1) {
    if (response.status >= 300 && response.status < 400) {
      const location = new URL(response.headers.location, response.url).href;
      if (location.startsWith(options.redirect_uri)) {
        const query = new URL(location).searchParams;
        if (query.get('state') !== state) throw new Error('state mismatch');
        if (!query.get('code')) throw new Error(`no code: ${query.get('error')}`);
        return { code: query.get('code'), verifier, nonce, requests };
      }
      if (new URL(location).origin !== base.origin) throw new Error(`left the issuer: ${location}`);
      response = await request('GET', location, { jar });
      requests += 1;
      continue;
    }
    const form = response.status === 200 ? signInForm(response.text, response.url) : null;
    if (!form || !allowSignIn) {
      throw new Error(`unexpected ${response.status} at ${new URL(response.url).pathname}`);
    }
    response = await request('POST', form.action, {
      jar, body: form.body, headers: { referer: response.url },
    });
    requests += 1;
    allowSignIn = false; // a second sign-in page means the password was refused
  }
  throw new Error('too many redirects');
}

async function redeem({ code, verifier, nonce }) {
  const body = new URLSearchParams({
    grant_type: 'authorization_code', code, redirect_uri: options.redirect_uri,
    code_verifier: verifier,
  }).toString();
  const response = await request('POST', '/token', { body, headers: { authorization: basic } });
  if (response.status !== 200) throw new Error(`token ${response.status}: ${response.text}`);
  const tokens = JSON.parse(response.text);
  const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url').toString());
  if (claims.nonce !== nonce) throw new Error('nonce mismatch');
  if (claims.iss !== options.base) throw new Error(`iss ${claims.iss}`);
  if (claims.aud !== options.client_id && !claims.aud?.includes?.(options.client_id)) {
    throw new Error('aud mismatch');
  }
  return { tokens, claims };
}

async function userinfo(accessToken, sub) {
  const response = await request('GET', '/userinfo', {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  if (response.status !== 200) throw new Error(`userinfo ${response.status}`);
  if (JSON.parse(response.text).sub !== sub) throw new Error('userinfo sub mismatch');
}

async function signIn() {
  const jar = new CookieJar();
  const authorization = await authorize(jar, { allowSignIn: true });
  const { tokens, claims } = await redeem(authorization);
  await userinfo(tokens.access_token, claims.sub);
  return authorization.requests + 2;
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function bench() {
  const deadline = Date.now() + options.duration * 1000;
  const latencies = [];
  const errors = {};
  let httpRequests = 0;
  const started = Date.now();
  async function session() {
    while (Date.now() < deadline) {
      const t0 = process.hrtime.bigint();
      try {
        const requests = await signIn();
        httpRequests += requests;
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      } catch (error) {
        errors[error.message.slice(0, 120)] = (errors[error.message.slice(0, 120)] ?? 0) + 1;
      }
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, session));
  const elapsed = (Date.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    sign_ins: latencies.length,
    seconds: elapsed,
    per_second: latencies.length / elapsed,
    http_requests: httpRequests,
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    errors: Object.values(errors).reduce((a, b) => a + b, 0),
    error_kinds: errors,
  };
}

async function mint() {
  const results = [];
  let reserved = 0;
  async function session() {
    const jar = new CookieJar();
    for (let i = 0; reserved < options.count; i += 1) {
      reserved += 1; // taken before the first await: sessions never overshoot the count
      const authorization = await authorize(jar, { allowSignIn: i === 0 });
      const { tokens } = await redeem(authorization);
      results.push({ access_token: tokens.access_token, refresh_token: tokens.refresh_token });
    }
  }
  await Promise.all(Array.from({ length: options.sessions }, session));
  return { tokens: results };
}

const result = options.mode === 'mint' ? await mint() : await bench();
process.stdout.write(JSON.stringify(result));
agent.destroy();
