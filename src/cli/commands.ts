import { proxyForUrl } from '../adapters/proxy-env.ts'
import {
  Authenticator,
  type AuthenticatorEndpoints,
  type AuthenticatorOptions,
  type ObtainedToken,
} from '../authenticators/authenticator.ts'
import { ClientCredentialsAuthenticator } from '../authenticators/client-credentials-authenticator.ts'
import { DeviceCodeAuthenticator } from '../authenticators/device-code-authenticator.ts'
import { resolveEndpoints } from '../authenticators/endpoints.ts'
import { clientAuthOptions } from '../protocol/client-auth.ts'
import { GrantType } from '../protocol/constants.ts'
import { getDeviceCode } from '../protocol/device-code.ts'
import type { DeviceCodeResponse } from '../protocol/device-code-response.ts'
import { discover } from '../protocol/discovery.ts'
import { createDPoP, type DPoPHandle } from '../protocol/dpop.ts'
import { AuthenticationError } from '../protocol/errors.ts'
import { importPrivateKeyPem } from '../protocol/jws.ts'
import { pollTokenEndpoint } from '../protocol/poll.ts'
import type { TokenResponse } from '../protocol/schemas.ts'
import { type GetTokenOptions, getToken } from '../protocol/token.ts'
import type { FetchAdapter, TransportOptions } from '../protocol/transport.ts'
import { writeFileAtomically } from '../stores/file-store.ts'
import type { StoredToken, TokenStore } from '../stores/token-store.ts'
import { builtin } from './builtins.ts'
import { type CliIo, ConfigError, exitCode, reportUsage } from './io.ts'
import { type CliOptions, parseCliArgs } from './options.ts'
import type { Config, Profile, SessionMeta, SessionSettings } from './session.ts'
import { UsageError } from './usage.ts'
import { startWaitingIndicator, type WaitingIndicator } from './waiting-indicator.ts'

// Imported, not bundled in: session.ts stays one chunk of its own, the one file the warm `token` path loads
// besides the fast path (a chunk shared with this one would be a second file to load there).
const {
  bindingOf,
  dpopKeyPath,
  execInfo,
  formatToken,
  isUsable,
  readConfig,
  readSessionFile,
  resolveSettings,
  sessionPath,
  tokenClientHome,
} = await import('./session.ts')

/** The fetch adapter for --proxy/--cacert/--insecure, loaded only when needed (it pulls in undici on Node). */
async function loadAdapter(fromEnvironment: boolean): Promise<FetchAdapter> {
  const deno = 'Deno' in globalThis
  // A variable specifier: resolved at run time through the package's own exports, not bundled.
  const specifier: string = deno ? 'token-client/deno' : 'token-client/node'
  const entry = (await import(specifier)) as { nodeAdapter?: FetchAdapter; denoAdapter?: FetchAdapter }
  const adapter = deno ? entry.denoAdapter : entry.nodeAdapter
  if (adapter === undefined) throw new Error(`${specifier} exports no fetch adapter.`)
  if (!deno) {
    try {
      // Without settings the only thing nodeAdapter can refuse is a missing undici (an optional peer dependency).
      adapter({})
    } catch {
      throw new ConfigError(
        fromEnvironment
          ? 'The proxy from HTTPS_PROXY, http_proxy or ALL_PROXY needs the undici package: npm install undici (or list the host in NO_PROXY)'
          : '--proxy/--cacert/--insecure/--client-cert need the undici package: npm install undici',
      )
    }
  }
  return adapter
}

/**
 * The proxy of the command line: `--proxy`, else `TOKEN_CLIENT_PROXY` (which may carry a password), else the
 * profile's (session commands), else the environment's (`HTTPS_PROXY`, `http_proxy`, `ALL_PROXY` unless `NO_PROXY` lists the host; see `proxyForUrl`).
 * One proxy serves all of the command's requests: the environment's is the one for the first URL the command
 * requests (the token endpoint when given, else the issuer, whose metadata comes first). Endpoints found in the
 * metadata on another host go through the same proxy.
 */
function proxyFor(
  options: CliOptions,
  io: CliIo,
): { url: string; source: string; fromEnvironment: boolean } | undefined {
  if (options.proxy !== undefined) return { url: options.proxy, source: '--proxy', fromEnvironment: false }
  const explicit = io.env.TOKEN_CLIENT_PROXY
  if (explicit !== undefined && explicit !== '') {
    return { url: explicit, source: 'TOKEN_CLIENT_PROXY', fromEnvironment: false }
  }
  if (options.profileProxy !== undefined) {
    return { url: options.profileProxy, source: "the profile's proxy", fromEnvironment: false }
  }
  const first = (options.command === 'discover' ? undefined : options.tokenEndpoint) ?? options.issuer
  const url = first === undefined ? undefined : proxyForUrl(first, io.env)
  return url === undefined
    ? undefined
    : { url, source: 'HTTPS_PROXY, http_proxy or ALL_PROXY', fromEnvironment: true }
}

