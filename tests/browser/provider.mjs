// A real OpenID provider for the single sign-on tests: the npm `oidc-provider` package (a
// certified implementation) on loopback, with one confidential client (Tether) and the accounts
// a test names. Its own development login form signs anyone in by account id; consent is
// granted as the person arrives, as an organisation's provider would for its own tool. An
// account removed from `accounts` is one disabled at the provider: its refresh tokens are
// refused from then on.

import { createPrivateKey, generateKeyPairSync, sign } from "node:crypto";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import { ROOT, freeTcpPort } from "./harness.mjs";

const require = createRequire(join(ROOT, "web/package.json"));

/** A fresh RSA signing key as a private JWK, with id `kid`. */
export function signingKey(kid) {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { ...privateKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" };
}

/**
 * Starts the provider on `port` (a free one if none). `accounts` maps an account id to its
 * claims (`email`, `email_verified`, `name`, `given_name`, `groups`, …); `keys` are its signing
 * keys, the first one used. Returns `{ issuer, port, refreshes, stop() }`, `refreshes` counting
 * the refresh-token grants asked for by account id.
 */
export async function startProvider({ clientId, clientSecret, redirectUri, accounts, keys = [signingKey("k1")], port }) {
  const entry = require.resolve("oidc-provider");
  const { default: Provider } = await import(pathToFileURL(entry).href);
  port ??= await freeTcpPort();
  /** Refresh-token grants asked for, by account id. */
  const refreshes = {};
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    jwks: { keys },
    cookies: { keys: ["provider cookie key for tests only"] },
    pkce: { required: () => true },
    claims: {
      openid: ["sub", "groups"],
      email: ["email", "email_verified"],
      profile: ["name", "given_name"],
    },
    // The claims the scopes ask for travel in the id_token, as Entra ID and Okta send them.
    conformIdTokenClaims: false,
    findAccount: (ctx, id) => {
      if (ctx.oidc?.params?.grant_type === "refresh_token") refreshes[id] = (refreshes[id] ?? 0) + 1;
      const claims = accounts[id];
      if (!claims) return undefined;
      return { accountId: id, claims: () => ({ sub: id, ...claims }) };
    },
    loadExistingGrant: async (ctx) => {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope("openid email profile offline_access");
      await grant.save();
      return grant;
    },
    // Refresh tokens for every sign-in, as Entra ID, Okta and Keycloak give them to a client
    // allowed the grant (this package alone keeps offline_access for prompt=consent).
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    features: { devInteractions: { enabled: true } },
    ttl: { AccessToken: 600, Grant: 600, IdToken: 600, Interaction: 600, RefreshToken: 3600, Session: 600 },
  });
  // A fault of the provider itself shows on its error page only: say it where tests are read.
  provider.on("server_error", (_ctx, e) => console.error(`[provider] ${e.stack ?? e}`));
  const handle = provider.callback();
  const fixture = {
    issuer,
    port,
    refreshes,
    /**
     * Set to a function of an id_token's claims to play a provider that misbehaves: the token
     * endpoint's id_tokens then carry what it returns, signed again with the provider's key
     * (or, if it returns `{ unsigned: claims }`, with the original signature left on).
     */
    tamper: null,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
  const server = createServer((req, res) => {
    if (fixture.tamper && req.url.startsWith("/token")) rewriteIdToken(res, fixture.tamper, keys[0]);
    handle(req, res);
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return fixture;
}

/** Makes `res` send the token answer with its id_token's claims passed through `tamper`. */
function rewriteIdToken(res, tamper, jwk) {
  const chunks = [];
  const { write, end } = res;
  res.write = (chunk) => {
    chunks.push(Buffer.from(chunk));
    return true;
  };
  res.end = (chunk) => {
    if (chunk) chunks.push(Buffer.from(chunk));
    res.write = write;
    res.end = end;
    let body = Buffer.concat(chunks);
    const answer = JSON.parse(body.toString("utf8") || "{}");
    if (answer.id_token) {
      const [header, payload, signature] = answer.id_token.split(".");
      const changed = tamper(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")));
      const unsigned = changed.unsigned !== undefined;
      const claims = Buffer.from(JSON.stringify(unsigned ? changed.unsigned : changed)).toString("base64url");
      const signed = unsigned
        ? signature
        : sign("sha256", Buffer.from(`${header}.${claims}`), createPrivateKey({ key: jwk, format: "jwk" })).toString("base64url");
      answer.id_token = `${header}.${claims}.${signed}`;
      body = Buffer.from(JSON.stringify(answer));
      res.setHeader("content-length", body.length);
    }
    return end.call(res, body);
  };
}
