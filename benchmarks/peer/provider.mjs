// The benchmark's reference OpenID Provider: panva's oidc-provider, configured like ours.
//
// Same clients (ids, secrets, redirect URI), scopes, grants and endpoint paths as the provider
// under test, a scripted password sign-in (Argon2id with the same parameters as
// accounts.hashers.Argon2idPasswordHasher), no consent screen for first-party clients, and an
// unbounded in-memory store (the package's own memory adapter keeps only ~1,000 artifacts).
//
// With "database_url" in its configuration it keeps everything in PostgreSQL instead (one
// table, one statement per adapter call), which is what ours does: a comparison of storage
// as well as of code.
//
// Configuration comes as JSON in the BENCH_PEER_CONFIG environment variable:
//   {"port": 8101, "issuer": "http://127.0.0.1:8101",
//    "service": {"client_id": "...", "client_secret": "..."},
//    "web": {"client_id": "...", "client_secret": "...", "redirect_uri": "..."},
//    "user": {"email": "...", "password": "...", "given_name": "...", "family_name": "..."},
//    "database_url": "postgres://..." (optional)}
// It prints "ready <port>" once it listens.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';

import argon2 from 'argon2';
import Provider from 'oidc-provider';

const config = JSON.parse(process.env.BENCH_PEER_CONFIG);

// --- an unbounded in-memory adapter -------------------------------------------------------

const store = new Map(); // "Model:id" -> { payload, expiresAt }
const grantMembers = new Map(); // grantId -> Set of "Model:id"
const sessionUids = new Map(); // uid -> session id
const grantable = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest']);

function live(key) {
  const entry = store.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return entry.payload;
}

class UnboundedMemoryAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined;
    store.set(key, { payload, expiresAt });
    if (this.model === 'Session' && payload.uid) sessionUids.set(payload.uid, id);
    if (grantable.has(this.model) && payload.grantId) {
      if (!grantMembers.has(payload.grantId)) grantMembers.set(payload.grantId, new Set());
      grantMembers.get(payload.grantId).add(key);
    }
  }

  async find(id) {
    return live(this.key(id));
  }

  async findByUid(uid) {
    const id = sessionUids.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode() {
    return undefined; // device flow is off
  }

  async consume(id) {
    const payload = live(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    const key = this.key(id);
    const payload = live(key);
    store.delete(key);
    if (payload?.uid && this.model === 'Session') sessionUids.delete(payload.uid);
  }

  async revokeByGrantId(grantId) {
    for (const key of grantMembers.get(grantId) ?? []) store.delete(key);
    grantMembers.delete(grantId);
  }
}

// --- a PostgreSQL adapter (--peer-store postgres): storage comparable to ours -------------

async function postgresAdapter(url) {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  await pool.query(`CREATE TABLE IF NOT EXISTS oidc_model (
    model text NOT NULL, id text NOT NULL, payload jsonb NOT NULL, grant_id text, user_code text,
    uid text, expires_at timestamptz, consumed_at timestamptz, PRIMARY KEY (model, id))`);
  await pool.query('CREATE INDEX IF NOT EXISTS oidc_model_grant ON oidc_model (grant_id)');
  await pool.query('CREATE INDEX IF NOT EXISTS oidc_model_uid ON oidc_model (uid)');
  const live = '(expires_at IS NULL OR expires_at > now())';

  function row(result) {
    const found = result.rows[0];
    if (!found) return undefined;
    return found.consumed_at ? { ...found.payload, consumed: true } : found.payload;
  }

  return class PostgresAdapter {
    constructor(model) {
      this.model = model;
    }

    async upsert(id, payload, expiresIn) {
      await pool.query(
        `INSERT INTO oidc_model (model, id, payload, grant_id, user_code, uid, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
         ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload,
           grant_id = EXCLUDED.grant_id, user_code = EXCLUDED.user_code, uid = EXCLUDED.uid,
           expires_at = EXCLUDED.expires_at`,
        [this.model, id, payload, payload.grantId ?? null, payload.userCode ?? null,
          payload.uid ?? null, typeof expiresIn === 'number' ? expiresIn : null],
      );
    }

    async find(id) {
      return row(await pool.query(
        `SELECT payload, consumed_at FROM oidc_model WHERE model = $1 AND id = $2 AND ${live}`,
        [this.model, id],
      ));
    }

    async findByUid(uid) {
      return row(await pool.query(
        `SELECT payload, consumed_at FROM oidc_model WHERE model = $1 AND uid = $2 AND ${live}`,
        [this.model, uid],
      ));
    }

    async findByUserCode(userCode) {
      return row(await pool.query(
        `SELECT payload, consumed_at FROM oidc_model
         WHERE model = $1 AND user_code = $2 AND ${live}`,
        [this.model, userCode],
      ));
    }

    async consume(id) {
      await pool.query('UPDATE oidc_model SET consumed_at = now() WHERE model = $1 AND id = $2',
        [this.model, id]);
    }

    async destroy(id) {
      await pool.query('DELETE FROM oidc_model WHERE model = $1 AND id = $2', [this.model, id]);
    }

    async revokeByGrantId(grantId) {
      await pool.query('DELETE FROM oidc_model WHERE grant_id = $1', [grantId]);
    }
  };
}

// --- keys, the account, the clients ---------------------------------------------------------

function signingKey(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: randomBytes(8).toString('hex') };
}

