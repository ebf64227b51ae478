import * as v from 'valibot'

// Schemas are built once at module load: building them per response would cost more than parsing.

/**
 * A non-negative number of seconds, sent as a JSON number or as a numeric string (some servers quote it,
 * and form-encoded answers carry only strings).
 */
const seconds = v.union([
  v.pipe(v.number(), v.finite(), v.minValue(0)),
  // A string of 400 digits is numeric too, but Number() makes it Infinity: hence the second finite check.
  v.pipe(v.string(), v.regex(/^\s*\d+(\.\d+)?\s*$/), v.transform(Number), v.finite()),
])

/** Strings the RFCs make optional; `null` is treated as absent, as several servers send it that way. */
const optionalString = v.nullish(v.string())

/**
 * An OAuth error answer, RFC 6749 §5.2 (also sent by device endpoints, RFC 8628 §3.5). `interval` is read
 * because a `slow_down` answer may carry a new one.
 */
export const oauthErrorBodySchema = v.looseObject({
  error: v.string(),
  error_description: v.optional(v.unknown()),
  error_uri: v.optional(v.unknown()),
  interval: v.optional(v.unknown()),
})

/** What a caller gets back from a token endpoint: the camelCase view of RFC 6749 §5.1, plus the raw body. */
export const tokenResponseSchema = v.object({
  /** The access token. */
  accessToken: v.string(),
  /** The refresh token, when the server issued one. */
  refreshToken: v.optional(v.string()),
  /** Lifetime of the access token in seconds, when the server said (RFC 6749 §5.1 only recommends it). */
  expiresIn: v.optional(v.number()),
  /** The token type, usually `Bearer`. */
  tokenType: v.optional(v.string()),
  /** The granted scopes, space-separated, when the server said. */
  scope: v.optional(v.string()),
  /** The OpenID Connect ID token, when the server issued one. */
  idToken: v.optional(v.string()),
  /** The whole response body as parsed. */
  raw: v.record(v.string(), v.unknown()),
})

/**
 * A successful token response: the fields of {@link tokenResponseSchema}. `refreshToken` is there only when
 * the server issued one.
 */
export type TokenResponse = v.InferOutput<typeof tokenResponseSchema>

/** The body of a successful token endpoint answer, RFC 6749 §5.1, mapped to {@link TokenResponse}. */
export const tokenBodySchema = v.pipe(
  v.looseObject({
    access_token: v.pipe(v.string(), v.minLength(1, 'must be a non-empty string')),
    refresh_token: optionalString,
    // An unusable expires_in (negative, "soon") does not make the token unusable: it is read as absent.
    expires_in: v.fallback(v.optional(seconds), undefined),
    token_type: optionalString,
    scope: optionalString,
    id_token: optionalString,
  }),
  v.transform((body): TokenResponse => {
    const out: TokenResponse = { accessToken: body.access_token, raw: body }
    if (body.refresh_token != null) out.refreshToken = body.refresh_token
    if (body.expires_in !== undefined) out.expiresIn = body.expires_in
    if (body.token_type != null) out.tokenType = body.token_type
    if (body.scope != null) out.scope = body.scope
    if (body.id_token != null) out.idToken = body.id_token
    return out
  }),
)

/** The fields a {@link DeviceCodeResponse} is built from (RFC 8628 §3.2). */
export const deviceCodeInitSchema = v.object({
  deviceCode: v.pipe(v.string(), v.minLength(1)),
  userCode: v.pipe(v.string(), v.minLength(1)),
  verificationUri: v.pipe(v.string(), v.minLength(1)),
  verificationUriComplete: v.optional(v.string()),
  expiresIn: v.pipe(v.number(), v.finite(), v.minValue(0)),
  interval: v.optional(v.pipe(v.number(), v.finite(), v.minValue(0))),
})

/** The constructor argument of {@link DeviceCodeResponse}. */
export type DeviceCodeInit = v.InferInput<typeof deviceCodeInitSchema>

const nonEmpty = v.pipe(v.string(), v.minLength(1, 'must be a non-empty string'))

/**
 * The body of a device authorization answer, RFC 8628 §3.2. `verification_url` is accepted for
 * `verification_uri` because Google sends that name; `interval` defaults to 5 seconds (§3.2).
 */
export const deviceAuthorizationBodySchema = v.pipe(
  v.looseObject({
    device_code: nonEmpty,
    user_code: nonEmpty,
    verification_uri: v.optional(nonEmpty),
    verification_url: v.optional(nonEmpty),
    verification_uri_complete: optionalString,
    expires_in: seconds,
    interval: v.optional(seconds),
  }),
  v.check(
    (body) => body.verification_uri !== undefined || body.verification_url !== undefined,
    'verification_uri is missing',
  ),
  v.transform(
    (body): DeviceCodeInit => ({
      deviceCode: body.device_code,
      userCode: body.user_code,
      verificationUri: body.verification_uri ?? body.verification_url ?? '',
      ...(body.verification_uri_complete != null
        ? { verificationUriComplete: body.verification_uri_complete }
        : {}),
      expiresIn: body.expires_in,
      interval: body.interval ?? 5,
    }),
  ),
)

/** Describes valibot issues as `field: message` pairs, naming fields but never echoing their values. */
export function describeIssues(issues: ReadonlyArray<v.BaseIssue<unknown>>): string {
  return issues
    .slice(0, 3)
    .map((issue) => {
      const path = issue.path?.map((item) => String(item.key)).join('.')
      const expected = issue.expected ? `expected ${issue.expected}` : issue.message
      return path ? `${path}: ${expected}` : expected
    })
    .join('; ')
}
