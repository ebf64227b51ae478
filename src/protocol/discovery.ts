import * as v from 'valibot'
import { AuthenticationError } from './errors.ts'
import { exchange } from './http.ts'
import { parseOrThrow } from './schemas.ts'
import { checkEndpoint, type TransportOptions } from './transport.ts'

/**
 * Authorization server metadata, RFC 8414 §2 (and the OpenID Connect Discovery fields it shares), as sent:
 * snake_case. Only `issuer` is required here; every field listed is validated when present, and fields not
 * listed are kept as they came.
 *
 * @example
 * ```ts
 * const metadata = v.parse(authorizationServerMetadataSchema, await (await fetch(wellKnownUrl)).json())
 * ```
 */
export const authorizationServerMetadataSchema = /* @__PURE__ */ (() => {
  // Built in a pure call: bundlers drop it from apps that never discover, even with valibot external.
  const endpoint = v.pipe(v.string(), v.url('must be an absolute URL'))
  const names = v.array(v.string())
  return v.looseObject({
    /** The issuer identifier; {@link discover} checks it equals the one asked for (RFC 8414 §3.3). */
    issuer: v.pipe(v.string(), v.minLength(1)),
    /** RFC 6749 §3.2 token endpoint. */
    token_endpoint: v.optional(endpoint),
    /** RFC 8628 §4 device authorization endpoint. */
    device_authorization_endpoint: v.optional(endpoint),
    /** RFC 6749 §3.1 authorization endpoint. */
    authorization_endpoint: v.optional(endpoint),
    /** The server's JSON Web Key Set. */
    jwks_uri: v.optional(endpoint),
    /** RFC 7591 dynamic client registration endpoint. */
    registration_endpoint: v.optional(endpoint),
    /** RFC 7009 token revocation endpoint. */
    revocation_endpoint: v.optional(endpoint),
    /** RFC 7662 token introspection endpoint. */
    introspection_endpoint: v.optional(endpoint),
    /** OpenID Connect userinfo endpoint. */
    userinfo_endpoint: v.optional(endpoint),
    /** RFC 9126 pushed authorization request endpoint. */
    pushed_authorization_request_endpoint: v.optional(endpoint),
    /** Scopes the server supports. */
    scopes_supported: v.optional(names),
    /** Response types the server supports. */
    response_types_supported: v.optional(names),
    /** Grant types the server supports, e.g. `urn:ietf:params:oauth:grant-type:device_code`. */
    grant_types_supported: v.optional(names),
    /** Client authentication methods of the token endpoint, e.g. `client_secret_basic`, `client_secret_post`. */
    token_endpoint_auth_methods_supported: v.optional(names),
    /** PKCE methods the server supports (RFC 7636 §4.3), e.g. `S256`. */
    code_challenge_methods_supported: v.optional(names),
    /**
     * Whether the server puts `iss` in every authorization response (RFC 9207 §3): pass it as
     * `issParameterRequired` to {@link parseAuthorizationResponse}.
     */
    authorization_response_iss_parameter_supported: v.optional(v.boolean()),
  })
})()

/**
 * Authorization server metadata (RFC 8414 §2), validated by {@link authorizationServerMetadataSchema}.
 *
 * @example
 * ```ts
 * const metadata: AuthorizationServerMetadata = await discover(issuer)
 * if (!metadata.grant_types_supported?.includes(GrantType.DEVICE_CODE)) throw new Error('no device flow')
 * ```
 */
export type AuthorizationServerMetadata = v.InferOutput<typeof authorizationServerMetadataSchema>

/**
 * Options of {@link discover}: the transport options of every other call.
 *
 * @example
 * ```ts
 * await discover(issuer, { adapter: nodeAdapter, verify: './ca.pem', timeout: 10_000 })
 * ```
 */
export type DiscoverOptions = TransportOptions

/** What a well-known URL answered: a document, or why there was none. */
type WellKnownAnswer = { found: true; body: unknown } | { found: false; status: number; reason: string }

const wellKnownAuthorizationServer = '/.well-known/oauth-authorization-server'
const wellKnownOpenIdConfiguration = '/.well-known/openid-configuration'

