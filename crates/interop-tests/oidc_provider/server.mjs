// OAuth 2 / OpenID Connect test server for the tower-oauth interop tests.
//
// Runs the npm `oidc-provider` (panva) on 127.0.0.1 over plain HTTP with fixed test
// clients, automatic login + consent for a fixed test user (no browser), a bearer-
// protected resource and a small stats endpoint. See ../README.md.
//
//   node server.mjs [--port N]          (default 0: any free port)
//
// A second listener serves the same provider over HTTPS with mutual TLS (RFC 8705): the
// certificates are ../keys/mtls (test-only); it asks every client for a certificate and
// accepts any (a `tls_client_auth` client's must chain to the test CA, a
// `self_signed_tls_client_auth` client's must be in its jwks). Discovery names its token
// endpoint in `mtls_endpoint_aliases`.
//
// Prints exactly one line, `READY <port> <mtls port>`, to stdout once serving; logs to stderr
// (one line per request, never a token or secret). Exits on SIGTERM / SIGINT.
//
// Environment:
//   OIDC_ACCESS_TOKEN_TTL   seconds, access and client-credentials tokens (default 3)
//   OIDC_REFRESH_TOKEN_TTL  seconds (default 3600)
//   OIDC_TEST_USER          the account every interaction logs in (default interop-user)
//   OIDC_CIBA_NOTIFICATION_ENDPOINT  https URL on 127.0.0.1 (a test's listener, whose certificate
//                           is ../keys/mtls/server.pem): the ping-mode CIBA clients'
//                           (interop-ciba-ping, interop-ciba-ping-signed)
//                           backchannel_client_notification_endpoint.
//                           Unset: those clients are not registered.
//
// OpenID Connect CIBA (poll and ping modes): /backchannel takes requests of the interop-ciba and
// interop-ciba-signed (poll) and interop-ciba-ping and interop-ciba-ping-signed (ping) clients for
// the login hints of KNOWN_CIBA_USERS (others: unknown_user_id); nothing is sent to any device:
// POST /test/ciba?login_hint=..&decision=approve|deny records the user's decision on the latest
// request for that hint, as the user's authentication device would; for a ping client,
// oidc-provider then pings its notification endpoint (the route answers 200 once the ping was
// answered 200/204, 502 otherwise).
//
// JARM (features.jwtResponseModes): a `response_mode=query.jwt` authorization response comes
// back as `?response=<JWT>`, signed with the provider's keys (the client's
// authorization_signed_response_alg). The interop-jarm* clients may use no other response mode.
// An authorization whose login_hint is DENY_HINT is denied by the user (access_denied), in
// whichever response mode was asked for.

import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { X509Certificate, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import Provider, { errors } from 'oidc-provider';
// The in-memory store oidc-provider uses by default (a path inside the package, which has no
// `exports` map), wrapped below so that expired CIBA requests are kept a while.
import { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js';

const HOST = '127.0.0.1';

function argPort() {
  const i = process.argv.indexOf('--port');
  if (i !== -1 && process.argv[i + 1] !== undefined) return Number(process.argv[i + 1]);
  return 0;
}

function envSeconds(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    throw new Error(`${name} must be a positive integer number of seconds, got ${JSON.stringify(raw)}`);
  }
  return n;
}

const ACCESS_TOKEN_TTL = envSeconds('OIDC_ACCESS_TOKEN_TTL', 3);
const REFRESH_TOKEN_TTL = envSeconds('OIDC_REFRESH_TOKEN_TTL', 3600);
const TEST_USER = process.env.OIDC_TEST_USER || 'interop-user';
// The login_hint of an authorization the user denies at the interaction.
const DENY_HINT = 'interop-deny';
// CIBA Core 10.2: oidc-provider only registers an https notification endpoint.
const CIBA_NOTIFICATION_ENDPOINT = process.env.OIDC_CIBA_NOTIFICATION_ENDPOINT || undefined;
if (CIBA_NOTIFICATION_ENDPOINT !== undefined) {
  const url = new URL(CIBA_NOTIFICATION_ENDPOINT);
  if (url.protocol !== 'https:' || url.hostname !== '127.0.0.1') {
    throw new Error('OIDC_CIBA_NOTIFICATION_ENDPOINT must be an https URL on 127.0.0.1');
  }
}

function log(msg) {
  process.stderr.write(`[oidc-provider] ${msg}\n`);
}

// ---- stats (GET /test/stats, POST /test/stats/reset) -------------------------------

const stats = {};
function count(name) {
  stats[name] = (stats[name] ?? 0) + 1;
}

// ---- listen first: the issuer must carry the real port --------------------------

const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(argPort(), HOST, resolve);
});
const { port } = server.address();
const issuer = `http://${HOST}:${port}`;
log(`listening on ${issuer}`);

