import type { ClientAuthMethod } from '../protocol/client-auth.ts'
import { checkEndpoint, type EndpointRemedies } from '../protocol/transport.ts'
import { builtins } from './builtins.ts'
import { type Command, commands, type SessionCommand, sessionCommands, UsageError } from './usage.ts'

/**
 * What `token` (and `client-credentials`) print: the access token alone, JSON, an HTTP header line, or a
 * Kubernetes ExecCredential.
 *
 * @example
 * ```ts
 * const output: OutputFormat = 'header' // Authorization: Bearer ...
 * ```
 */
export type OutputFormat = 'token' | 'json' | 'header' | 'exec-credential'

/**
 * How the CLI's confidential client authenticates: a {@link ClientAuthMethod}, or `tls_client_auth` (RFC 8705
 * §2.1: the client certificate of `--client-cert` is the authentication, `client_id` names the client).
 *
 * @example
 * ```ts
 * const method: CliClientAuth = 'private_key_jwt' // with --client-key-file key.pem
 * ```
 */
export type CliClientAuth = ClientAuthMethod | 'tls_client_auth'

/**
 * The options of one CLI invocation, checked: flags in camelCase, scopes split, defaults filled in.
 *
 * @example
 * ```ts
 * const options: CliOptions | undefined = parseCliArgs(['discover', '--issuer', 'https://idp.example'])
 * ```
 */
export interface CliOptions {
  command: Command
  help: boolean
  issuer?: string
  tokenEndpoint?: string
  deviceEndpoint?: string
  clientId?: string
  scopes: string[]
  audience?: string
  proxy?: string
  cacert?: string
  insecure: boolean
  allowInsecureHttp: boolean
  json: boolean
  clientSecretStdin: boolean
  refreshTokenStdin: boolean
  clientAuth: CliClientAuth
  /** `--client-key-file`: the private key (PEM PKCS#8 or JWK JSON) of `private_key_jwt` (RFC 7523 §2.2). */
  clientKeyFile?: string
  /** `--client-key-id`: the `kid` of the assertions' header. */
  clientKeyId?: string
  /** `--client-cert`, `--client-cert-key`: the client certificate and its key (mutual TLS, RFC 8705). */
  clientCert?: string
  clientCertKey?: string
  /**
   * `--dpop`: bind the token to a DPoP key (RFC 9449), in memory unless `--dpop-key-file` keeps it; for `login`
   * (and `token --login`), in a key file beside the session.
   */
  dpop: boolean
  /** `--dpop-key-file`: the DPoP key, created (mode 0600) or read. */
  dpopKeyFile?: string
  /** What to print (`--output`; `--json` is `json`). */
  output: OutputFormat
  /** `--profile`: the profile of config.json to take the settings from. */
  profile?: string
  /** `login --save-profile`: save the settings as this profile after signing in. */
  saveProfile?: string
  /** `--browser`: sign in with the system browser instead of the device flow. */
  browser: boolean
  /** `--no-open`: print the sign-in URL, open no browser. */
  noOpen: boolean
  /** `--prompt`: the OpenID Connect prompt of a browser sign-in. */
  prompt?: string
  /** `token --login`: sign in when there is no usable session. */
  login: boolean
  /** `logout --all`. */
  all: boolean
  /** `client-credentials --cache`. */
  cache: boolean
  /**
   * The proxy of the profile (config.json), used after `--proxy` and `TOKEN_CLIENT_PROXY` and before the
   * environment's `HTTPS_PROXY`; unlike `--proxy` it may carry a password (the file is the owner's alone).
   */
  profileProxy?: string
}

type OptionSpec = { type: 'string' | 'boolean'; multiple?: boolean; short?: string }

const shared: Record<string, OptionSpec> = {
  help: { type: 'boolean', short: 'h' },
  issuer: { type: 'string' },
  proxy: { type: 'string' },
  cacert: { type: 'string' },
  insecure: { type: 'boolean' },
  'allow-insecure-http': { type: 'boolean' },
}