/** The two metadata URLs of an issuer, in the order they are tried. */
function metadataUrls(issuer: URL): URL[] {
  // Both rules drop a terminating "/" of the issuer's path (RFC 8414 §3.1, OpenID Connect Discovery §4.1).
  const path = issuer.pathname.replace(/\/$/, '')
  return [
    // RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
    new URL(`${issuer.origin}${wellKnownAuthorizationServer}${path}`),
    // OpenID Connect Discovery §4: appended to the issuer's path.
    new URL(`${issuer.origin}${path}${wellKnownOpenIdConfiguration}`),
  ]
}

/**
 * One GET of a metadata document, on the one HTTP path of the token requests ({@link exchange}): the caller's
 * fetch adapter, session and signal, the timeout (covering the body), the 1 MiB body limit, no redirects.
 */
async function getWellKnown(url: URL, transport: TransportOptions): Promise<WellKnownAnswer> {
  let answer: Awaited<ReturnType<typeof exchange>>
  try {
    answer = await exchange({ url, what: 'metadata endpoint', transport })
  } catch (err) {
    // Metadata says where credentials go: it is taken only from the issuer's own well-known URL.
    const status = err instanceof AuthenticationError ? (err.status ?? 0) : 0
    if (status > 299 && status < 400) return { found: false, status, reason: 'a redirect, not followed' }
    throw err
  }
  const { status } = answer.response
  if (!answer.response.ok) return { found: false, status, reason: 'no metadata document' }
  let body: unknown
  try {
    body = JSON.parse(answer.text) as unknown
  } catch {
    return { found: false, status, reason: 'a body that is not JSON' }
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { found: false, status, reason: 'JSON that is not an object' }
  }
  return { found: true, body }
}

/**
 * Finds an authorization server's endpoints from its metadata: RFC 8414
 * `/.well-known/oauth-authorization-server` first (inserted before the issuer's path when it has one:
 * `https://idp.example/tenant` → `https://idp.example/.well-known/oauth-authorization-server/tenant`), then
 * OpenID Connect Discovery `/.well-known/openid-configuration` (appended to the issuer's path) when the first
 * has no document. The document is validated, and its `issuer` must equal the one asked for, character for
 * character (RFC 8414 §3.3): otherwise an attacker's metadata could send credentials elsewhere.
 *
 * @param issuer - The issuer identifier: `https:` (or `http:` on loopback), no query, no fragment, no
 *   credentials. A `URL` whose path is `/` also matches the issuer without the trailing slash (a `URL` cannot
 *   express it).
 * @param options - Transport options (adapter, proxy, verify, session, signal, timeout).
 * @returns The validated metadata (snake_case, as sent).
 * @throws {@link AuthenticationError} when neither document exists, one is invalid or names another issuer,
 *   or the server cannot be reached.
 * @throws `TypeError` for an invalid issuer.
 *
 * @example
 * ```ts
 * const metadata = await discover('https://idp.example/tenant')
 * const token = await getToken(metadata.token_endpoint!, { authorizationHeader })
 * ```
 */
export async function discover(
  issuer: string | URL,
  options: DiscoverOptions = {},
): Promise<AuthorizationServerMetadata> {
  const issuerUrl = checkEndpoint(issuer, 'issuer', options.allowInsecureHttp)
  if (issuerUrl.search !== '' || issuerUrl.hash !== '' || /[?#]/.test(String(issuer))) {
    throw new TypeError('An issuer identifier has no query or fragment component (RFC 8414 §2).')
  }
  const expected = typeof issuer === 'string' ? [issuer] : [issuer.href]
  if (typeof issuer !== 'string' && issuer.pathname === '/') expected.push(issuer.href.slice(0, -1))

  const misses: string[] = []
  for (const url of metadataUrls(issuerUrl)) {
    const answer = await getWellKnown(url, options)
    if (!answer.found) {
      misses.push(`${url.href} answered HTTP ${answer.status} with ${answer.reason}`)
      continue
    }
    const metadata = parseOrThrow(
      authorizationServerMetadataSchema,
      answer.body,
      (issues) =>
        new AuthenticationError(`The authorization server metadata at ${url.href} is invalid: ${issues}.`),
    )
    if (!expected.includes(metadata.issuer)) {
      throw new AuthenticationError(
        `The authorization server metadata at ${url.href} is for issuer ${JSON.stringify(metadata.issuer)}, not ${JSON.stringify(expected[0])}: refused (RFC 8414 §3.3).`,
      )
    }
    return metadata
  }
  throw new AuthenticationError(
    `No authorization server metadata found for ${expected[0]}: ${misses.join('; ')}.`,
  )
}