const mtlsFile = (name) => readFileSync(new URL(`../keys/mtls/${name}`, import.meta.url));
const tlsServer = createTlsServer({
  key: mtlsFile('server_key.pem'),
  cert: mtlsFile('server.pem'),
  ca: mtlsFile('ca.pem'),
  requestCert: true,
  // Any certificate reaches the provider; `socket.authorized` says whether it chains to the CA.
  rejectUnauthorized: false,
});
await new Promise((resolve, reject) => {
  tlsServer.once('error', reject);
  tlsServer.listen(0, HOST, resolve);
});
const tlsPort = tlsServer.address().port;
const mtlsBase = `https://${HOST}:${tlsPort}`;
log(`mutual TLS on ${mtlsBase}`);

// Redirect URIs every client may use: a loopback callback nothing listens on (a
// client stops at the redirect), and /cb on this server, which answers 200 with the
// query as JSON (a client that follows every redirect ends there).
const redirectUris = ['http://127.0.0.1/callback', `${issuer}/cb`];
// Where RP-initiated logout may send the browser back to (OpenID Connect RP-Initiated Logout
// 1.0 §3, client metadata `post_logout_redirect_uris`): a loopback address nothing listens on
// (a client stops at the redirect), and /cb on this server.
const postLogoutRedirectUris = ['http://127.0.0.1/signed-out', `${issuer}/cb`];
const scope = 'openid offline_access profile email api:read api:write';

// (a) interop-basic: confidential, client_secret_basic. (a') interop-basic-special:
// the same with a secret that must be form-encoded before base64 (RFC 6749 2.3.1).
// (b) interop-post: confidential, client_secret_post. (c) interop-public: public
// (auth method none) with PKCE; "native" also makes oidc-provider ignore the port of
// loopback redirect URIs (RFC 8252 7.3), so http://127.0.0.1:ANY/callback works.
// (d) interop-pkjwt, interop-pkjwt-es256, interop-pkjwt-eddsa: private_key_jwt (RFC 7523) with
// RS256, ES256 and EdDSA (Ed25519); their public keys come from ../keys (the public half of a
// private PEM is taken). (f) interop-idtoken-<alg>: client_secret_basic clients whose ID tokens
// are signed with ES384, PS384, RS512, EdDSA or Ed25519 (id_token_signed_response_alg).
const clientsFile = JSON.parse(readFileSync(new URL('./clients.json', import.meta.url), 'utf8'));
// (e) interop-mtls, interop-mtls-self-signed: mutual TLS client authentication (RFC 8705)
// with certificate-bound tokens; the self-signed certificate (cert_pem) becomes the
// client's jwks, with its x5c.
const certJwks = (pem) => {
  const cert = new X509Certificate(readFileSync(new URL(pem, import.meta.url)));
  return { keys: [{ ...cert.publicKey.export({ format: 'jwk' }), x5c: [cert.raw.toString('base64')] }] };
};
// (i) interop-jarm (client_secret_basic) and interop-jarm-pkjwt (private_key_jwt, ES256): their
// authorization responses must be signed (response_modes: query.jwt / jwt only), with RS256
// and EdDSA (authorization_signed_response_alg).
// (g) interop-ciba-ping: CIBA in ping mode, registered only when a test gives its notification
// endpoint (OIDC_CIBA_NOTIFICATION_ENDPOINT). (h) interop-ciba-signed: CIBA in poll mode with
// private_key_jwt, whose backchannel requests must be signed request objects (CIBA Core 7.1.1,
// backchannel_authentication_request_signing_alg; checked with its jwks, as JAR's are).
// (i) interop-ciba-ping-signed: both, ping mode and signed requests only (the notification token
// then travels inside the request object).
// (j) interop-fapi2, interop-fapi2-ps256: the FAPI 2.0 Security Profile (features.fapi below):
// private_key_jwt (ES256; PS256 with the RSA key), pushed authorization requests required,
// DPoP-bound access tokens only; signed authorization responses (JARM), when asked for, with
// EdDSA (an algorithm FAPI 2.0 allows).
const isPingClient = (c) => c.backchannel_token_delivery_mode === 'ping';
const clients = clientsFile.clients.filter((c) => !isPingClient(c) || CIBA_NOTIFICATION_ENDPOINT).map(({ key_pem: pem, cert_pem: certPem, ...c }) => ({
  ...c,
  ...(isPingClient(c) && { backchannel_client_notification_endpoint: CIBA_NOTIFICATION_ENDPOINT }),
  ...(certPem && { jwks: certJwks(certPem) }),
  ...(pem && {
    jwks: {
      keys: [{
        ...createPublicKey(readFileSync(new URL(pem, import.meta.url))).export({ format: 'jwk' }),
        kid: c.client_id,
        use: 'sig',
        alg: c.token_endpoint_auth_signing_alg,
      }],
    },
  }),
  // (A client without the code grant, such as the CIBA one, has no response types.)
  response_types: c.grant_types.includes('authorization_code') ? ['code'] : [],
  redirect_uris: redirectUris,
  post_logout_redirect_uris: postLogoutRedirectUris,
  scope,
}));