async function transportFor(options: CliOptions, io: CliIo): Promise<TransportOptions> {
  const transport: TransportOptions = { signal: io.signal }
  if (options.allowInsecureHttp) transport.allowInsecureHttp = true
  // A proxy that needs a password comes from the environment: argv is visible to other users.
  const proxy = proxyFor(options, io)
  const fromFlags = options.cacert !== undefined || options.insecure || options.clientCert !== undefined
  if (proxy !== undefined || fromFlags) {
    const adapter = await loadAdapter(proxy?.fromEnvironment === true && !fromFlags)
    const settings: Parameters<FetchAdapter>[0] = {}
    if (proxy !== undefined) settings.httpProxyUrl = proxy.url
    if (options.cacert !== undefined) settings.verify = options.cacert
    if (options.insecure) settings.verify = false
    // RFC 8705: the certificate goes in the TLS handshake; the adapter reads both files now (paths in errors).
    if (options.clientCert !== undefined && options.clientCertKey !== undefined) {
      settings.clientCert = { cert: options.clientCert, key: options.clientCertKey }
    }
    try {
      // The adapter checks the proxy URL and reads the CA file now: their errors are the caller's to fix.
      adapter(settings)
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      // Which setting is wrong; the adapter's message never repeats the proxy URL (it may carry a password).
      throw new ConfigError(
        proxy !== undefined && /httpProxyUrl/.test(message) ? `${message} (from ${proxy.source})` : message,
      )
    }
    Object.assign(transport, settings, { adapter })
  }
  return transport
}

/**
 * Server-provided text made safe for a terminal: C0 and C1 control characters (ESC, CSI, BEL...) removed, tabs
 * and newlines kept. A hostile server could otherwise rewrite what the person sees, e.g. show a fake URL
 * (RFC 8628 §5.4).
 */
function terminalSafe(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '')
}

/** Where each secret the CLI takes comes from: an environment variable, or stdin with a flag; never argv. */
const secretSources = {
  clientSecret: { variable: 'TOKEN_CLIENT_SECRET', flag: '--client-secret-stdin', what: 'client secret' },
  refreshToken: {
    variable: 'TOKEN_CLIENT_REFRESH_TOKEN',
    flag: '--refresh-token-stdin',
    what: 'refresh token',
  },
} as const

/** A secret from stdin (when its flag is given) or from its environment variable; never from argv. */
async function readSecret(
  io: CliIo,
  options: CliOptions,
  secret: keyof typeof secretSources,
): Promise<string | undefined> {
  const { variable, flag } = secretSources[secret]
  const fromStdin = secret === 'clientSecret' ? options.clientSecretStdin : options.refreshTokenStdin
  if (fromStdin) {
    if (io.stdinIsTty) {
      throw new UsageError(
        `${flag} reads a pipe or a file, not the terminal: e.g. ${flag} < file.`,
        options.command,
      )
    }
    const line = (await io.readStdin()).replace(/\r?\n$/, '')
    if (line === '') throw new UsageError(`${flag}: stdin was empty.`, options.command)
    return line
  }
  const value = io.env[variable]
  return value === undefined || value === '' ? undefined : value
}

/** {@link readSecret}, for a secret the command cannot do without. */
async function requireSecret(
  io: CliIo,
  options: CliOptions,
  secret: keyof typeof secretSources,
): Promise<string> {
  const value = await readSecret(io, options, secret)
  if (value !== undefined) return value
  const { variable, flag, what } = secretSources[secret]
  throw new UsageError(`No ${what}: set ${variable}, or pipe it with ${flag}.`, options.command)
}

/** The endpoints of the command line, completed from the issuer's metadata where not given. */
async function endpointsFor(
  options: CliOptions,
  transport: TransportOptions,
): Promise<AuthenticatorEndpoints> {
  const needsDevice = options.command === 'device'
  const explicit: Partial<AuthenticatorEndpoints> = {}
  if (options.tokenEndpoint !== undefined) explicit.tokenEndpoint = options.tokenEndpoint
  if (options.deviceEndpoint !== undefined) explicit.deviceAuthorizationEndpoint = options.deviceEndpoint
  const endpoints = await resolveEndpoints(
    options.issuer,
    explicit,
    needsDevice ? ['tokenEndpoint', 'deviceAuthorizationEndpoint'] : ['tokenEndpoint'],
    transport,
    '--token-endpoint',
  )
  if (needsDevice && endpoints.deviceAuthorizationEndpoint === undefined) {
    throw new AuthenticationError(
      `The metadata of ${options.issuer} names no device_authorization_endpoint: the server may not support the device flow (use --device-endpoint).`,
    )
  }
  return endpoints
}

function writeToken(io: CliIo, token: TokenResponse, obtainedAt: number, options: CliOptions): void {
  if (options.output === 'header') {
    io.stdout.write(formatToken('header', token, io.env))
    return
  }
  if (!options.json) {
    io.stdout.write(`${token.accessToken}\n`)
    return
  }
  const out: Record<string, unknown> = { access_token: token.accessToken }
  if (token.tokenType !== undefined) out.token_type = token.tokenType
  if (token.expiresIn !== undefined) {
    out.expires_in = token.expiresIn
    out.expires_at = new Date(obtainedAt + token.expiresIn * 1000).toISOString()
  }
  if (token.refreshToken !== undefined) out.refresh_token = token.refreshToken
  if (token.scope !== undefined) out.scope = token.scope
  if (token.idToken !== undefined) out.id_token = token.idToken
  io.stdout.write(`${JSON.stringify(out, null, 2)}\n`)
}

async function showDeviceCode(io: CliIo, code: DeviceCodeResponse): Promise<void> {
  const lines = [
    '',
    'To sign in, open this page in a browser:',
    '',
    `    ${terminalSafe(code.verificationUri)}`,
    '',
    'and enter the code:',
    '',
    `    ${terminalSafe(code.userCode)}`,
    '',
  ]
  const complete =
    code.verificationUriComplete === undefined ? undefined : terminalSafe(code.verificationUriComplete)
  if (complete !== undefined) {
    lines.push(`Or open ${complete} (the code is filled in)${io.stderrIsTty ? ', or scan:' : '.'}`, '')
    if (io.stderrIsTty) {
      // uqr only for a terminal: a chunk of its own, loaded here.
      const { terminalQrCode } = await import('./qr.ts')
      lines.push(terminalQrCode(complete), '')
    }
  }
  io.stderr.write(`${lines.join('\n')}\n`)
}

