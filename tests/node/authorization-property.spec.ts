/**
 * Property-based tests (fast-check) of the authorization code protocol layer: parseAuthorizationResponse over
 * hostile callbacks never throws anything but an AuthenticationError and never shows the code or a state;
 * buildAuthorizationUrl round-trips any parameter values and never lets extraParams replace a protected one;
 * calculatePkceChallenge agrees with node:crypto on every valid verifier and never echoes an invalid one.
 */
import { createHash } from 'node:crypto'
import { expect, test } from '@playwright/test'
import fc from 'fast-check'
import {
  AuthenticationError,
  buildAuthorizationUrl,
  calculatePkceChallenge,
  parseAuthorizationResponse,
} from 'token-client'

/** Any UTF-16 string, lone surrogates included. */
const utf16 = fc.string({
  unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  maxLength: 40,
})

/** Codes as servers issue them (visible ASCII), long enough to be redacted (≥ 4 characters). */
const codeValue = fc.string({
  unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
  minLength: 8,
  maxLength: 60,
})
/** States as clients make them, plus odd Unicode (graphemes survive the URL round trip). */
const stateValue = fc.oneof(
  fc.base64String({ minLength: 8, maxLength: 44 }),
  fc.string({ unit: 'grapheme', minLength: 8, maxLength: 30 }),
)

/** Calls `fn` and returns what it threw, or `undefined`. */
function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

/** The texts an error shows: message, JSON, stack. */
function shown(err: unknown): string[] {
  return [String(err), JSON.stringify(err), (err as Error).stack ?? '']
}

const issuer = 'https://idp.example'

test.describe('parseAuthorizationResponse over hostile input', () => {
  test('any string as the callback: a code or an AuthenticationError, never a raw TypeError', () => {
    fc.assert(
      fc.property(
        fc.oneof(utf16, fc.webUrl({ withQueryParameters: true, withFragments: true })),
        (callback) => {
          const err = thrown(() => parseAuthorizationResponse(callback, { state: 'expected-state' }))
          if (err !== undefined) expect(err).toBeInstanceOf(AuthenticationError)
        },
      ),
      { numRuns: 2000 },
    )
  })

  test('any parameters, echoing the code and the states anywhere: never shown in an error', () => {
    const hostileValue = (code: string, sent: string) =>
      fc.oneof(
        utf16,
        fc.constant(code),
        fc.constant(sent),
        fc.constant(`before ${code} after`),
        fc.constant(`${sent}\u0000${code}`),
        fc.constant(encodeURIComponent(code)),
      )
    fc.assert(
      fc.property(
        codeValue,
        stateValue,
        stateValue,
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        (code, sent, other, sameState, withError, withIss, issRequired) =>
          fc.assert(
            fc.property(
              fc.dictionary(
                fc.constantFrom('error', 'error_description', 'error_uri', 'iss', 'x', 'code', 'state'),
                hostileValue(code, sent),
                { maxKeys: 5 },
              ),
              fc.constantFrom(
                'http://127.0.0.1:1/callback',
                'com.example.app:/cb',
                'https://app.example/cb?x=1',
              ),
              (extra, base) => {
                const params = new URLSearchParams({ ...extra, code, state: sameState ? sent : other })
                if (withError) params.set('error', extra.error ?? 'access_denied')
                if (withIss) params.set('iss', extra.iss ?? issuer)
                const callback = `${base}${base.includes('?') ? '&' : '?'}${params}`
                const err = thrown(() =>
                  parseAuthorizationResponse(callback, {
                    state: sent,
                    issuer,
                    issParameterRequired: issRequired,
                  }),
                )
                if (err === undefined) return
                expect(err).toBeInstanceOf(AuthenticationError)
                for (const text of shown(err)) {
                  expect(text).not.toContain(code)
                  expect(text).not.toContain(sent)
                  if (!sameState && other.length >= 4) expect(text).not.toContain(other)
                }
              },
            ),
            { numRuns: 5 },
          ),
      ),
      { numRuns: 300 },
    )
  })
})

