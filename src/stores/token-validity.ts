import type { StoredToken } from './token-store.ts'

/**
 * Seconds before expiry at which a token counts as expired (the authenticators' default `skew`), so that it is
 * not sent just as it runs out.
 */
export const defaultSkewSeconds = 30

/**
 * Whether a stored access token is still good: more than `skewMs` before its expiry, the skew capped at half the
 * token's lifetime so that a short-lived token is still reused; one without an expiry is good until refused.
 * Internal: the authenticators and the CLI's warm path (which must not load valibot) judge alike.
 */
export function isTokenUsable(
  token: Pick<StoredToken, 'expiresAt' | 'obtainedAt'>,
  skewMs: number,
  now = Date.now(),
): boolean {
  if (token.expiresAt === undefined) return true
  const skew = Math.min(skewMs, (token.expiresAt - token.obtainedAt) / 2)
  return now < token.expiresAt - skew
}

/**
 * Whom a stored token set is for: `endpoint` (the token endpoint, else the issuer), client id, sorted scopes, audience. An
 * authenticator ignores a stored set with another binding. Internal: the authenticators and the CLI's warm path.
 */
export function tokenBinding(
  endpoint: string | URL | undefined,
  clientId: string,
  scopes: readonly string[],
  audience: string | undefined,
): string {
  return JSON.stringify([String(endpoint), clientId, [...scopes].sort(), audience ?? null])
}
