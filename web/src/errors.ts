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

/** What the page saw of a media connection that failed: TURN unreachable, refusing, or neither. */
export type FailureCause = "turn_unreachable" | "turn_refused" | null;

/** What to tell the supporter when the media connection failed, by what the page saw. */
export function failureText(cause: FailureCause): string {
  if (cause === "turn_unreachable") return t("err.turnUnreachable");
  if (cause === "turn_refused") return t("err.turnRefused");
  return t("err.network");
}

/**
 * A message for a session that ended for `reason`. The computer often gives up on a failed
 * media connection before the page does, so when the page saw TURN as the cause it is named
 * rather than a bare "the connection failed".
 */
export function endText(reason: string, cause: FailureCause): string {
  return reason === "connection_failed" && cause ? failureText(cause) : reasonText(reason);
}
