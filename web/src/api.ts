// The relay's HTTP API. The web app never sees a token: sign-in sets HttpOnly, SameSite=Strict
// cookies (access, and refresh scoped to /api/v1/auth), which the browser sends by itself.

import type { ErrorBody, LoginRequest, Principal, RefreshRequest, SsoRedirect, SsoStart } from "./generated/api";

/** An error reply from the relay (`{"error": {"code", "message"}}`) or the network. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }
}

// The bodies' types are generated from the relay's Rust types (`web/src/generated/api.ts`).
export type { ApiKeyInfo, AuditEntry, Member, SessionRecord } from "./generated/api";

/** The signed-in user, as `/api/v1/me` returns it. */
export type Me = Principal;

async function send(method: string, path: string, body?: unknown): Promise<Response> {
  try {
    return await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError("relay", 0, String(e));
  }
}

async function parse<T>(resp: Response): Promise<T> {
  const text = await resp.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // A proxy's HTML error page, say: reported by status below.
  }
  if (resp.ok) return json as T;
  const err = (json as Partial<ErrorBody> | null)?.error;
  const retry = err?.retry_after_ms ?? (Number(resp.headers.get("retry-after")) * 1000 || null);
  throw new ApiError(err?.code ?? `http_${resp.status}`, resp.status, err?.message ?? resp.statusText, retry);
}

let refreshing: Promise<boolean> | null = null;

/** Exchanges the refresh cookie for fresh cookies; false when the sign-in is over. */
export function refresh(): Promise<boolean> {
  refreshing ??= send("POST", "/api/v1/auth/refresh", {} satisfies RefreshRequest)
    .then((r) => r.ok)
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/**
 * Calls the API; on an expired access token, refreshes once and retries. A wrong password or
 * code (`bad_credentials`) is an answer, not an expired sign-in: it is not retried.
 */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  let resp = await send(method, path, body);
  if (resp.status === 401 && !/^\/api\/v1\/auth\/(login|refresh)/.test(path) && !(await badCredentials(resp)) && (await refresh())) {
    resp = await send(method, path, body);
  }
  return parse<T>(resp);
}

/** Whether a 401 says the credentials typed were wrong (reads a clone; `resp` stays unread). */
async function badCredentials(resp: Response): Promise<boolean> {
  const json = (await resp
    .clone()
    .json()
    .catch(() => null)) as Partial<ErrorBody> | null;
  return json?.error?.code === "bad_credentials";
}

/** Signs in; throws `totp_required` when the account needs its code. */
export function login(email: string, password: string, totp?: string): Promise<unknown> {
  const body: LoginRequest = totp ? { email, password, totp } : { email, password };
  return api("POST", "/api/v1/auth/login", body);
}

/** The identity provider's sign-in URL for `email`'s organisation (and the relay's cookie). */
export function ssoStart(email: string): Promise<SsoRedirect> {
  const body: SsoStart = { email };
  return api("POST", "/api/v1/auth/sso/start", body);
}

/** The signed-in user, or null when nobody is. */
export async function me(): Promise<Me | null> {
  try {
    return await api<Me>("GET", "/api/v1/me");
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

/** Signs out this browser (revokes the sign-in and closes its sockets). */
export async function logout(): Promise<void> {
  await api("POST", "/api/v1/auth/logout").catch(() => undefined);
}