const tokenRequest: Record<string, OptionSpec> = {
  'token-endpoint': { type: 'string' },
  'client-id': { type: 'string' },
  scope: { type: 'string', multiple: true },
  audience: { type: 'string' },
  json: { type: 'boolean' },
}

const confidential: Record<string, OptionSpec> = {
  'client-secret-stdin': { type: 'boolean' },
  'client-auth': { type: 'string' },
  'client-key-file': { type: 'string' },
  'client-key-id': { type: 'string' },
  'client-cert': { type: 'string' },
  'client-cert-key': { type: 'string' },
  dpop: { type: 'boolean' },
  'dpop-key-file': { type: 'string' },
}

const session: Record<string, OptionSpec> = {
  ...shared,
  ...tokenRequest,
  'device-endpoint': { type: 'string' },
  profile: { type: 'string' },
}

const signIn: Record<string, OptionSpec> = {
  browser: { type: 'boolean' },
  dpop: { type: 'boolean' },
  'no-open': { type: 'boolean' },
  prompt: { type: 'string' },
}

const optionsByCommand: Record<Command, Record<string, OptionSpec>> = {
  login: { ...session, ...signIn, 'save-profile': { type: 'string' } },
  token: { ...session, ...signIn, login: { type: 'boolean' }, output: { type: 'string' } },
  logout: { ...session, all: { type: 'boolean' } },
  status: { help: shared.help as OptionSpec, json: { type: 'boolean' } },
  device: { ...shared, ...tokenRequest, 'device-endpoint': { type: 'string' } },
  'client-credentials': {
    ...shared,
    ...tokenRequest,
    ...confidential,
    cache: { type: 'boolean' },
    output: { type: 'string' },
  },
  refresh: { ...shared, ...tokenRequest, ...confidential, 'refresh-token-stdin': { type: 'boolean' } },
  discover: shared,
}

const outputFormats: Record<Command, readonly OutputFormat[]> = {
  login: [],
  token: ['token', 'json', 'header', 'exec-credential'],
  logout: [],
  status: [],
  device: [],
  'client-credentials': ['token', 'json', 'header'],
  refresh: [],
  discover: [],
}

/** A profile name: a file-name-like word, so that it is safe in messages and in the login hint. */
const profileName = /^[A-Za-z0-9][\w.-]{0,63}$/

/**
 * Whether a command keeps a session (`login`, `token`, `logout`): its settings may also come from the
 * environment and a profile, so their checks wait for {@link checkCliOptions}.
 *
 * @example
 * ```ts
 * if (isSessionCommand(options.command)) options = resolveSettings(options, env).options
 * ```
 */
export function isSessionCommand(command: Command): command is SessionCommand {
  return (sessionCommands as readonly string[]).includes(command)
}

// Options that would put a secret on the command line, where `ps` and shell history show it to others.
const secretOptions = /^--(client-secret|secret|refresh-token|access-token|device-code)(=|$)/

function isCommand(value: string | undefined): value is Command {
  return (commands as readonly string[]).includes(value ?? '')
}

/** The CLI's remedies in {@link checkEndpoint}'s messages: flags and the environment, not library options. */
const cliRemedies: EndpointRemedies = {
  credentials: 'secrets go in the environment or stdin',
  insecureHttp: '--allow-insecure-http',
}

/** What {@link checkEndpoint} calls each URL option in its messages. */
const urlOptionNames = {
  issuer: 'issuer URL',
  'token-endpoint': 'token endpoint',
  'device-endpoint': 'device authorization endpoint',
} as const

/**
 * Checks a URL option with the core's rule ({@link checkEndpoint}: absolute, no credentials, https, plain http
 * only on loopback unless allowed; RFC 6749 §3.2), worded for the command line.
 */
function checkUrl(
  name: keyof typeof urlOptionNames,
  value: string | undefined,
  allowHttp: boolean,
  command: Command,
): void {
  if (value === undefined) return
  try {
    checkEndpoint(value, urlOptionNames[name], allowHttp, cliRemedies)
  } catch (err) {
    if (!(err instanceof TypeError)) throw err
    // checkEndpoint never echoes credentials.
    throw new UsageError(`--${name}: ${err.message}`, command)
  }
}