async function device(io: CliIo, options: CliOptions, transport: TransportOptions): Promise<void> {
  const clientId = options.clientId as string
  const endpoints = await endpointsFor(options, transport)
  const request: Parameters<typeof getDeviceCode>[2] = { ...transport, scope: options.scopes }
  if (options.audience !== undefined) request.audience = options.audience
  const code = await getDeviceCode(endpoints.deviceAuthorizationEndpoint as string | URL, clientId, request)
  await showDeviceCode(io, code)
  const indicator = startWaitingIndicator(io.stderr, {
    expiresInSeconds: code.expiresIn,
    tty: io.stderrIsTty,
  })
  let token: TokenResponse
  // RFC 6749 §5.1: expires_in counts from issuance, i.e. from when the successful poll was sent. That poll goes
  // out only after the previous one was answered: the time of that answer is the latest known moment before it.
  let obtainedAt = Date.now()
  try {
    const poll: Parameters<typeof pollTokenEndpoint>[3] = {
      ...transport,
      onPending: () => {
        obtainedAt = Date.now()
      },
    }
    if (options.audience !== undefined) poll.audience = options.audience
    token = await pollTokenEndpoint(code, endpoints.tokenEndpoint, clientId, poll)
  } finally {
    indicator.stop()
  }
  io.stderr.write('Signed in.\n')
  writeToken(io, token, obtainedAt, options)
}

/** Sends one token request with the scopes and audience of the command line, and prints the answer. */
async function requestToken(
  io: CliIo,
  options: CliOptions,
  transport: TransportOptions,
  grant: Omit<GetTokenOptions, keyof TransportOptions | 'scopes' | 'audience'>,
): Promise<void> {
  const endpoints = await endpointsFor(options, transport)
  const request: GetTokenOptions = { ...transport, ...grant, scopes: options.scopes }
  if (options.audience !== undefined) request.audience = options.audience
  const obtainedAt = Date.now()
  writeToken(io, await getToken(endpoints.tokenEndpoint, request), obtainedAt, options)
}

/** The `--client-key-file` key: PEM PKCS#8 or a private JWK. Messages name the file, never its content. */
async function readClientKey(file: string): Promise<{ key: CryptoKey | JsonWebKey; text: string }> {
  const { readFile } = await builtin<typeof import('node:fs/promises')>('node:fs/promises')
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new ConfigError(
      `--client-key-file: cannot read ${file} (${(err as { code?: string }).code ?? 'error'}).`,
    )
  }
  try {
    if (text.includes('-----BEGIN')) return { key: await importPrivateKeyPem(text), text }
    const jwk = JSON.parse(text) as JsonWebKey
    if (typeof jwk === 'object' && jwk !== null && typeof jwk.d === 'string') return { key: jwk, text }
  } catch (err) {
    if (err instanceof TypeError) throw new ConfigError(`--client-key-file ${file}: ${err.message}`)
  }
  throw new ConfigError(
    `--client-key-file ${file} holds no private key: give an unencrypted PEM PKCS#8 key or a private JWK (JSON).`,
  )
}

/**
 * How the command's client authenticates, and what tells its cache files apart (the secret, or the key's text:
 * hashed only). tls_client_auth: the certificate does it, `client_id` names the client (RFC 8705 §2.1).
 */
async function clientAuthFor(
  io: CliIo,
  options: CliOptions,
  secret?: string,
): Promise<{
  fields: ReturnType<typeof clientAuthOptions>
  credential: string | undefined
  key?: CryptoKey | JsonWebKey
}> {
  const clientId = options.clientId as string
  const keyOptions = options.clientKeyId === undefined ? {} : { keyId: options.clientKeyId }
  if (options.clientAuth === 'tls_client_auth') return { fields: { clientId }, credential: undefined }
  if (options.clientAuth === 'private_key_jwt') {
    const { key, text } = await readClientKey(options.clientKeyFile as string)
    return { fields: clientAuthOptions('private_key_jwt', clientId, key, keyOptions), credential: text, key }
  }
  const value = secret ?? (await requireSecret(io, options, 'clientSecret'))
  return { fields: clientAuthOptions(options.clientAuth, clientId, value, keyOptions), credential: value }
}

/** The DPoP key of `--dpop` (in memory) or `--dpop-key-file` (token-client/node's fileDPoP, loaded lazily). */
async function dpopFor(options: CliOptions): Promise<{ dpop?: DPoPHandle }> {
  if (!options.dpop) return {}
  if (options.dpopKeyFile === undefined) return { dpop: await createDPoP() }
  const specifier: string = 'token-client/node'
  const { fileDPoP } = (await import(specifier)) as { fileDPoP: (path: string) => Promise<DPoPHandle> }
  try {
    return { dpop: await fileDPoP(options.dpopKeyFile) }
  } catch (err) {
    throw new ConfigError(`--dpop-key-file: ${(err as Error).message}`)
  }
}

/**
 * The DPoP key of a session (`login --dpop`): token-client/node's fileDPoP on the key file beside the session
 * file, created (0600) on first use.
 */
