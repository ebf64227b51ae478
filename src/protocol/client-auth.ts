import { getBasicAuthorizationHeader } from './basic-auth.ts'
import { assertionKey, type ClientAssertionOptions, createClientAssertion } from './client-assertion.ts'
import type { GetTokenOptions } from './token.ts'

/**
 * How a confidential client authenticates at the token endpoint:
 * - `'basic'` (default): HTTP Basic with id and secret form-urlencoded first, as RFC 6749 §2.3.1 says;
 * - `'basic-unencoded'`: HTTP Basic with id and secret as they are (UTF-8, not form-encoded), for servers that
 *   do not decode the form encoding (Google among them) and so reject secrets the encoding changes;
 * - `'post'`: `client_id` and `client_secret` in the form body (`client_secret_post`), for servers that
 *   accept nothing else;
 * - `'private_key_jwt'`: no secret at all: a JWT signed with the client's private key (RS256, PS256, ES256,
 *   EdDSA), whose public key the server has registered (RFC 7523 §2.2, OpenID Connect Core §9);
 * - `'client_secret_jwt'`: a JWT signed HS256 with the client secret, which then never crosses the wire.
 *
 * @example
 * ```ts
 * new ClientCredentialsAuthenticator({ tokenEndpoint, clientId, clientSecret, clientAuth: 'post' })
 * await getToken(tokenEndpoint, clientAuthOptions('private_key_jwt', 'svc', privateKey, { keyId: 'k1' }))
 * ```
 */
export type ClientAuthMethod = 'basic' | 'basic-unencoded' | 'post' | 'private_key_jwt' | 'client_secret_jwt'

/**
 * Options of {@link clientAuthOptions} for the JWT methods (`private_key_jwt`, `client_secret_jwt`); the others
 * ignore them.
 *
 * @example
 * ```ts
 * const options: ClientAuthOptions = { keyId: 'k1', assertionAudience: 'https://idp.example' }
 * clientAuthOptions('private_key_jwt', 'svc', clientKey, options)
 * ```
 */
export interface ClientAuthOptions extends ClientAssertionOptions {
  /**
   * The assertion's `aud` (RFC 7523 §3 item 3): default the URL of the endpoint each request goes to (the token
   * endpoint for {@link getToken}, which most servers accept). Set the issuer identifier for servers that want
   * it (Auth0; drafts after RFC 7523 recommend it), e.g. from {@link discover}.
   */
  assertionAudience?: string
}

/** `Basic base64(id:secret)` without the form encoding, UTF-8 (no `Buffer`: this runs in browsers too). */
function unencodedBasicHeader(clientId: string, clientSecret: string): string {
  // RFC 7617 §2: the user-id ends at the first colon, so the server would read a different client id.
  if (clientId.includes(':')) {
    throw new TypeError(
      "clientAuth 'basic-unencoded' cannot send a client id that contains ':'; use 'basic'.",
    )
  }
  let binary = ''
  for (const byte of new TextEncoder().encode(`${clientId}:${clientSecret}`))
    binary += String.fromCharCode(byte)
  return `Basic ${btoa(binary)}`
}

/**
 * The {@link getToken} (and {@link revokeToken}) options that authenticate a client with the given method. For
 * the JWT methods, `clientAssertion` is a function that signs a fresh assertion (new `jti`, `iat`, `exp` 60 s on)
 * for every request, a JWK imported once, on first use.
 *
 * @param method - How the client authenticates: see {@link ClientAuthMethod}.
 * @param clientId - The client id.
 * @param credential - The client secret (a string) for every method but `private_key_jwt`, which takes the
 *   private key: a `CryptoKey` or a JWK (PEM text: {@link importPrivateKeyPem} first).
 * @param options - For the JWT methods: `clientKeyAlg`, `keyId`, `assertionAudience`, `lifetime`, clock.
 * @throws `TypeError` for an unknown method, a client id `'basic-unencoded'` cannot carry, or a credential of
 *   the wrong kind; an unusable key throws its `TypeError` from the first request.
 *
 * @example
 * ```ts
 * await getToken(tokenEndpoint, { ...clientAuthOptions('post', clientId, clientSecret), scopes: ['api:read'] })
 * const byKey = clientAuthOptions('private_key_jwt', 'svc', jwk, { keyId: jwk.kid })
 * await getToken(tokenEndpoint, byKey)
 * await revokeToken(revocationEndpoint, token, byKey)
 * ```
 */
export function clientAuthOptions(
  method: ClientAuthMethod,
  clientId: string,
  credential: string | CryptoKey | JsonWebKey,
  options: ClientAuthOptions = {},
): Pick<GetTokenOptions, 'authorizationHeader' | 'clientId' | 'clientSecret' | 'clientAssertion'> {
  if (method === 'private_key_jwt' || method === 'client_secret_jwt') {
    const isSecret = method === 'client_secret_jwt'
    if (isSecret !== (typeof credential === 'string') || !credential) {
      throw new TypeError(
        isSecret
          ? "clientAuth 'client_secret_jwt' signs with the client secret: pass it as a non-empty string."
          : "clientAuth 'private_key_jwt' signs with the client's private key: pass a CryptoKey or a private JWK (importPrivateKeyPem for PEM text).",
      )
    }
    let key: Promise<CryptoKey> | undefined
    return {
      clientId,
      clientAssertion: async (endpoint) => {
        key ??= assertionKey(credential, options.clientKeyAlg).then((signer) => signer.key)
        return createClientAssertion(clientId, options.assertionAudience ?? endpoint.href, await key, options)
      },
    }
  }
  const clientSecret = credential as string
  switch (method) {
    case 'basic':
      return { authorizationHeader: getBasicAuthorizationHeader(clientId, clientSecret) }
    case 'basic-unencoded':
      return { authorizationHeader: unencodedBasicHeader(clientId, clientSecret) }
    case 'post':
      return { clientId, clientSecret }
    default:
      throw new TypeError(
        `clientAuth must be 'basic', 'basic-unencoded', 'post', 'private_key_jwt' or 'client_secret_jwt', got ${JSON.stringify(method satisfies never)}.`,
      )
  }
}