const user = config.user;
const accountId = '1';
const passwordHash = await argon2.hash(user.password, {
  type: argon2.argon2id, memoryCost: 19 * 1024, timeCost: 2, parallelism: 1,
});

function accountClaims() {
  return {
    sub: accountId,
    email: user.email,
    email_verified: true,
    given_name: user.given_name,
    family_name: user.family_name,
    name: `${user.given_name} ${user.family_name}`.trim(),
  };
}

const firstParty = new Set([config.web.client_id]);

const adapter = config.database_url
  ? await postgresAdapter(config.database_url)
  : UnboundedMemoryAdapter;

const provider = new Provider(config.issuer, {
  adapter,
  clients: [
    {
      client_id: config.service.client_id,
      client_secret: config.service.client_secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      client_id: config.web.client_id,
      client_secret: config.web.client_secret,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [config.web.redirect_uri],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: {
    keys: [
      signingKey('rsa', { modulusLength: 2048 }, 'RS256'),
      signingKey('ec', { namedCurve: 'P-256' }, 'ES256'),
    ],
  },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name'],
  },
  responseTypes: ['code'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    claimsParameter: { enabled: true },
  },
  // RFC 9700 2.1.1, as ours: PKCE for public clients, optional for confidential ones.
  pkce: { required: (ctx, client) => client.clientAuthMethod === 'none' },
  rotateRefreshToken: true,
  ttl: {
    AccessToken: 3600,
    ClientCredentials: 3600,
    IdToken: 3600,
    AuthorizationCode: 60,
    RefreshToken: 30 * 24 * 3600,
    Grant: 30 * 24 * 3600,
    Session: 30 * 24 * 3600,
    Interaction: 30 * 60,
  },
  routes: {
    authorization: '/authorize',
    token: '/token',
    userinfo: '/userinfo',
    jwks: '/jwks',
    introspection: '/introspect',
    revocation: '/revoke',
    end_session: '/logout',
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    if (sub !== accountId) return undefined;
    return { accountId, claims: async () => accountClaims() };
  },
  // First-party clients get no consent screen (like ours): a grant for what they ask.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    if (!firstParty.has(ctx.oidc.client.clientId)) return undefined;
    return grantFor(ctx.oidc.client.clientId, ctx.oidc.session.accountId, ctx.oidc.params.scope);
  },
});

async function grantFor(clientId, account, scope) {
  const grant = new provider.Grant({ clientId, accountId: account });
  grant.addOIDCScope(scope || 'openid');
  await grant.save();
  return grant;
}

// --- the scripted sign-in (interactions) ----------------------------------------------------

function readForm(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString())));
    req.on('error', reject);
  });
}

function page(res, status, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}

const escape = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params, session } = details;
  if (prompt.name === 'consent') {
    // prompt=consent (needed for offline_access) on a first-party client: granted at once.
    if (!firstParty.has(params.client_id)) return page(res, 403, 'third-party consent is not scripted');
    const grant = await grantFor(params.client_id, session.accountId, params.scope);
    return provider.interactionFinished(req, res, { consent: { grantId: grant.jti } },
      { mergeWithLastSubmission: true });
  }
  if (req.method === 'GET') {
    return page(res, 200, `<!doctype html><title>Sign in</title>
<form method="post" action="/interaction/${escape(uid)}">
<input name="login" type="email" value="${escape(params.login_hint || '')}">
<input name="password" type="password"><button>Sign in</button></form>`);
  }
  const form = await readForm(req);
  const ok = form.get('login')?.toLowerCase() === user.email.toLowerCase()
    && await argon2.verify(passwordHash, form.get('password') ?? '');
  if (!ok) return page(res, 200, '<p>Wrong email or password.</p>');
  return provider.interactionFinished(req, res, { login: { accountId } },
    { mergeWithLastSubmission: false });
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((error) => page(res, 500, escape(error.message)));
  } else {
    callback(req, res);
  }
});
server.keepAliveTimeout = 65_000;
server.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`ready ${config.port}\n`);
});