async function sessionDPoP(sessionFile: string): Promise<DPoPHandle> {
  const specifier: string = 'token-client/node'
  const { fileDPoP } = (await import(specifier)) as { fileDPoP: (path: string) => Promise<DPoPHandle> }
  try {
    return await fileDPoP(dpopKeyPath(sessionFile))
  } catch (err) {
    throw new ConfigError(
      `The session's DPoP key cannot be used (${(err as Error).message}). Sign in again with token-client login --dpop.`,
    )
  }
}

/** Deletes a session's DPoP key file (none: nothing to do). */
async function deleteSessionKey(sessionFile: string): Promise<void> {
  const { rm } = await import('node:fs/promises')
  await rm(dpopKeyPath(sessionFile), { force: true })
}

async function clientCredentials(io: CliIo, options: CliOptions, transport: TransportOptions): Promise<void> {
  const auth = await clientAuthFor(io, options)
  const dpop = await dpopFor(options)
  if (options.cache) return cachedClientCredentials(io, options, { ...transport, ...dpop }, auth)
  await requestToken(io, options, transport, {
    ...auth.fields,
    ...dpop,
    grantType: GrantType.CLIENT_CREDS,
  })
}

async function refresh(io: CliIo, options: CliOptions, transport: TransportOptions): Promise<void> {
  const refreshToken = await requireSecret(io, options, 'refreshToken')
  const secret = await readSecret(io, options, 'clientSecret')
  const clientId = options.clientId as string
  const confidential =
    secret !== undefined || options.clientKeyFile !== undefined || options.clientAuth === 'tls_client_auth'
  await requestToken(io, options, transport, {
    // A public client identifies itself with client_id (RFC 6749 §6 with §3.2.1); a confidential one authenticates.
    ...(confidential ? (await clientAuthFor(io, options, secret)).fields : { clientId }),
    ...(await dpopFor(options)),
    grantType: GrantType.REFRESH_TOKEN,
    refreshToken,
  })
}

async function discoverCommand(io: CliIo, options: CliOptions, transport: TransportOptions): Promise<void> {
  const metadata = await discover(options.issuer as string, transport)
  io.stdout.write(`${JSON.stringify(metadata, null, 2)}\n`)
}

// ---------------------------------------------------------------------------------------------------------
// The session commands: login, token, logout, status, and client-credentials --cache.

/** A session is needed and there is none to use (or its refresh token was refused): exit 1 with the login. */
class LoginRequired extends Error {
  override name = 'LoginRequired'
  /** The `token-client login ...` command line to run. */
  readonly loginCommand: string
  /** The TOKEN_CLIENT_* variables the login needs set as now. */
  readonly fromEnvironment: readonly string[]

  constructor(reason: string, settings: SessionSettings, meta: SessionMeta | undefined) {
    super(reason)
    this.loginCommand = loginHint(settings, meta)
    this.fromEnvironment = settings.fromEnvironment
  }
}

/** Thrown by {@link StoredSession.obtain}: no grant without a person; the caller words the hint. */
class NoGrantWithoutPerson extends Error {
  override name = 'NoGrantWithoutPerson'
}

function required(settings: SessionSettings | undefined): SessionSettings {
  if (settings === undefined) throw new Error('The session command came without its settings.')
  return settings
}

/**
 * The session as it is, without a person: the cached token, else a refresh under the store's lock; it never
 * starts a sign-in (`token` without `--login`, and `logout`). `required` lists the endpoints it needs, so that
 * `logout` discovers the revocation endpoint.
 */
class StoredSession extends Authenticator {
  constructor(options: AuthenticatorOptions, required: ReadonlyArray<keyof AuthenticatorEndpoints>) {
    super(
      options,
      options.tokenEndpoint === undefined ? {} : { tokenEndpoint: options.tokenEndpoint },
      required,
    )
  }

  protected override obtain(): Promise<ObtainedToken> {
    return Promise.reject(new NoGrantWithoutPerson('A new sign-in is needed.'))
  }
}

/**
 * Creates the sessions directory (and its parent, the token-client home) owner-only, and tightens one that
 * exists with group or other access: a session file is a refresh token. One owned by another user is refused
 * (they could swap the files). POSIX only: Windows' %APPDATA% is per user already.
 */
async function ensureSessionsDir(home: string): Promise<void> {
  const { mkdir, stat, chmod } = await import('node:fs/promises')
  const { join } = await import('node:path')
  const dirs = [home, join(home, 'sessions')]
  await mkdir(dirs[1] as string, { recursive: true, mode: 0o700 })
  if (process.platform === 'win32') return
  for (const dir of dirs) {
    const info = await stat(dir)
    if (process.getuid !== undefined && info.uid !== process.getuid()) {
      throw new ConfigError(
        `${dir} belongs to another user: token-client keeps sessions only in a directory of yours.`,
      )
    }
    if ((info.mode & 0o077) !== 0) await chmod(dir, 0o700)
  }
}

/** The session file as a store: `fileStore` (atomic writes, 0600, the cross-process lock) plus whom it is for. */
async function sessionStore(
  file: string,
  meta: SessionMeta,
  options: { fresh?: boolean } = {},
): Promise<TokenStore> {
  // token-client/node's fileStore, from source: bundled into this chunk, loaded with it.
  const { fileStore } = await import('../stores/file-store.ts')
  const inner = fileStore(file)
  const lock = inner.lock
  const store: TokenStore = {
    // `login` signs in anew: the session there is not offered to the authenticator (it is replaced).
    get: options.fresh === true ? () => undefined : () => inner.get(),
    set: (token) => {
      // The metadata rides along in the same file (fileStore's reader ignores what it does not know).
      const withMeta: StoredToken & { session: SessionMeta } = { ...token, session: meta }
      return inner.set(withMeta)
    },
    delete: () => inner.delete(),
  }
  if (lock !== undefined) store.lock = lock
  return store
}

