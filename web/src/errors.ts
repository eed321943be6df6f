// Turns the relay's stable error codes and session-end reasons into the user's language.

import { ApiError } from "./api";
import { hasKey, t } from "./i18n";

/** A message for an error `code` from the relay; `retryAfterMs` fills in the wait. */
export function errorText(code: string, retryAfterMs?: number | null): string {
  const seconds = Math.max(1, Math.ceil((retryAfterMs ?? 0) / 1000));
  const key = `err.${code}`;
  if (hasKey(key)) return t(key, { seconds, code });
  return t("err.other", { code });
}

/** A message for a failed API call: the relay's error in the user's language, else what failed. */
export function failure(e: unknown): string {
  return e instanceof ApiError ? errorText(e.code, e.retryAfterMs) : String(e);
}

/** A message for a `session_end` reason. */
export function reasonText(reason: string): string {
  const key = `reason.${reason}`;
  return hasKey(key) ? t(key) : t("reason.other");
}