// Fresh keys per run sign ID tokens: RSA for RS256 (the default ID token alg), and one key for
// each other alg the interop-idtoken-* clients use, pinned to it by its `alg`; the Ed25519 key
// states none, so it signs both EdDSA and Ed25519 (RFC 9864) tokens.
const signingKey = (type, options, kid, alg) => ({
  ...generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' }),
  kid,
  use: 'sig',
  ...(alg && { alg }),
});
const signingKeys = [
  signingKey('rsa', { modulusLength: 2048 }, 'interop-rs256', 'RS256'),
  signingKey('rsa', { modulusLength: 2048 }, 'interop-ps384', 'PS384'),
  signingKey('rsa', { modulusLength: 2048 }, 'interop-rs512', 'RS512'),
  signingKey('ec', { namedCurve: 'P-384' }, 'interop-es384', 'ES384'),
  signingKey('ed25519', {}, 'interop-ed25519'),
];
log('signing keys generated');

// ---- OpenID Connect CIBA (poll mode) ------------------------------------------------

// The users a login_hint may name (their account id is the hint itself).
const KNOWN_CIBA_USERS = new Set([TEST_USER, 'interop-ciba-user']);
// The user_code KNOWN_CIBA_USERS have set (a request may omit it; a wrong one is refused).
const CIBA_USER_CODE = 'interop-user-code';
// login_hint -> the id of the latest backchannel authentication request for it.
const cibaPending = new Map();

// The default store forgets a record when it expires, after which a poll with its auth_req_id
// is `invalid_grant` (unknown). A provider on a database keeps records until a purge, and
// answers `expired_token` (CIBA Core 11) meanwhile: keep expired CIBA requests 60 s longer,
// as such a store would (oidc-provider itself checks the expiry on every poll).
const memoryAdapter = createMemoryAdapter(0);
function adapter(model) {
  const store = memoryAdapter(model);
  if (model === 'BackchannelAuthenticationRequest') {
    const upsert = store.upsert.bind(store);
    store.upsert = (id, payload, expiresIn) => upsert(id, payload, typeof expiresIn === 'number' ? expiresIn + 60 : expiresIn);
  }
  return store;
}

// oidc-provider sends its outgoing requests (here: only CIBA pings) through `fetch`, with a
// dispatcher that refuses special-use addresses, loopback included (SSRF protection). The one
// test notification endpoint on 127.0.0.1 gets a dispatcher of the same kind that trusts the
// test CA (../keys/mtls/ca.pem) instead; every other URL keeps the protection.
let notificationDispatcher;
function notificationFetch(url, options) {
  if (CIBA_NOTIFICATION_ENDPOINT !== undefined && options.dispatcher !== undefined
    && new URL(url).origin === new URL(CIBA_NOTIFICATION_ENDPOINT).origin) {
    const Agent = options.dispatcher.constructor;
    notificationDispatcher ??= new Agent({ connect: { ca: mtlsFile('ca.pem') } });
    count('ciba_ping_sent');
    return globalThis.fetch(url, { ...options, dispatcher: notificationDispatcher });
  }
  return globalThis.fetch(url, options);
}

