// A real OpenID provider for the single sign-on tests: the npm `oidc-provider` package (a
// certified implementation) on loopback, with one confidential client (Tether) and the accounts
// a test names. Its own development login form signs anyone in by account id; consent is
// granted as the person arrives, as an organisation's provider would for its own tool.

import { generateKeyPairSync } from "node:crypto";
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
 * keys, the first one used. Returns `{ issuer, stop() }`.
 */
export async function startProvider({ clientId, clientSecret, redirectUri, accounts, keys = [signingKey("k1")], port }) {
  const entry = require.resolve("oidc-provider");
  const { default: Provider } = await import(pathToFileURL(entry).href);
  port ??= await freeTcpPort();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ["authorization_code"],
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
    findAccount: (_ctx, id) => {
      const claims = accounts[id];
      if (!claims) return undefined;
      return { accountId: id, claims: () => ({ sub: id, ...claims }) };
    },
    loadExistingGrant: async (ctx) => {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope("openid email profile");
      await grant.save();
      return grant;
    },
    features: { devInteractions: { enabled: true } },
    ttl: { AccessToken: 600, Grant: 600, IdToken: 600, Interaction: 600, Session: 600 },
  });
  const server = createServer(provider.callback());
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    issuer,
    port,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}
