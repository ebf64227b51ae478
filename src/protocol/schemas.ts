import * as v from 'valibot'

// Schemas are built once at module load: building them per response would cost more than parsing. Those the
// core's request path does not use are built in a `/* @__PURE__ */` call, so that bundlers drop them when
// unused even with valibot kept external (they cannot know valibot's calls are pure).

/**
 * A non-negative number of seconds from a JSON number or a numeric string (some servers quote it, and
 * form-encoded answers carry only strings); `undefined` for anything else.
 */
export function toSeconds(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value
  // A string of 400 digits is numeric too, but Number() makes it Infinity.
  return Number.isFinite(n) && (n as number) >= 0 ? (n as number) : undefined
}

/** {@link toSeconds} as a schema: a value that is no number of seconds fails with "expected number". */
const seconds = v.pipe(v.unknown(), v.transform(toSeconds), v.number())

/** A non-negative finite number (of seconds) given as a number. */
const secondsNumber = v.pipe(
  v.number(),
  v.check((n) => toSeconds(n) !== undefined, 'must be a non-negative number'),
)

const nonEmpty = v.pipe(
  v.string(),
  v.check((s) => s !== '', 'must be a non-empty string'),
)

/** Strings the RFCs make optional; `null` is treated as absent, as several servers send it that way. */
const optionalString = v.nullish(v.string())

/**
 * What a caller gets back from a token endpoint: the camelCase view of RFC 6749 §5.1, plus the raw body.
 * The source of the {@link TokenResponse} type; use it to validate a token response kept elsewhere.
 *
 * @example
 * ```ts
 * const token: TokenResponse = v.parse(tokenResponseSchema, JSON.parse(cached))
 * ```
 */
export const tokenResponseSchema = /* @__PURE__ */ (() =>
  v.object({
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
  }))()

/**
 * A successful token response: the fields of {@link tokenResponseSchema}. `refreshToken` is there only when
 * the server issued one.
 *
 * @example
 * ```ts
 * const { accessToken, refreshToken, expiresIn }: TokenResponse = await getToken(tokenEndpoint, { authorizationHeader })
 * ```
 */
export type TokenResponse = v.InferOutput<typeof tokenResponseSchema>

/** The body of a successful token endpoint answer, RFC 6749 §5.1, mapped to {@link TokenResponse}. */
export const tokenBodySchema = v.pipe(
  v.looseObject({
    access_token: nonEmpty,
    refresh_token: optionalString,
    token_type: optionalString,
    scope: optionalString,
    id_token: optionalString,
  }),
  v.transform((body): TokenResponse => {
    // `raw` holds every field as sent: expires_in is read here, not converted in the object.
    const out: TokenResponse = { accessToken: body.access_token, raw: body }
    // An unusable expires_in (negative, "soon") does not make the token unusable: it is read as absent.
    const expiresIn = toSeconds(body.expires_in)
    if (expiresIn !== undefined) out.expiresIn = expiresIn
    if (body.refresh_token != null) out.refreshToken = body.refresh_token
    if (body.token_type != null) out.tokenType = body.token_type
    if (body.scope != null) out.scope = body.scope
    if (body.id_token != null) out.idToken = body.id_token
    return out
  }),
)

/**
 * The fields of a {@link DeviceCodeResponse} (RFC 8628 §3.2, camelCase): its constructor's argument is this
 * schema's input, its fields are this schema's output.
 */
export const deviceCodeInitSchema = v.object({
  /** The device verification code: a secret, sent only to the token endpoint. */
  deviceCode: nonEmpty,
  /** The code the user types at the verification page. */
  userCode: nonEmpty,
  /** Where the user goes to enter the code (any non-empty string: some servers send a bare host). */
  verificationUri: nonEmpty,
  /** The verification URI with the user code already in it, when the server sent one. */
  verificationUriComplete: v.optional(v.string()),
  /** Lifetime of the device code and user code, in seconds. */
  expiresIn: secondsNumber,
  /** Minimum seconds between polls; 5 when the server sent none (RFC 8628 §3.2). */
  interval: v.optional(secondsNumber, 5),
})

/**
 * The constructor argument of {@link DeviceCodeResponse}: `interval` may be left out (5 seconds).
 *
 * @example
 * ```ts
 * const init: DeviceCodeInit = { deviceCode, userCode: 'BNDJJFXL', verificationUri: 'https://idp.example/device', expiresIn: 600 }
 * const resp = new DeviceCodeResponse(init)
 * ```
 */
export type DeviceCodeInit = v.InferInput<typeof deviceCodeInitSchema>

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
    (body) => (body.verification_uri ?? body.verification_url) !== undefined,
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

/**
 * Validates a value with a schema; on failure throws what `fail` builds from the issues, described as
 * `field: expectation` pairs that name fields but never echo their values.
 */
export function parseOrThrow<TSchema extends v.GenericSchema>(
  schema: TSchema,
  value: unknown,
  fail: (issues: string) => Error,
): v.InferOutput<TSchema> {
  const result = v.safeParse(schema, value)
  if (result.success) return result.output
  throw fail(
    result.issues
      .slice(0, 3)
      .map((issue) => {
        const path = issue.path?.map((item) => String(item.key)).join('.')
        const expected = issue.expected ? `expected ${issue.expected}` : issue.message
        return path ? `${path}: ${expected}` : expected
      })
      .join('; '),
  )
}