const configuration = {
  adapter,
  fetch: notificationFetch,
  // No grace past `exp` (the default is 15 s): userinfo refuses an expired token at once, as
  // the test resource below does, so the 401-driven refresh of DPoP tokens runs for real.
  clockTolerance: 0,
  clients,
  jwks: { keys: signingKeys },
  // The ID token algs on offer: oidc-provider's defaults (RS256, PS256, ES256, Ed25519, EdDSA)
  // and the ones its defaults leave out that the interop-idtoken-* clients use.
  enabledJWA: {
    idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256', 'Ed25519', 'EdDSA', 'PS384', 'RS512', 'ES384'],
  },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'api:read', 'api:write'],
  claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, name: 'Interop Test User', email: `${sub}@example.invalid` };
      },
    };
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // RFC 8628; the user's approval comes from POST /test/device (no browser).
    deviceFlow: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    // JAR (RFC 9101): signed request objects, verified with the client's registered jwks (the
    // private_key_jwt clients'); parameters outside the object are ignored. Not required, so
    // plain requests still work.
    requestObjects: { enabled: true },
    // JARM (JWT Secured Authorization Response Mode): query.jwt, fragment.jwt, form_post.jwt
    // and jwt, signed with the algorithms of oidc-provider's defaults (RS256, PS256, ES256,
    // Ed25519, EdDSA) when the provider has a key for them.
    jwtResponseModes: { enabled: true },
    // OpenID Connect CIBA Core 1.0, poll and ping modes (oidc-provider has no push mode).
    // Every hook is set: the defaults print notices on stdout (which carries only READY) or
    // throw.
    ciba: {
      enabled: true,
      deliveryModes: ['poll', 'ping'],
      async processLoginHint(_ctx, loginHint) {
        return KNOWN_CIBA_USERS.has(loginHint) ? loginHint : undefined;
      },
      async processLoginHintToken() {
        throw new errors.InvalidRequest('login_hint_token is not supported here');
      },
      async verifyUserCode(_ctx, _account, userCode) {
        if (userCode !== undefined && userCode !== CIBA_USER_CODE) {
          throw new errors.InvalidUserCode('the user_code is wrong');
        }
      },
      async validateBindingMessage(_ctx, bindingMessage) {
        if (bindingMessage !== undefined && !/^[a-zA-Z0-9-._+/!?#]{1,20}$/.test(bindingMessage)) {
          throw new errors.InvalidBindingMessage('binding_message must be 1-20 plain characters');
        }
      },
      async validateRequestContext() {},
      async triggerAuthenticationDevice(_ctx, request, account) {
        // Nothing to notify: POST /test/ciba decides. (The auth_req_id is never logged.)
        cibaPending.set(account.accountId, request.jti);
        count('ciba_requested');
      },
    },
    // OpenID Connect RP-Initiated Logout 1.0 (on by default; said here): GET /session/end,
    // discovery's `end_session_endpoint`. With a session it answers a page asking the user,
    // whose form posts `xsrf` (and `logout=yes` from the "Yes" button) to /session/end/confirm;
    // that ends the session (tokens outlive it: expiresWithSession below) and redirects to the
    // registered post_logout_redirect_uri with the request's `state`. Both pages are plain here
    // (the defaults load web fonts and print a notice on stdout, which carries only READY).
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = `<!DOCTYPE html><html><head><title>Sign out</title></head><body>${form}`
          + '<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>'
          + '<button type="submit" form="op.logoutForm">No, stay signed in</button></body></html>';
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = '<!DOCTYPE html><html><head><title>Signed out</title></head><body>Signed out.</body></html>';
      },
    },
    // DPoP (RFC 9449) with server nonces that every proof must carry: a client's first proof
    // gets `use_dpop_nonce` and a DPoP-Nonce to retry with.
    dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true },
    mTLS: {
      enabled: true,
      certificateBoundAccessTokens: true,
      tlsClientAuth: true,
      selfSignedTlsClientAuth: true,
      // Only the TLS listener's sockets have a peer certificate.
      getCertificate: (ctx) => ctx.socket.getPeerX509Certificate?.() ?? undefined,
      certificateAuthorized: (ctx) => ctx.socket.authorized === true,
      certificateSubjectMatches: (ctx, property, expected) => {
        const cert = ctx.socket.getPeerX509Certificate?.();
        return property === 'tls_client_auth_subject_dn'
          && cert !== undefined && cert.subject.split('\n').join(',') === expected;
      },
    },
    // FAPI 2.0 Security Profile, for the interop-fapi2* clients only (every other client keeps
    // the plain rules): PKCE required, client assertions whose `aud` is the issuer identifier,
    // request objects with `nbf` and `exp` at most an hour apart. interop-fapi2 also registers
    // require_pushed_authorization_requests and dpop_bound_access_tokens.
    fapi: {
      enabled: true,
      profile: (_ctx, client) => (client?.clientId?.startsWith('interop-fapi2') ? '2.0' : undefined),
    },
  },
  clientAuthMethods: [
    'client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none',
    'tls_client_auth', 'self_signed_tls_client_auth',
  ],
  // RFC 8705 5: clients using mutual TLS call the token endpoint on the TLS listener.
  discovery: {
    mtls_endpoint_aliases: {
      token_endpoint: `${mtlsBase}/token`,
      userinfo_endpoint: `${mtlsBase}/me`,
      introspection_endpoint: `${mtlsBase}/token/introspection`,
    },
  },
  // PKCE (S256, the only method oidc-provider 9 supports) for every client.
  pkce: { required: () => true },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  // Refresh tokens for every authorization_code grant of a client allowed to refresh
  // (no need for scope=offline_access + prompt=consent), rotated on every use: the
  // old one is consumed, and presenting it again is invalid_grant (oidc-provider then
  // also revokes the whole grant).
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
  // Refresh tokens outlive the (cookie) session: cookieless clients have none.
  expiresWithSession: async () => false,
  // Opaque access tokens: no resource indicator defaults, so no JWT access tokens.
  ttl: {
    AccessToken: ACCESS_TOKEN_TTL,
    ClientCredentials: ACCESS_TOKEN_TTL,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: REFRESH_TOKEN_TTL,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  // Plain-text errors are enough for tests; never echo request details into HTML.
  async renderError(ctx, out) {
    ctx.type = 'application/json';
    ctx.body = out;
  },
};