/**
 * Parses the CLI's arguments (`node:util` parseArgs, which Deno provides too).
 *
 * @example
 * ```ts
 * parseCliArgs(['client-credentials', '--issuer', 'https://idp.example', '--client-id', 'svc', '--scope', 'a b'])
 * // { command: 'client-credentials', scopes: ['a', 'b'], clientAuth: 'basic', ... }
 * ```
 *
 * @returns `undefined` for the top-level help; the checked options otherwise.
 * @throws {@link UsageError} for anything that is not a valid invocation; messages never repeat argument
 *   values, which might be secrets typed in the wrong place.
 */
export function parseCliArgs(argv: readonly string[]): CliOptions | undefined {
  const [first, ...rest] = argv
  if (first === undefined) throw new UsageError('No command given.')
  if (first === '-h' || first === '--help' || first === 'help') {
    if (rest[0] !== undefined && isCommand(rest[0])) return { ...defaults(rest[0]), help: true }
    return undefined
  }
  if (!isCommand(first)) {
    throw new UsageError(
      first.startsWith('-')
        ? 'The command comes first.'
        : `Unknown command; expected one of: ${commands.join(', ')}.`,
    )
  }
  const command = first
  for (const arg of rest) {
    if (arg === '--') break
    if (secretOptions.test(arg)) {
      throw new UsageError(
        'Secrets are never taken from the command line (other users can see it, and shell history keeps it): use the TOKEN_CLIENT_SECRET / TOKEN_CLIENT_REFRESH_TOKEN environment variables or --client-secret-stdin / --refresh-token-stdin.',
        command,
      )
    }
  }

  let values: Record<string, string | boolean | Array<string | boolean> | undefined>
  try {
    ;({ values } = builtins.util.parseArgs({
      args: [...rest],
      options: optionsByCommand[command],
      strict: true,
    }))
  } catch (err) {
    const code = (err as { code?: unknown }).code
    const message = err instanceof Error ? err.message : String(err)
    throw new UsageError(
      code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
        ? 'This command takes no positional arguments.'
        : message,
      command,
    )
  }
  const options = defaults(command)
  const text = (name: string): string | undefined => {
    const value = values[name]
    if (value === undefined) return undefined
    if (typeof value !== 'string' || value.trim() === '')
      throw new UsageError(`--${name} needs a value.`, command)
    return value.trim()
  }
  const flag = (name: string): boolean => values[name] === true

  options.help = flag('help')
  if (options.help) return options

  const assign = <K extends keyof CliOptions>(key: K, value: CliOptions[K] | undefined): void => {
    if (value !== undefined) options[key] = value
  }
  assign('issuer', text('issuer'))
  assign('tokenEndpoint', text('token-endpoint'))
  assign('deviceEndpoint', text('device-endpoint'))
  assign('clientId', text('client-id'))
  assign('audience', text('audience'))
  assign('proxy', text('proxy'))
  assign('cacert', text('cacert'))
  const scopes = values.scope
  if (Array.isArray(scopes)) options.scopes = scopes.flatMap((s) => String(s).split(/\s+/)).filter(Boolean)
  options.insecure = flag('insecure')
  options.allowInsecureHttp = flag('allow-insecure-http')
  options.json = flag('json')
  options.clientSecretStdin = flag('client-secret-stdin')
  options.refreshTokenStdin = flag('refresh-token-stdin')
  options.browser = flag('browser')
  options.noOpen = flag('no-open')
  options.login = flag('login')
  options.all = flag('all')
  options.cache = flag('cache')
  assign('prompt', text('prompt'))
  for (const [key, name] of [
    ['profile', 'profile'],
    ['saveProfile', 'save-profile'],
  ] as const) {
    const value = text(name)
    if (value === undefined) continue
    if (!profileName.test(value)) {
      throw new UsageError(
        `--${name}: a profile name is letters, digits, '.', '_' and '-' (at most 64).`,
        command,
      )
    }
    options[key] = value
  }
  const output = text('output')
  if (output !== undefined) {
    const allowed = outputFormats[command]
    if (!(allowed as readonly string[]).includes(output)) {
      throw new UsageError(`--output must be ${allowed.join(', ').replace(/, (\S+)$/, ' or $1')}.`, command)
    }
    if (options.json && output !== 'json') {
      throw new UsageError('--json and --output contradict each other: give one.', command)
    }
    options.output = output as OutputFormat
    options.json = output === 'json'
  } else if (options.json) {
    options.output = 'json'
  }
  const clientAuth = text('client-auth')
  const methods = [
    'basic',
    'basic-unencoded',
    'post',
    'private_key_jwt',
    'client_secret_jwt',
    'tls_client_auth',
  ]
  if (clientAuth !== undefined && !methods.includes(clientAuth)) {
    throw new UsageError(
      `--client-auth must be ${methods.join(', ').replace(/, (\S+)$/, ' or $1')}.`,
      command,
    )
  }
  assign('clientKeyFile', text('client-key-file'))
  assign('clientKeyId', text('client-key-id'))
  assign('clientCert', text('client-cert'))
  assign('clientCertKey', text('client-cert-key'))
  assign('dpopKeyFile', text('dpop-key-file'))
  options.dpop = flag('dpop') || options.dpopKeyFile !== undefined
  // A key file means private_key_jwt unless a method is named.
  options.clientAuth = (clientAuth ??
    (options.clientKeyFile === undefined ? 'basic' : 'private_key_jwt')) as CliClientAuth
  if ((options.clientAuth === 'private_key_jwt') !== (options.clientKeyFile !== undefined)) {
    throw new UsageError(
      options.clientKeyFile === undefined
        ? '--client-auth private_key_jwt signs with the client key: give --client-key-file (PEM PKCS#8 or JWK).'
        : `--client-key-file is the key of --client-auth private_key_jwt, not of ${options.clientAuth}.`,
      command,
    )
  }
  if ((options.clientCert === undefined) !== (options.clientCertKey === undefined)) {
    throw new UsageError('--client-cert and --client-cert-key go together: give both (PEM files).', command)
  }
  if (options.clientAuth === 'tls_client_auth' && options.clientCert === undefined) {
    throw new UsageError(
      '--client-auth tls_client_auth authenticates by certificate: give --client-cert and --client-cert-key.',
      command,
    )
  }
  if (options.cache && options.dpop && options.dpopKeyFile === undefined) {
    throw new UsageError(
      '--cache keeps the token for later runs, which need its DPoP key: give --dpop-key-file.',
      command,
    )
  }
  if (options.cache && options.clientAuth === 'tls_client_auth') {
    throw new UsageError('--cache takes a client secret or --client-key-file, not tls_client_auth.', command)
  }

  if (options.cacert !== undefined && options.insecure) {
    throw new UsageError('--cacert and --insecure contradict each other: give one.', command)
  }
  if (command === 'logout' && options.all) {
    for (const name of [
      'issuer',
      'token-endpoint',
      'device-endpoint',
      'client-id',
      'scope',
      'audience',
      'profile',
    ]) {
      if (values[name] !== undefined) {
        throw new UsageError(`--all signs out of every session: it takes no --${name}.`, command)
      }
    }
  }
  if (command !== 'status' && !(command === 'logout' && options.all)) {
    if (isSessionCommand(command)) checkProxyFlag(options)
    else checkCliOptions(options)
  }
  return options
}

