import { randomBytes } from 'node:crypto'
import { link, mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
// The core through its entry point: the build turns this into an import of the package itself.
import { createDPoP, type DPoPHandle } from '../index.ts'

const es256 = { name: 'ECDSA', namedCurve: 'P-256' } as const

/** Imports the pair from its private JWK: the private key non-extractable in memory, the public one from x, y. */
async function importPair(jwk: JsonWebKey, path: string): Promise<CryptoKeyPair> {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string') {
    throw new TypeError(`${path} holds no P-256 private JWK: delete it to have a new DPoP key made.`)
  }
  const { kty, crv, x, y, d } = jwk
  return {
    privateKey: await crypto.subtle.importKey('jwk', { kty, crv, x, y, d }, es256, false, ['sign']),
    publicKey: await crypto.subtle.importKey('jwk', { kty, crv, x, y }, es256, true, ['verify']),
  }
}

/**
 * A DPoP handle (RFC 9449) whose key persists in a file, for CLIs and services that restart and keep DPoP-bound
 * refresh tokens (e.g. next to a {@link fileStore}'s token file): the first call generates an ES256 pair and
 * writes its private JWK with mode 0600 (owner only; the directory, when created, 0700), created exclusively so
 * that two processes starting together end up with one key; later calls read it. In memory the private key is
 * non-extractable. The key is as secret as the refresh token bound to it: where nothing must outlive the
 * process, keep `createDPoP()` (in memory only) instead.
 *
 * @param path - The key file, e.g. `~/.config/my-cli/dpop-key.json`.
 * @returns The handle, its nonces in memory.
 * @throws `TypeError` for a file that holds no P-256 private JWK (it names the file, never its content).
 *
 * @example
 * ```ts
 * import { DeviceCodeAuthenticator } from 'token-client'
 * import { fileDPoP, fileStore } from 'token-client/node'
 *
 * const dir = `${process.env.HOME}/.config/my-cli`
 * const auth = new DeviceCodeAuthenticator({
 *   issuer, clientId: 'my-cli', scopes: ['openid', 'offline_access'], onDeviceCode,
 *   store: fileStore(`${dir}/token.json`),
 *   dpop: fileDPoP(`${dir}/dpop-key.json`),
 * })
 * ```
 */
export async function fileDPoP(path: string): Promise<DPoPHandle> {
  const load = async (): Promise<DPoPHandle | undefined> => {
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') return undefined
      throw err
    }
    let jwk: JsonWebKey
    try {
      jwk = JSON.parse(text) as JsonWebKey
    } catch {
      throw new TypeError(`${path} is not JSON: delete it to have a new DPoP key made.`)
    }
    return createDPoP(await importPair(jwk, path))
  }
  const existing = await load()
  if (existing !== undefined) return existing
  const pair = (await crypto.subtle.generateKey(es256, true, ['sign', 'verify'])) as CryptoKeyPair
  const jwk = await crypto.subtle.exportKey('jwk', pair.privateKey)
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  // Written whole to a temporary file, then linked in only if no key is there yet: a reader never sees half a key.
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  try {
    const file = await open(temporary, 'wx', 0o600)
    try {
      await file.writeFile(
        `${JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d })}\n`,
      )
      await file.sync()
    } finally {
      await file.close()
    }
    try {
      await link(temporary, path)
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'EEXIST') {
        // A file system without hard links: rename (atomic, but the last of two racing writers wins).
        await rename(temporary, path)
        return createDPoP(await importPair(jwk, path))
      }
    }
  } finally {
    await rm(temporary, { force: true }).catch(() => {})
  }
  // Whoever linked first: that key is everyone's.
  return (await load()) ?? createDPoP(await importPair(jwk, path))
}