const provider = new Provider(issuer, configuration);
// Loopback over plain HTTP: nothing in front of us terminating TLS.
provider.proxy = false;

provider.on('grant.success', (ctx) => count(`grant_${ctx.oidc.params.grant_type}_ok`));
provider.on('grant.error', (ctx, err) => {
  count(`grant_${ctx.oidc?.params?.grant_type ?? 'unknown'}_error`);
  log(`grant error: ${err.error ?? err.name}: ${err.error_description ?? ''}`);
});
provider.on('server_error', (_ctx, err) => log(`server_error: ${err.stack ?? err}`));
provider.on('introspection.error', (_ctx, err) => log(`introspection error: ${err.message}`));
provider.on('revocation.error', (_ctx, err) => log(`revocation error: ${err.message}`));
provider.on('refresh_token.consumed', () => count('refresh_token_consumed'));
provider.on('end_session.success', () => count('end_session_ok'));
// The description only (never the request's parameters: an id_token_hint is a token).
provider.on('end_session.error', (_ctx, err) => {
  count('end_session_error');
  log(`end session error: ${err.error ?? err.name}: ${err.error_description ?? ''}`);
});

// ---- cookieless redirect following ----------------------------------------------
//
// oidc-provider ties the three hops of an authorization (/auth -> /interaction/UID ->
// /auth/UID) together with cookies. So that a client which only follows redirects
// (no cookie jar) still reaches the callback, we remember the cookies set by the
// response that redirects to /interaction/UID and supply them on the two later hops
// when the client sends none. The UID is a random value only this flow knows.

const jar = new Map(); // uid -> { cookies: 'a=b; c=d', at: ms }
const INTERACTION_PATH = /^\/interaction\/([A-Za-z0-9_-]+)$/;
const RESUME_PATH = /^\/auth\/([A-Za-z0-9_-]+)$/;