test.describe('buildAuthorizationUrl', () => {
  const challenge = createHash('sha256').update('v'.repeat(43)).digest('base64url')

  test('round-trips any values: what the server reads is what was given, then parse accepts its echo', () => {
    fc.assert(
      fc.property(
        stateValue,
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
        fc.array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 }), { maxLength: 4 }),
        fc.dictionary(
          fc.string({ minLength: 1, maxLength: 10 }).filter((k) => !k.startsWith('code_') && k !== 'state'),
          fc.string({ unit: 'grapheme', maxLength: 10 }),
          { maxKeys: 3 },
        ),
        codeValue,
        (state, clientId, scopes, extra, code) => {
          const protectedNames = [
            'response_type',
            'client_id',
            'redirect_uri',
            'state',
            'code_challenge',
            'code_challenge_method',
          ]
          const options = {
            redirectUri: 'http://127.0.0.1:1/callback?x=1',
            codeChallenge: challenge,
            state,
            scopes,
            extraParams: extra,
          }
          const build = () => buildAuthorizationUrl('https://idp.example/authorize?t=1', clientId, options)
          if (Object.keys(extra).some((k) => protectedNames.includes(k))) {
            expect(build).toThrow(TypeError)
            return
          }
          const url = new URL(build().href) // as the server parses it
          const query = url.searchParams
          expect(query.get('response_type')).toBe('code')
          expect(query.get('client_id')).toBe(clientId)
          expect(query.get('state')).toBe(state)
          expect(query.get('code_challenge')).toBe(challenge)
          expect(query.get('code_challenge_method')).toBe('S256')
          expect(query.get('redirect_uri')).toBe(options.redirectUri)
          for (const name of protectedNames) expect(query.getAll(name)).toHaveLength(1)

          // the server's answer echoes the state: accepted
          const callback = new URL(options.redirectUri)
          callback.searchParams.set('code', code)
          callback.searchParams.set('state', query.get('state') ?? '')
          expect(parseAuthorizationResponse(callback, { state })).toEqual({ code })
        },
      ),
      { numRuns: 1000 },
    )
  })

  test('any input: a URL or a TypeError, nothing else', () => {
    fc.assert(
      fc.property(
        fc.oneof(utf16, fc.webUrl()),
        utf16,
        fc.record({ redirectUri: fc.oneof(utf16, fc.webUrl()), codeChallenge: utf16, state: utf16 }),
        (endpoint, clientId, options) => {
          const err = thrown(() => buildAuthorizationUrl(endpoint, clientId, options))
          if (err !== undefined) expect(err).toBeInstanceOf(TypeError)
        },
      ),
      { numRuns: 2000 },
    )
  })
})

test.describe('calculatePkceChallenge', () => {
  test('equals BASE64URL(SHA-256(verifier)) for every valid verifier', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: fc.constantFrom(...'ABCXYZabcxyz0189-._~'), minLength: 43, maxLength: 128 }),
        async (verifier) => {
          expect(await calculatePkceChallenge(verifier)).toBe(
            createHash('sha256').update(verifier).digest('base64url'),
          )
        },
      ),
      { numRuns: 300 },
    )
  })

  test('an invalid verifier is a TypeError that never echoes it', async () => {
    await fc.assert(
      fc.asyncProperty(
        utf16.filter((s) => !/^[A-Za-z0-9._~-]{43,128}$/.test(s)),
        async (verifier) => {
          const err = await calculatePkceChallenge(verifier).catch((e: unknown) => e)
          expect(err).toBeInstanceOf(TypeError)
          // one constant message, whatever the input
          expect((err as Error).message).toMatch(/^A PKCE code verifier is 43 to 128 characters/)
        },
      ),
      { numRuns: 300 },
    )
  })
})