/** --proxy comes from argv: it must not carry a password (a profile's proxy may; see resolveSettings). */
function checkProxyFlag(options: CliOptions): void {
  if (options.proxy === undefined) return
  const proxy = URL.parse(options.proxy)
  if (proxy !== null && (proxy.username !== '' || proxy.password !== '')) {
    throw new UsageError(
      '--proxy must not carry a user name or password: put a proxy URL with credentials in TOKEN_CLIENT_PROXY.',
      options.command,
    )
  }
}

/**
 * The checks of a complete invocation: the settings it needs are there, the URLs are acceptable (https, or
 * http on loopback), the proxy is an http(s) URL. For the session commands, run once the environment and the
 * profile are merged in.
 *
 * @example
 * ```ts
 * checkCliOptions(options) // throws UsageError('--client-id is required.', 'device')
 * ```
 *
 * @throws {@link UsageError} naming what is missing or wrong, never a value.
 */
export function checkCliOptions(options: CliOptions): void {
  const command = options.command
  const session = isSessionCommand(command)
  if (options.clientSecretStdin && options.refreshTokenStdin) {
    throw new UsageError(
      'Only one secret can come from stdin: pass the other in its environment variable (TOKEN_CLIENT_SECRET or TOKEN_CLIENT_REFRESH_TOKEN).',
      command,
    )
  }
  if (session) {
    if (options.clientId === undefined) {
      throw new UsageError(
        'No client id: give --client-id, set TOKEN_CLIENT_CLIENT_ID, or use a --profile that has one.',
        command,
      )
    }
    if (options.issuer === undefined && options.tokenEndpoint === undefined) {
      throw new UsageError(
        'No server: give --issuer (or --token-endpoint), set TOKEN_CLIENT_ISSUER, or use a --profile that has one.',
        command,
      )
    }
    if (options.noOpen && !options.browser) {
      throw new UsageError('--no-open goes with --browser.', command)
    }
    if (options.prompt !== undefined && !options.browser) {
      throw new UsageError('--prompt goes with --browser (the device flow has no prompt).', command)
    }
    const signsIn = command === 'login' || (command === 'token' && options.login)
    if (signsIn && options.browser && options.issuer === undefined) {
      throw new UsageError(
        '--browser needs --issuer (its metadata names the authorization endpoint).',
        command,
      )
    }
    if (signsIn && !options.browser && options.issuer === undefined && options.deviceEndpoint === undefined) {
      throw new UsageError('Give --issuer, or both --token-endpoint and --device-endpoint.', command)
    }
  } else if (command === 'discover') {
    if (options.issuer === undefined) throw new UsageError('--issuer is required.', command)
  } else {
    if (options.clientId === undefined) throw new UsageError('--client-id is required.', command)
    if (options.issuer === undefined && options.tokenEndpoint === undefined) {
      throw new UsageError('Give --issuer, or --token-endpoint.', command)
    }
    if (
      command === 'device' &&
      options.issuer === undefined &&
      (options.tokenEndpoint === undefined || options.deviceEndpoint === undefined)
    ) {
      throw new UsageError('Give --issuer, or both --token-endpoint and --device-endpoint.', command)
    }
  }
  if (options.proxy !== undefined) {
    const proxy = URL.parse(options.proxy)
    if (proxy === null || (proxy.protocol !== 'http:' && proxy.protocol !== 'https:')) {
      throw new UsageError('--proxy must be an http:// or https:// URL.', command)
    }
    // Not echoed, and not taken: a proxy password on the command line is as visible as any other secret.
    if (proxy.username !== '' || proxy.password !== '') {
      throw new UsageError(
        '--proxy must not carry a user name or password: put a proxy URL with credentials in TOKEN_CLIENT_PROXY.',
        command,
      )
    }
  }
  for (const [name, value] of [
    ['issuer', options.issuer],
    ['token-endpoint', options.tokenEndpoint],
    ['device-endpoint', options.deviceEndpoint],
  ] as const) {
    checkUrl(name, value, options.allowInsecureHttp, command)
  }
}

function defaults(command: Command): CliOptions {
  return {
    command,
    help: false,
    scopes: [],
    insecure: false,
    allowInsecureHttp: false,
    json: false,
    clientSecretStdin: false,
    refreshTokenStdin: false,
    clientAuth: 'basic',
    dpop: false,
    output: 'token',
    browser: false,
    noOpen: false,
    login: false,
    all: false,
    cache: false,
  }
}
