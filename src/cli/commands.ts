import { proxyForUrl } from '../adapters/proxy-env.ts'
import type { AuthenticatorEndpoints } from '../authenticators/authenticator.ts'
import { resolveEndpoints } from '../authenticators/endpoints.ts'
import { clientAuthOptions } from '../protocol/client-auth.ts'
import { GrantType } from '../protocol/constants.ts'
import { getDeviceCode } from '../protocol/device-code.ts'
import type { DeviceCodeResponse } from '../protocol/device-code-response.ts'
import { discover } from '../protocol/discovery.ts'
import { AuthenticationError } from '../protocol/errors.ts'
import { pollTokenEndpoint } from '../protocol/poll.ts'
import type { TokenResponse } from '../protocol/schemas.ts'
import { type GetTokenOptions, getToken } from '../protocol/token.ts'
import type { FetchAdapter, TransportOptions } from '../protocol/transport.ts'
import { type CliIo, exitCode, reportUsage } from './io.ts'
import type { CliOptions } from './options.ts'
import { UsageError } from './usage.ts'
import { startWaitingIndicator } from './waiting-indicator.ts'

/**
 * A setting the CLI cannot work with (a TOKEN_CLIENT_PROXY or HTTPS_PROXY that is no proxy URL, an unreadable
 * --cacert, undici not installed): exit code 2 like a usage error, but without the pointer to `--help`.
 */
class ConfigError extends Error {
  override name = 'ConfigError'
}

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
          : '--proxy/--cacert/--insecure need the undici package: npm install undici',
      )
    }
  }
  return adapter
}

/**
 * The proxy of the command line: `--proxy`, else `TOKEN_CLIENT_PROXY` (which may carry a password), else the
 * environment's (`HTTPS_PROXY`, `http_proxy`, `ALL_PROXY` unless `NO_PROXY` lists the host; see `proxyForUrl`).
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
  if (proxy !== undefined || options.cacert !== undefined || options.insecure) {
    const adapter = await loadAdapter(
      proxy?.fromEnvironment === true && options.cacert === undefined && !options.insecure,
    )
    const settings: Parameters<FetchAdapter>[0] = {}
    if (proxy !== undefined) settings.httpProxyUrl = proxy.url
    if (options.cacert !== undefined) settings.verify = options.cacert
    if (options.insecure) settings.verify = false
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

function writeToken(io: CliIo, token: TokenResponse, obtainedAt: number, json: boolean): void {
  if (!json) {
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
  writeToken(io, token, obtainedAt, options.json)
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
  writeToken(io, await getToken(endpoints.tokenEndpoint, request), obtainedAt, options.json)
}

async function clientCredentials(io: CliIo, options: CliOptions, transport: TransportOptions): Promise<void> {
  const secret = await requireSecret(io, options, 'clientSecret')
  await requestToken(io, options, transport, {
    ...clientAuthOptions(options.clientAuth, options.clientId as string, secret),
    grantType: GrantType.CLIENT_CREDS,
  })
}

async function refresh(io: CliIo, options: CliOptions, transport: TransportOptions): Promise<void> {
  const refreshToken = await requireSecret(io, options, 'refreshToken')
  const secret = await readSecret(io, options, 'clientSecret')
  const clientId = options.clientId as string
  await requestToken(io, options, transport, {
    // A public client identifies itself with client_id (RFC 6749 §6 with §3.2.1); a confidential one authenticates.
    ...(secret === undefined ? { clientId } : clientAuthOptions(options.clientAuth, clientId, secret)),
    grantType: GrantType.REFRESH_TOKEN,
    refreshToken,
  })
}

async function discoverCommand(io: CliIo, options: CliOptions, transport: TransportOptions): Promise<void> {
  const metadata = await discover(options.issuer as string, transport)
  io.stdout.write(`${JSON.stringify(metadata, null, 2)}\n`)
}

/** What each command does. */
const commandRunners: Record<
  CliOptions['command'],
  (io: CliIo, options: CliOptions, transport: TransportOptions) => Promise<void>
> = {
  device,
  'client-credentials': clientCredentials,
  refresh,
  discover: discoverCommand,
}

/**
 * Runs a parsed command (not help): sends its requests and prints the result. Loaded by `runCli` with a dynamic
 * import, only when a command runs.
 *
 * @example
 * ```ts
 * const { runCommand } = await import('./commands.ts')
 * process.exitCode = await runCommand(options, io)
 * ```
 *
 * @returns The exit code ({@link exitCode}).
 */
export async function runCommand(options: CliOptions, io: CliIo): Promise<number> {
  try {
    const transport = await transportFor(options, io)
    await commandRunners[options.command](io, options, transport)
    return exitCode.ok
  } catch (err) {
    if (io.signal.aborted) {
      io.stderr.write('Interrupted.\n')
      return exitCode.interrupted
    }
    if (err instanceof UsageError) return reportUsage(io, err)
    // Error messages may quote the server (error_description, metadata values).
    io.stderr.write(`token-client: ${terminalSafe(err instanceof Error ? err.message : String(err))}\n`)
    // The options and the settings are checked before any request: a TypeError after that (an http:// endpoint
    // in the server's metadata, say) is the server's doing, not a usage error.
    return err instanceof ConfigError ? exitCode.usage : exitCode.authFailed
  }
}