function rememberCookies(res) {
  const location = res.getHeader('location');
  const setCookie = res.getHeader('set-cookie');
  if (typeof location !== 'string' || !setCookie) return;
  const m = INTERACTION_PATH.exec(new URL(location, issuer).pathname);
  if (!m) return;
  const pairs = [].concat(setCookie).map((c) => String(c).split(';')[0]).filter((p) => !p.endsWith('='));
  jar.set(m[1], { cookies: pairs.join('; '), at: Date.now() });
  for (const [uid, v] of jar) if (Date.now() - v.at > 600_000) jar.delete(uid);
}

function supplyCookies(req, pathname) {
  const m = INTERACTION_PATH.exec(pathname) ?? RESUME_PATH.exec(pathname);
  if (!m || !jar.has(m[1])) return;
  const own = req.headers.cookie ?? '';
  if (own.includes('_interaction')) return; // a client with a jar: leave it alone
  req.headers.cookie = own ? `${own}; ${jar.get(m[1]).cookies}` : jar.get(m[1]).cookies;
  if (RESUME_PATH.test(pathname)) jar.delete(m[1]);
}

// ---- our own routes ----------------------------------------------------------------

function sendJson(res, status, body, headers = {}) {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(data),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(data);
}

// Log in TEST_USER and grant every requested scope, then let oidc-provider resume.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { params, prompt } = details;
  if (params.login_hint === DENY_HINT) {
    count('interaction_denied');
    await provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'the user denied the request' },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: TEST_USER, clientId: params.client_id });
  // Grant what was asked for, whether this is the login or the consent prompt.
  if (params.scope) grant.addOIDCScope(params.scope);
  const missing = prompt.details ?? {};
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  count('interaction_ok');
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: TEST_USER }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

// Bearer-protected resource (RFC 6750): opaque tokens from the authorization code /
// refresh grants (AccessToken) or from client_credentials (ClientCredentials).
async function apiResource(req, res) {
  const challenge = (error, description) => ({
    'www-authenticate': `Bearer realm="interop", error="${error}", error_description="${description}"`,
  });
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(req.headers.authorization ?? '');
  if (!m) {
    count('api_resource_unauthorized');
    return sendJson(res, 401, { error: 'invalid_request' }, {
      'www-authenticate': 'Bearer realm="interop"',
    });
  }
  const value = m[1];
  let token = await provider.AccessToken.find(value);
  let kind = 'access_token';
  if (!token) {
    token = await provider.ClientCredentials.find(value);
    kind = 'client_credentials';
  }
  if (!token || token.isExpired) {
    count('api_resource_invalid_token');
    return sendJson(res, 401, { error: 'invalid_token' },
      challenge('invalid_token', 'unknown, expired or revoked token'));
  }
  count('api_resource_ok');
  return sendJson(res, 200, {
    sub: token.accountId ?? null,
    client_id: token.clientId,
    scope: token.scope ?? '',
    kind,
    exp: token.exp,
  });
}

// The user's side of the device flow (RFC 8628 3.3), as oidc-provider's own user code page
// would record it after the user logged in: POST /test/device?user_code=..&decision=approve
// grants the requested scopes to TEST_USER; decision=deny records access_denied.
async function deviceDecision(req, res, params) {
  const userCode = (params.get('user_code') ?? '').toUpperCase().replace(/[^A-Z0-9]/g, '');
  const code = await provider.DeviceCode.findByUserCode(userCode, { ignoreExpiration: true });
  if (!code || code.isExpired || code.accountId || code.error) {
    count('device_decision_invalid');
    return sendJson(res, 400, { error: 'invalid_user_code' });
  }
  if (params.get('decision') === 'deny') {
    Object.assign(code, { error: 'access_denied', errorDescription: 'the user denied the request' });
  } else {
    const scope = code.params.scope ?? 'openid';
    const grant = new provider.Grant({ accountId: TEST_USER, clientId: code.clientId });
    grant.addOIDCScope(scope);
    const grantId = await grant.save();
    Object.assign(code, {
      accountId: TEST_USER,
      authTime: Math.floor(Date.now() / 1000),
      grantId,
      scope,
    });
  }
  await code.save();
  count(`device_${params.get('decision') === 'deny' ? 'denied' : 'approved'}`);
  return sendJson(res, 200, {});
}

