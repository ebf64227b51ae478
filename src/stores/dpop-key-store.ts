import { createDPoP, type DPoPHandle } from '../protocol/dpop.ts'

const databaseName = 'token-client-dpop'
const objectStore = 'keys'

/** An IndexedDB request as a promise. */
function settled<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  })
}

function openDatabase(indexedDb: IDBFactory): Promise<IDBDatabase> {
  const request = indexedDb.open(databaseName, 1)
  request.onupgradeneeded = () => request.result.createObjectStore(objectStore)
  return settled(request)
}

function isKeyPair(value: unknown): value is CryptoKeyPair {
  const pair = value as Partial<CryptoKeyPair> | undefined
  return pair?.privateKey instanceof CryptoKey && pair.publicKey instanceof CryptoKey
}

/**
 * A DPoP handle (RFC 9449) whose key pair lives in IndexedDB, for browsers: the first call generates an ES256
 * pair whose private key is non-extractable and stores the `CryptoKey` objects themselves (IndexedDB keeps them
 * by structured clone, usable but never readable: no script, cross-site scripting included, can export the
 * private key); later calls, after a reload, in other tabs of the origin, load the same pair, so the tokens and
 * refresh tokens bound to it stay usable. Two tabs creating it at once end up with one key. Token sets stay in
 * the authenticator's store (e.g. {@link webStorageStore}), which holds no key.
 *
 * Deleting the key (e.g. `indexedDB.deleteDatabase('token-client-dpop')` on sign-out) unbinds the session: its
 * tokens are refused, and the next sign-in gets a new key.
 *
 * @param name - The key's name within the origin (one per app or account); default `'default'`.
 * @returns The handle, its nonces in memory.
 * @throws `TypeError` where there is no IndexedDB; the IndexedDB error when it refuses (private browsing
 *   modes that disable it).
 *
 * @example
 * ```ts
 * const auth = new BrowserAuthenticator({
 *   issuer: 'https://idp.example',
 *   clientId: 'my-spa',
 *   redirectUri: `${location.origin}/`,
 *   scopes: ['openid', 'offline_access'],
 *   dpop: indexedDbDPoP('my-spa'),
 * })
 * ```
 */
export async function indexedDbDPoP(name = 'default'): Promise<DPoPHandle> {
  const indexedDb = (globalThis as { indexedDB?: IDBFactory }).indexedDB
  if (indexedDb === undefined) {
    throw new TypeError(
      'indexedDbDPoP needs IndexedDB (a browser page or worker): elsewhere, pass dpop: await createDPoP().',
    )
  }
  const db = await openDatabase(indexedDb)
  try {
    const read = async (): Promise<unknown> =>
      settled(db.transaction(objectStore).objectStore(objectStore).get(name))
    const stored = await read()
    if (isKeyPair(stored)) return await createDPoP(stored)
    const created = await createDPoP()
    try {
      // add, not put: a tab that stored its key meanwhile wins, and this one takes it (one key per name).
      await settled(
        db.transaction(objectStore, 'readwrite').objectStore(objectStore).add(created.keyPair, name),
      )
      return created
    } catch (err) {
      const winner = await read()
      if (isKeyPair(winner)) return await createDPoP(winner)
      throw err
    }
  } finally {
    db.close()
  }
}