/** The authenticator options of the settings: server, client, scopes, audience, transport, store, DPoP key. */
function authenticatorOptions(
  options: CliOptions,
  transport: TransportOptions,
  store: TokenStore,
  dpop?: DPoPHandle,
): AuthenticatorOptions {
  const common: AuthenticatorOptions = {
    ...transport,
    clientId: options.clientId as string,
    scopes: options.scopes,
    store,
  }
  if (dpop !== undefined) common.dpop = dpop
  if (options.issuer !== undefined) common.issuer = options.issuer
  if (options.tokenEndpoint !== undefined) common.tokenEndpoint = options.tokenEndpoint
  if (options.audience !== undefined) common.audience = options.audience
  return common
}

/**
 * Opens the system browser on `url`: detached, no shell, the URL one argument (a shell, or `cmd /c start`,
 * would cut it at `&`). Windows goes through rundll32 for that reason. A missing opener is no error: the URL
 * is on stderr anyway.
 */
async function openBrowser(url: string): Promise<void> {
  const { spawn } = await builtin<typeof import('node:child_process')>('node:child_process')
  const [command, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['rundll32', ['url.dll,FileProtocolHandler', url]]
        : ['xdg-open', [url]]
  const child = spawn(command, args, { detached: true, stdio: 'ignore', shell: false })
  child.on('error', () => {})
  child.unref()
}

/**
 * An authenticator that signs a person in when it must, as `login` does: the device flow (URL, code, QR code
 * and countdown on stderr) or, with `--browser`, the loopback sign-in (the URL on stderr, the browser opened
 * unless `--no-open`). `stop()` clears the waiting indicator.
 */
async function signInAuthenticator(
  io: CliIo,
  options: CliOptions,
  transport: TransportOptions,
  store: TokenStore,
  dpop: DPoPHandle | undefined,
): Promise<{ auth: Authenticator; stop(): void }> {
  const common = authenticatorOptions(options, transport, store, dpop)
  if (options.browser) {
    const { LoopbackAuthenticator } = await import('../authenticators/loopback-authenticator.ts')
    // OpenID Connect Core §11: offline_access (a refresh token, i.e. a session) is granted with prompt=consent.
    const prompt = options.prompt ?? (options.scopes.includes('offline_access') ? 'consent' : undefined)
    const auth = new LoopbackAuthenticator({
      ...common,
      ...(prompt === undefined ? {} : { prompt }),
      onAuthorizationUrl: async (url) => {
        const href = terminalSafe(url.href)
        io.stderr.write(
          `\nTo sign in, ${options.noOpen ? 'open' : 'your browser opens'} this page${options.noOpen ? ' in a browser' : ' (or open it yourself)'}:\n\n    ${href}\n\nWaiting for the browser to come back...\n`,
        )
        if (!options.noOpen) await openBrowser(url.href)
      },
    })
    return { auth, stop: () => {} }
  }
  let indicator: WaitingIndicator | undefined
  const auth = new DeviceCodeAuthenticator({
    ...common,
    ...(options.deviceEndpoint === undefined ? {} : { deviceAuthorizationEndpoint: options.deviceEndpoint }),
    onDeviceCode: async (code) => {
      await showDeviceCode(io, code)
      indicator = startWaitingIndicator(io.stderr, { expiresInSeconds: code.expiresIn, tty: io.stderrIsTty })
    },
  })
  return { auth, stop: () => indicator?.stop() }
}

/**
 * The login command of the hint: the flags given, plus `--browser` when the session was a browser sign-in and
 * `--dpop` when it was DPoP-bound.
 */
function loginHint(settings: SessionSettings, meta: SessionMeta | undefined): string {
  let command = settings.loginCommand
  if (meta?.flow === 'browser' && !command.includes(' --browser')) command += ' --browser'
  if (meta?.dpop === true && !command.includes(' --dpop')) command += ' --dpop'
  return command
}

/** Who a session is for, in words for messages (no secret in it). */
function whom(meta: SessionMeta): string {
  return `${meta.issuer ?? meta.tokenEndpoint} (client ${meta.clientId}${meta.scopes.length > 0 ? `, scopes ${meta.scopes.join(' ')}` : ''}${meta.audience === undefined ? '' : `, audience ${meta.audience}`})`
}

async function login(
  io: CliIo,
  options: CliOptions,
  transport: TransportOptions,
  settings: SessionSettings,
): Promise<void> {
  await ensureSessionsDir(settings.home)
  const file = await sessionPath(settings.home, settings.meta)
  const meta: SessionMeta = { ...settings.meta, flow: options.browser ? 'browser' : 'device' }
  if (options.dpop) meta.dpop = true
  const store = await sessionStore(file, meta, { fresh: true })
  // The key of an earlier DPoP login is reused: a session still bound to it stays usable if this one fails.
  const dpop = options.dpop ? await sessionDPoP(file) : undefined
  const { auth, stop } = await signInAuthenticator(io, options, transport, store, dpop)
  try {
    await auth.getAccessToken()
  } finally {
    stop()
  }
  // A Bearer session replaced a DPoP-bound one: its key is of no more use.
  if (!options.dpop) await deleteSessionKey(file)
  const kept = readSessionFile(file)?.token
  io.stderr.write(`Signed in to ${whom(meta)}.\n`)
  if (kept?.refreshToken === undefined) {
    const until = kept?.expiresAt === undefined ? '' : ` until ${new Date(kept.expiresAt).toISOString()}`
    io.stderr.write(
      `The server issued no refresh token: 'token-client token' works${until}, then asks for a new login (ask for the offline_access scope where the server needs it).\n`,
    )
  }
  if (options.saveProfile !== undefined) {
    const saved = await saveProfile(settings.home, options.saveProfile, options)
    io.stderr.write(
      `Saved as profile "${options.saveProfile}" in ${saved}: use --profile ${options.saveProfile}.\n`,
    )
  }
}

/** Writes the settings as a profile of config.json (created 0600; written whole, then renamed over the old one). */
async function saveProfile(home: string, name: string, options: CliOptions): Promise<string> {
  const { join } = await import('node:path')
  const file = join(home, 'config.json')
  const config: Config = readConfig(home)
  const profile: Profile = { clientId: options.clientId as string }
  if (options.issuer !== undefined) profile.issuer = options.issuer
  if (options.tokenEndpoint !== undefined) profile.tokenEndpoint = options.tokenEndpoint
  if (options.deviceEndpoint !== undefined) profile.deviceEndpoint = options.deviceEndpoint
  if (options.scopes.length > 0) profile.scopes = options.scopes
  if (options.audience !== undefined) profile.audience = options.audience
  // --proxy (never a password) or the profile's own; TOKEN_CLIENT_PROXY stays in the environment.
  const proxy = options.proxy ?? options.profileProxy
  if (proxy !== undefined) profile.proxy = proxy
  if (options.cacert !== undefined) profile.cacert = (await import('node:path')).resolve(options.cacert)
  if (options.insecure) profile.insecure = true
  if (options.allowInsecureHttp) profile.allowInsecureHttp = true
  if (options.browser) profile.browser = true
  if (options.dpop) profile.dpop = true
  if (options.prompt !== undefined) profile.prompt = options.prompt
  config.profiles[name] = profile
  await writeFileAtomically(file, `${JSON.stringify(config, null, 2)}\n`)
  return file
}

async function tokenCommand(
  io: CliIo,
  options: CliOptions,
  transport: TransportOptions,
  settings: SessionSettings,
): Promise<void> {
  const { meta, home } = settings
  const file = await sessionPath(home, meta)
  const stored = readSessionFile(file)
  const session = stored !== undefined && stored.token.binding === bindingOf(meta) ? stored : undefined
  const interactive = options.output === 'exec-credential' ? execInfo(io.env).interactive : undefined
  const mayLogin = options.login && interactive !== false
  const noPerson =
    options.login && interactive === false
      ? ' and kubectl runs this plugin non-interactively (KUBERNETES_EXEC_INFO), so it cannot sign in'
      : ''
  if (!mayLogin) {
    if (session === undefined) {
      throw new LoginRequired(`No session for ${whom(meta)}${noPerson}`, settings, undefined)
    }
    if (session.token.refreshToken === undefined && !isUsable(session.token)) {
      throw new LoginRequired(
        `The session for ${whom(meta)} has expired and has no refresh token${noPerson}`,
        settings,
        session.meta,
      )
    }
  }
  await ensureSessionsDir(home)
  const sessionMeta: SessionMeta = session?.meta ?? {
    ...meta,
    flow: options.browser ? 'browser' : 'device',
    ...(options.dpop ? { dpop: true } : {}),
  }
  const store = await sessionStore(file, sessionMeta)
  // The session file says whether it is DPoP-bound: its key is loaded only here, for a refresh or a sign-in.
  const dpop = sessionMeta.dpop === true ? await sessionDPoP(file) : undefined
  const signIn = mayLogin ? await signInAuthenticator(io, options, transport, store, dpop) : undefined
  const auth =
    signIn?.auth ??
    new StoredSession(authenticatorOptions(options, transport, store, dpop), ['tokenEndpoint'])
  let accessToken: string
  try {
    accessToken = await auth.getAccessToken()
  } catch (err) {
    if (err instanceof NoGrantWithoutPerson) {
      throw new LoginRequired(
        `The session for ${whom(meta)} could not be renewed: the server refused its refresh token (expired or revoked)${noPerson}`,
        settings,
        session?.meta,
      )
    }
    throw err
  } finally {
    signIn?.stop()
  }
  if (signIn !== undefined && session === undefined) io.stderr.write(`Signed in to ${whom(meta)}.\n`)
  // The expiry and type of the token just handed out, as the store keeps them.
  const kept = readSessionFile(file)?.token
  io.stdout.write(
    formatToken(options.output, kept?.accessToken === accessToken ? kept : { accessToken }, io.env),
  )
}

/** Revokes one session's tokens (when the server has a revocation endpoint) and deletes it. */
async function signOutOf(
  io: CliIo,
  options: CliOptions,
  transport: TransportOptions,
  file: string,
  meta: SessionMeta,
): Promise<boolean> {
  const store = await sessionStore(file, meta)
  if (meta.kind === 'client-credentials') {
    // No secret here to authenticate a revocation with: a service token simply expires.
    await store.delete()
    io.stderr.write(`Deleted the cached service token of ${whom(meta)}.\n`)
    return true
  }
  // A DPoP-bound token set is taken (and so revoked) only with its key; a missing or broken key file just
  // means the server cannot be told, the session is deleted all the same.
  const { existsSync } = await builtin<typeof import('node:fs')>('node:fs')
  const dpop =
    meta.dpop === true && existsSync(dpopKeyPath(file))
      ? await sessionDPoP(file).catch(() => undefined)
      : undefined
  // With an issuer, its metadata names the revocation endpoint; with explicit endpoints only, there is none.
  const auth = new StoredSession(
    authenticatorOptions(options, transport, store, dpop),
    options.issuer === undefined ? ['tokenEndpoint'] : ['tokenEndpoint', 'revocationEndpoint'],
  )
  let outcome: Awaited<ReturnType<StoredSession['signOut']>>
  try {
    outcome = await auth.signOut()
  } finally {
    await deleteSessionKey(file)
  }
  const { revoked, error } = outcome
  if (revoked) {
    io.stderr.write(`Signed out of ${whom(meta)}: the server revoked the tokens.\n`)
    return true
  }
  const reason = terminalSafe(error?.message ?? 'no reason given')
  io.stderr.write(
    `Signed out of ${whom(meta)} here (the session is deleted), but the server was not told: ${reason}\n`,
  )
  // No revocation endpoint: nothing more can be done, not a failure. A failed revocation request is.
  return error === undefined || /no revocation endpoint/.test(error.message)
}

async function logout(
  io: CliIo,
  options: CliOptions,
  transport: TransportOptions,
  settings: SessionSettings | undefined,
): Promise<number> {
  if (settings !== undefined) {
    const file = await sessionPath(settings.home, settings.meta)
    const stored = readSessionFile(file)
    if (stored === undefined) {
      io.stderr.write(`No session for ${whom(settings.meta)}: nothing to sign out of.\n`)
      return exitCode.ok
    }
    return (await signOutOf(io, options, transport, file, stored.meta ?? settings.meta))
      ? exitCode.ok
      : exitCode.authFailed
  }
  // --all: every session, each with its own settings (and the environment's proxy for its server).
  const sessions = await listSessions(await tokenClientHome(io.env))
  if (sessions.length === 0) io.stderr.write('No sessions: nothing to sign out of.\n')
  let ok = true
  for (const { file, meta } of sessions) {
    if (meta === undefined) continue
    const own: CliOptions = { ...options, clientId: meta.clientId, scopes: meta.scopes }
    if (meta.issuer !== undefined) own.issuer = meta.issuer
    if (meta.tokenEndpoint !== undefined) own.tokenEndpoint = meta.tokenEndpoint
    if (meta.audience !== undefined) own.audience = meta.audience
    try {
      if (!(await signOutOf(io, own, await transportFor(own, io), file, meta))) ok = false
    } catch (err) {
      if (io.signal.aborted) throw err
      ok = false
      io.stderr.write(
        `token-client: ${whom(meta)}: ${terminalSafe(err instanceof Error ? err.message : String(err))}\n`,
      )
    }
  }
  return ok ? exitCode.ok : exitCode.authFailed
}

/** The session files of the sessions directory, read (a missing directory: none). */
async function listSessions(
  home: string,
): Promise<Array<{ file: string; token: StoredToken; meta: SessionMeta | undefined }>> {
  const { readdir } = await import('node:fs/promises')
  const { join } = await import('node:path')
  const dir = join(home, 'sessions')
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return []
    throw err
  }
  const sessions = []
  for (const name of names.filter((n) => /^[0-9a-f]{32}\.json$/.test(n)).sort()) {
    const file = join(dir, name)
    const read = readSessionFile(file)
    if (read !== undefined) sessions.push({ file, ...read })
  }
  return sessions
}