// The user's side of CIBA (poll mode), as their authentication device would report it:
// POST /test/ciba?login_hint=..&decision=approve grants the request's scopes to that user;
// decision=deny records access_denied. Acts on the latest request for the hint.
async function cibaDecision(res, params) {
  const hint = params.get('login_hint') ?? '';
  const id = cibaPending.get(hint);
  const request = id && await provider.BackchannelAuthenticationRequest.find(id, { ignoreExpiration: true });
  if (!request || request.grantId || request.error) {
    count('ciba_decision_invalid');
    return sendJson(res, 400, { error: 'no_pending_request' });
  }
  cibaPending.delete(hint);
  // For a ping client, backchannelResult also pings its notification endpoint, and throws
  // when that does not answer 200 or 204 (the message names the endpoint and the status only).
  try {
    if (params.get('decision') === 'deny') {
      await provider.backchannelResult(request, new errors.AccessDenied('the user denied the request'));
      count('ciba_denied');
    } else {
      const grant = new provider.Grant({ accountId: request.accountId, clientId: request.clientId });
      grant.addOIDCScope(request.scope);
      await grant.save();
      await provider.backchannelResult(request, grant, { authTime: Math.floor(Date.now() / 1000) });
      count('ciba_approved');
    }
  } catch (err) {
    count('ciba_ping_failed');
    log(`ciba ping failed: ${err.message}${err.cause ? ` (${err.cause.code ?? err.cause.message})` : ''}`);
    return sendJson(res, 502, { error: 'ping_failed' });
  }
  return sendJson(res, 200, {});
}

// ---- request handling --------------------------------------------------------------

const providerCallback = provider.callback();

async function handle(req, res) {
  const started = Date.now();
  const url = new URL(req.url, issuer);
  const { pathname } = url;
  res.on('finish', () => log(`${req.method} ${pathname} -> ${res.statusCode} (${Date.now() - started} ms)`));
  try {
    if (pathname === '/token') count('token_requests');
    // oidc-provider's own userinfo endpoint is the DPoP-checking resource server: count what
    // it answers (200, or 401 with use_dpop_nonce / invalid_token).
    if (pathname === '/me') res.on('finish', () => count(`userinfo_${res.statusCode}`));
    if (pathname === '/test/stats' && req.method === 'GET') {
      return sendJson(res, 200, { ...stats });
    }
    if (pathname === '/test/stats/reset' && req.method === 'POST') {
      for (const k of Object.keys(stats)) delete stats[k];
      return sendJson(res, 200, {});
    }
    if (pathname === '/health') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('ok\n');
    }
    if (pathname === '/test/device' && req.method === 'POST') {
      return await deviceDecision(req, res, url.searchParams);
    }
    if (pathname === '/test/ciba' && req.method === 'POST') {
      return await cibaDecision(res, url.searchParams);
    }
    if (pathname === '/api/resource' && req.method === 'GET') {
      return await apiResource(req, res);
    }
    if (pathname === '/cb' && req.method === 'GET') {
      count('callback');
      return sendJson(res, 200, Object.fromEntries(url.searchParams));
    }
    supplyCookies(req, pathname);
    if (INTERACTION_PATH.test(pathname) && req.method === 'GET') {
      await interaction(req, res);
      return undefined;
    }
    if (pathname === '/auth' || RESUME_PATH.test(pathname)) {
      const writeHead = res.writeHead;
      res.writeHead = function patchedWriteHead(...args) {
        rememberCookies(res);
        return writeHead.apply(this, args);
      };
    }
    return providerCallback(req, res);
  } catch (err) {
    log(`error on ${req.method} ${pathname}: ${err.stack ?? err}`);
    if (!res.headersSent) {
      sendJson(res, err.statusCode ?? 500, { error: err.error ?? 'server_error', error_description: err.error_description ?? err.message });
    } else {
      res.end();
    }
    return undefined;
  }
}
server.on('request', handle);
tlsServer.on('request', handle);

function shutdown(signal) {
  log(`${signal}, shutting down`);
  tlsServer.close();
  tlsServer.closeAllConnections?.();
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
// If our parent dies without signalling us, we get re-parented: stop then too.
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid) shutdown('parent gone');
}, 1000).unref();

log(`issuer ${issuer}; access token TTL ${ACCESS_TOKEN_TTL}s, refresh token TTL ${REFRESH_TOKEN_TTL}s`);
process.stdout.write(`READY ${port} ${tlsPort}\n`);
