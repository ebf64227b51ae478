import { getBasicAuthorizationHeader } from './basic-auth.ts'
import type { GetTokenOptions } from './token.ts'

/**
 * How a confidential client authenticates at the token endpoint:
 * - `'basic'` (default): HTTP Basic with id and secret form-urlencoded first, as RFC 6749 §2.3.1 says;
 * - `'basic-unencoded'`: HTTP Basic with id and secret as they are (UTF-8, not form-encoded), for servers that
 *   do not decode the form encoding (Google among them) and so reject secrets the encoding changes;
 * - `'post'`: `client_id` and `client_secret` in the form body (`client_secret_post`), for servers that
 *   accept nothing else.
 *
 * @example
 * ```ts
 * new ClientCredentialsAuthenticator({ tokenEndpoint, clientId, clientSecret, clientAuth: 'post' })
 * ```
 */
export type ClientAuthMethod = 'basic' | 'basic-unencoded' | 'post'

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
 * The {@link getToken} options that authenticate a client with the given method.
 *
 * @throws `TypeError` for an unknown method, or a client id `'basic-unencoded'` cannot carry.
 *
 * @example
 * ```ts
 * await getToken(tokenEndpoint, { ...clientAuthOptions('post', clientId, clientSecret), scopes: ['api:read'] })
 * ```
 */
export function clientAuthOptions(
  method: ClientAuthMethod,
  clientId: string,
  clientSecret: string,
): Pick<GetTokenOptions, 'authorizationHeader' | 'clientId' | 'clientSecret'> {
  switch (method) {
    case 'basic':
      return { authorizationHeader: getBasicAuthorizationHeader(clientId, clientSecret) }
    case 'basic-unencoded':
      return { authorizationHeader: unencodedBasicHeader(clientId, clientSecret) }
    case 'post':
      return { clientId, clientSecret }
    default:
      throw new TypeError(
        `clientAuth must be 'basic', 'basic-unencoded' or 'post', got ${JSON.stringify(method satisfies never)}.`,
      )
  }
}
