/**
 * discover(): RFC 8414 metadata with path insertion, the OpenID Connect fallback, and the issuer check of
 * RFC 8414 §3.3. The real provider (oidc-provider, which serves both documents at its root) shows the typed
 * result and a mismatch; path insertion, the fallback and the failure modes come from the scripted server,
 * which serves exactly the documents a test asks for.
 */
import { expect, test } from '@playwright/test'
import { AuthenticationError, discover } from 'token-client'
import { closeAfterEach } from '../fixtures/closed-after-test.ts'
import { rejection } from '../fixtures/hostile.ts'
import { type OidcFixture, startOidcProvider } from '../fixtures/oidc.ts'
import {
  json,
  type Route,
  type ScriptedServer,
  startScriptedServer,
  text,
} from '../fixtures/scripted-server.ts'

const closedAfterTest = closeAfterEach(test)

async function provider(): Promise<OidcFixture> {
  return closedAfterTest(await startOidcProvider())
}

async function scripted(routes: Record<string, Route> = {}): Promise<ScriptedServer> {
  return closedAfterTest(await startScriptedServer(routes))
}

function metadataFor(issuer: string): Record<string, unknown> {
  return {
    issuer,
    token_endpoint: `${issuer}/oauth2/token`,
    device_authorization_endpoint: `${issuer}/oauth2/device`,
    grant_types_supported: ['client_credentials', 'urn:ietf:params:oauth:grant-type:device_code'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    x_vendor_field: 42,
  }
}

test.describe('discover', () => {
  test('reads the real provider metadata and returns it typed', async () => {
    const op = await provider()
    const metadata = await discover(op.issuer)
    expect(metadata.issuer).toBe(op.issuer)
    expect(metadata.token_endpoint).toBe(op.tokenEndpoint)
    expect(metadata.device_authorization_endpoint).toBe(op.deviceAuthorizationEndpoint)
    expect(metadata.grant_types_supported).toContain('urn:ietf:params:oauth:grant-type:device_code')
    // Fields outside the schema are kept as sent.
    expect(metadata).toHaveProperty('userinfo_endpoint')
  })

  test('refuses the real provider metadata when the issuer asked for differs (trailing slash)', async () => {
    const op = await provider()
    const error = await rejection(discover(`${op.issuer}/`))
    expect(error).toBeInstanceOf(AuthenticationError)
    expect((error as Error).message).toContain('RFC 8414 §3.3')
    expect((error as Error).message).toContain(JSON.stringify(op.issuer))
  })

  test('a URL object for a root issuer matches the issuer without the trailing slash', async () => {
    const op = await provider()
    const metadata = await discover(new URL(op.issuer))
    expect(metadata.issuer).toBe(op.issuer)
  })

  test('RFC 8414 document first, at the root: no OpenID Connect request', async () => {
    const server = await scripted()
    server.route('/.well-known/oauth-authorization-server', (_req, res) =>
      json(res, 200, metadataFor(server.url)),
    )
    server.route('/.well-known/openid-configuration', (_req, res) => json(res, 500, {}))
    const metadata = await discover(server.url)
    expect(metadata.token_endpoint).toBe(`${server.url}/oauth2/token`)
    expect(metadata.token_endpoint_auth_methods_supported).toEqual([
      'client_secret_basic',
      'client_secret_post',
    ])
    expect(metadata.x_vendor_field).toBe(42)
    expect(server.requests().map((r) => [r.method, r.path])).toEqual([
      ['GET', '/.well-known/oauth-authorization-server'],
    ])
    expect(server.requests()[0]?.headers.accept).toBe('application/json')
  })

  test('path insertion for an issuer with a path (RFC 8414 §3.1), terminating slash dropped', async () => {
    const server = await scripted()
    const issuer = `${server.url}/tenant/a`
    server.route('/.well-known/oauth-authorization-server/tenant/a', (_req, res) =>
      json(res, 200, metadataFor(issuer)),
    )
    expect((await discover(issuer)).issuer).toBe(issuer)

    // With a terminating "/", the same URL is asked, and the issuer compared as given.
    server.route('/.well-known/oauth-authorization-server/tenant/a', (_req, res) =>
      json(res, 200, metadataFor(`${issuer}/`)),
    )
    expect((await discover(`${issuer}/`)).issuer).toBe(`${issuer}/`)
    expect(server.requests().map((r) => r.path)).toEqual([
      '/.well-known/oauth-authorization-server/tenant/a',
      '/.well-known/oauth-authorization-server/tenant/a',
    ])
  })

  test('OpenID Connect fallback appends to the issuer path when RFC 8414 has no document', async () => {
    const server = await scripted()
    const issuer = `${server.url}/realms/dev`
    server.route('/realms/dev/.well-known/openid-configuration', (_req, res) =>
      json(res, 200, metadataFor(issuer)),
    )
    const metadata = await discover(issuer)
    expect(metadata.issuer).toBe(issuer)
    expect(server.requests().map((r) => [r.path, r.method])).toEqual([
      ['/.well-known/oauth-authorization-server/realms/dev', 'GET'],
      ['/realms/dev/.well-known/openid-configuration', 'GET'],
    ])
  })

  test('an RFC 8414 document naming another issuer is refused, without trying the fallback', async () => {
    const server = await scripted()
    server.route('/.well-known/oauth-authorization-server', (_req, res) =>
      json(res, 200, metadataFor('https://attacker.example')),
    )
    server.route('/.well-known/openid-configuration', (_req, res) => json(res, 200, metadataFor(server.url)))
    const error = await rejection(discover(server.url))
    expect(error).toBeInstanceOf(AuthenticationError)
    expect((error as Error).message).toContain('"https://attacker.example"')
    expect(server.requests('/.well-known/openid-configuration')).toHaveLength(0)
  })

  test('invalid metadata is refused, naming the field', async () => {
    const server = await scripted({
      '/.well-known/oauth-authorization-server': (_req, res) =>
        json(res, 200, { ...metadataFor(server.url), token_endpoint: 'not a url' }),
    })
    const error = await rejection(discover(server.url))
    expect(error).toBeInstanceOf(AuthenticationError)
    expect((error as Error).message).toContain('token_endpoint')
  })

  test('no document at either URL: one error naming both', async () => {
    const server = await scripted({
      '/.well-known/oauth-authorization-server': (_req, res) => {
        res.writeHead(302, { location: `${server.url}/elsewhere` }).end()
      },
      '/.well-known/openid-configuration': (_req, res) => text(res, 200, '<html>login</html>', 'text/html'),
      '/elsewhere': (_req, res) => json(res, 200, metadataFor(server.url)),
    })
    const error = await rejection(discover(server.url))
    expect(error).toBeInstanceOf(AuthenticationError)
    const message = (error as Error).message
    expect(message).toContain('/.well-known/oauth-authorization-server answered HTTP 302')
    expect(message).toContain(
      '/.well-known/openid-configuration answered HTTP 200 with a body that is not JSON',
    )
    // The redirect was not followed.
    expect(server.requests('/elsewhere')).toHaveLength(0)
  })

  test('transport options apply: timeout, signal, body limit', async () => {
    let heldArrived: () => void = () => {}
    const held = new Promise<void>((resolve) => {
      heldArrived = resolve
    })
    const server = await scripted({
      '/slow/.well-known/openid-configuration': () => {},
      '/held/.well-known/openid-configuration': () => heldArrived(),
      '/.well-known/oauth-authorization-server/huge': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(`{"issuer":"${'x'.repeat(2 * 1024 * 1024)}"}`)
      },
    })
    const timedOut = await rejection(discover(`${server.url}/slow`, { timeout: 300 }))
    expect(timedOut).toBeInstanceOf(AuthenticationError)
    expect((timedOut as Error).message).toContain('timed out')

    const controller = new AbortController()
    const reason = new Error('stop')
    const aborted = rejection(discover(`${server.url}/held`, { signal: controller.signal }))
    await held
    controller.abort(reason)
    expect(await aborted).toBe(reason)

    const huge = await rejection(discover(`${server.url}/huge`))
    expect(huge).toBeInstanceOf(AuthenticationError)
    expect((huge as Error).message).toContain('1 MiB')
  })

  test('invalid issuers are a TypeError, and nothing is sent', async () => {
    const server = await scripted()
    await expect(discover(`${server.url}/?tenant=a`)).rejects.toThrow(/no query or fragment/)
    await expect(discover(`${server.url}/#a`)).rejects.toThrow(/no query or fragment/)
    const withPassword = await rejection(discover(server.url.replace('//', '//user:hunter2@')))
    expect(withPassword).toBeInstanceOf(TypeError)
    expect((withPassword as Error).message).toMatch(/must not carry a user name or password/)
    expect((withPassword as Error).message).not.toContain('hunter2')
    await expect(discover('http://idp.example')).rejects.toThrow(/plain http/)
    await expect(discover('not a url')).rejects.toThrow(TypeError)
    expect(server.requests()).toEqual([])
  })
})