/** For `status`: the names of the profiles whose settings lead to each session file. */
async function profilesBySession(home: string): Promise<Map<string, string[]>> {
  const byFile = new Map<string, string[]>()
  let config: Config
  try {
    config = readConfig(home)
  } catch {
    return byFile
  }
  for (const name of Object.keys(config.profiles)) {
    try {
      const parsed = parseCliArgs(['token', '--profile', name])
      if (parsed === undefined) continue
      const { meta } = await resolveSettings(parsed, { TOKEN_CLIENT_HOME: home })
      const file = await sessionPath(home, meta)
      byFile.set(file, [...(byFile.get(file) ?? []), name])
    } catch {
      // An incomplete profile leads to no session.
    }
  }
  return byFile
}

async function status(io: CliIo, options: CliOptions): Promise<void> {
  const home = await tokenClientHome(io.env)
  const sessions = await listSessions(home)
  const profiles = await profilesBySession(home)
  const now = Date.now()
  const rows = sessions.map(({ file, token, meta }) => ({
    file,
    kind: meta?.kind ?? 'user',
    issuer: meta?.issuer ?? null,
    tokenEndpoint: meta?.tokenEndpoint ?? null,
    clientId: meta?.clientId ?? null,
    scopes: meta?.scopes ?? [],
    audience: meta?.audience ?? null,
    profiles: profiles.get(file) ?? [],
    signedInWith: meta?.flow ?? null,
    // Whether the tokens are DPoP-bound, and where the key is (its path only, never its content).
    tokenType: token.tokenType ?? 'Bearer',
    dpopKeyFile: meta?.dpop === true ? dpopKeyPath(file) : null,
    accessTokenExpiresAt: token.expiresAt === undefined ? null : new Date(token.expiresAt).toISOString(),
    accessTokenValid: isUsable(token, now),
    refreshToken: token.refreshToken !== undefined,
  }))
  if (options.json) {
    io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`)
    return
  }
  if (rows.length === 0) {
    io.stderr.write(`No sessions in ${home}: sign in with token-client login.\n`)
    return
  }
  const lines: string[] = []
  for (const row of rows) {
    const expiry =
      row.accessTokenExpiresAt === null
        ? 'no expiry given'
        : row.accessTokenValid
          ? `valid until ${row.accessTokenExpiresAt} (${Math.max(0, Math.round((Date.parse(row.accessTokenExpiresAt) - now) / 60_000))} min left)`
          : `expired (${row.accessTokenExpiresAt})`
    lines.push(
      `${row.kind === 'client-credentials' ? 'Service token' : 'Session'} ${row.file}`,
      `  issuer:         ${row.issuer ?? '-'}`,
      ...(row.tokenEndpoint === null ? [] : [`  token endpoint: ${row.tokenEndpoint}`]),
      `  client id:      ${row.clientId ?? '-'}`,
      `  scopes:         ${row.scopes.join(' ') || '-'}`,
      `  audience:       ${row.audience ?? '-'}`,
      `  profiles:       ${row.profiles.join(', ') || '-'}`,
      ...(row.signedInWith === null
        ? []
        : [`  signed in with: ${row.signedInWith === 'browser' ? 'the browser' : 'the device flow'}`]),
      `  access token:   ${expiry}`,
      `  token type:     ${row.dpopKeyFile === null ? row.tokenType : `DPoP-bound, key in ${row.dpopKeyFile}`}`,
      `  refresh token:  ${row.refreshToken ? 'present' : 'none'}`,
      '',
    )
  }
  io.stdout.write(lines.map((line) => terminalSafe(line)).join('\n'))
}

/** `client-credentials --cache`: the service token kept in the sessions directory until it expires. */
async function cachedClientCredentials(
  io: CliIo,
  options: CliOptions,
  transport: TransportOptions & { dpop?: DPoPHandle },
  client: Awaited<ReturnType<typeof clientAuthFor>>,
): Promise<void> {
  const home = await tokenClientHome(io.env)
  const meta: SessionMeta = {
    kind: 'client-credentials',
    clientId: options.clientId as string,
    scopes: options.scopes,
  }
  if (options.issuer !== undefined) meta.issuer = options.issuer
  if (options.tokenEndpoint !== undefined) meta.tokenEndpoint = options.tokenEndpoint
  if (options.audience !== undefined) meta.audience = options.audience
  const file = await sessionPath(home, meta, client.credential)
  await ensureSessionsDir(home)
  const auth = new ClientCredentialsAuthenticator({
    ...authenticatorOptions(options, transport, await sessionStore(file, meta)),
    ...(client.key === undefined ? { clientSecret: client.credential as string } : { clientKey: client.key }),
    ...(options.clientKeyId === undefined ? {} : { keyId: options.clientKeyId }),
    // tls_client_auth is refused with --cache by the option checks.
    clientAuth: options.clientAuth as Exclude<CliOptions['clientAuth'], 'tls_client_auth'>,
    ...(transport.dpop === undefined ? {} : { dpop: transport.dpop }),
  })
  const accessToken = await auth.getAccessToken()
  const kept = readSessionFile(file)?.token
  io.stdout.write(
    formatToken(options.output, kept?.accessToken === accessToken ? kept : { accessToken }, io.env),
  )
}

/** What each command does; the session commands get their resolved settings (run.ts). */
const commandRunners: Record<
  CliOptions['command'],
  (
    io: CliIo,
    options: CliOptions,
    transport: TransportOptions,
    settings: SessionSettings | undefined,
  ) => Promise<number | undefined> | Promise<void>
> = {
  login: (io, options, transport, settings) => login(io, options, transport, required(settings)),
  token: (io, options, transport, settings) => tokenCommand(io, options, transport, required(settings)),
  logout: (io, options, transport, settings) => logout(io, options, transport, settings),
  status,
  device,
  'client-credentials': clientCredentials,
  refresh,
  discover: discoverCommand,
}

/**
 * Runs a parsed command (not help): sends its requests and prints the result. Loaded by `runCli` with a dynamic
 * import, only when a command runs. The session commands (`login`, `token`, `logout`) come with their settings
 * resolved by `resolveSettings` (flags, environment, profile).
 *
 * @example
 * ```ts
 * const { runCommand } = await import('./commands.ts')
 * process.exitCode = await runCommand(options, io, await resolveSettings(options, io.env))
 * ```
 *
 * @returns The exit code ({@link exitCode}).
 */
export async function runCommand(
  options: CliOptions,
  io: CliIo,
  settings?: SessionSettings,
): Promise<number> {
  try {
    const transport = await transportFor(settings?.options ?? options, io)
    const code = await commandRunners[options.command](io, settings?.options ?? options, transport, settings)
    return code ?? exitCode.ok
  } catch (err) {
    if (io.signal.aborted) {
      io.stderr.write('Interrupted.\n')
      return exitCode.interrupted
    }
    if (err instanceof UsageError) return reportUsage(io, err)
    if (err instanceof LoginRequired) {
      const env =
        err.fromEnvironment.length === 0 ? '' : ` (with ${err.fromEnvironment.join(', ')} set as now)`
      io.stderr.write(`token-client: ${err.message}. Sign in${env} with:\n\n    ${err.loginCommand}\n\n`)
      return exitCode.authFailed
    }
    // Error messages may quote the server (error_description, metadata values).
    io.stderr.write(`token-client: ${terminalSafe(err instanceof Error ? err.message : String(err))}\n`)
    // The options and the settings are checked before any request: a TypeError after that (an http:// endpoint
    // in the server's metadata, say) is the server's doing, not a usage error.
    return err instanceof ConfigError ? exitCode.usage : exitCode.authFailed
  }
}
