// A relying party built on panva's openid-client, driven step by step from
// tests/oidc/test_openid_client_js.py. Each command reads one JSON object on stdin and
// writes one JSON object on stdout; the browser part (sign-in form) happens in Python.
//
//   node rp.mjs begin     {issuer, client_id, client_secret, redirect_uri, scope}
//     -> {url, code_verifier, state, nonce}
//   node rp.mjs complete  {...begin input, callback_url, code_verifier, state, nonce,
//                          post_logout_redirect_uri, logout_state}
//     -> {steps: {name: {ok, value | error}}}
//
// "complete" runs: code exchange (state, iss, PKCE, nonce, ID token signature and claims
// checked by the library), UserInfo, refresh with rotation, introspection, revocation,
// refresh-token reuse, and builds the end-session URL.

import * as client from 'openid-client'

async function readInput() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

async function configure(input) {
  const authentication = input.client_secret
    ? client.ClientSecretBasic(input.client_secret)
    : client.None()
  return client.discovery(
    new URL(input.issuer),
    input.client_id,
    { redirect_uris: [input.redirect_uri] },
    authentication,
    // The test provider listens on http://localhost.
    { execute: [client.allowInsecureRequests] },
  )
}

async function begin(input) {
  const config = await configure(input)
  const codeVerifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: input.redirect_uri,
    scope: input.scope,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  })
  return { url: url.href, code_verifier: codeVerifier, state, nonce }
}

function describeError(error) {
  return {
    error: error.error ?? error.code ?? error.name,
    description: error.error_description ?? error.message,
  }
}

async function complete(input) {
  const config = await configure(input)
  const steps = {}
  async function step(name, run) {
    try {
      steps[name] = { ok: true, value: await run() }
    } catch (error) {
      steps[name] = { ok: false, ...describeError(error) }
    }
    return steps[name]
  }

  let tokens
  const exchanged = await step('code_exchange', async () => {
    tokens = await client.authorizationCodeGrant(config, new URL(input.callback_url), {
      pkceCodeVerifier: input.code_verifier,
      expectedState: input.state,
      expectedNonce: input.nonce,
      idTokenExpected: true,
    })
    return {
      claims: tokens.claims(),
      token_type: tokens.token_type,
      scope: tokens.scope,
      has_refresh_token: Boolean(tokens.refresh_token),
    }
  })
  if (!exchanged.ok) return { steps }
  const subject = tokens.claims().sub

  await step('userinfo', () => client.fetchUserInfo(config, tokens.access_token, subject))

  let refreshed
  const rotation = await step('refresh', async () => {
    refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
    return {
      claims: refreshed.claims() ?? null,
      rotated: Boolean(refreshed.refresh_token) && refreshed.refresh_token !== tokens.refresh_token,
    }
  })
  if (rotation.ok) {
    await step('userinfo_after_refresh', () =>
      client.fetchUserInfo(config, refreshed.access_token, subject),
    )
    if (input.client_secret) {
      await step('introspection', () => client.tokenIntrospection(config, refreshed.access_token))
    }
    await step('revocation', async () => {
      await client.tokenRevocation(config, refreshed.refresh_token, {
        token_type_hint: 'refresh_token',
      })
      return true
    })
    if (input.client_secret) {
      await step('introspection_after_revocation', () =>
        client.tokenIntrospection(config, refreshed.access_token),
      )
    }
    await step('refresh_after_revocation', () =>
      client.refreshTokenGrant(config, refreshed.refresh_token),
    )
  }
  await step('refresh_token_reuse', () => client.refreshTokenGrant(config, tokens.refresh_token))

  await step('end_session_url', () =>
    client
      .buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token,
        post_logout_redirect_uri: input.post_logout_redirect_uri,
        state: input.logout_state,
      })
      .toString(),
  )
  return { steps }
}

const commands = { begin, complete }
const command = commands[process.argv[2]]
if (!command) {
  process.stderr.write(`usage: node rp.mjs ${Object.keys(commands).join('|')} < input.json\n`)
  process.exit(2)
}
const output = await command(await readInput())
process.stdout.write(JSON.stringify(output))
