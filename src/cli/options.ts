import type { ClientAuthMethod } from '../protocol/client-auth.ts'
import { checkEndpoint, type EndpointRemedies } from '../protocol/transport.ts'
import { builtins } from './builtins.ts'
import { type Command, commands, UsageError } from './usage.ts'

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
  clientAuth: ClientAuthMethod
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

const token: Record<string, OptionSpec> = {
  'token-endpoint': { type: 'string' },
  'client-id': { type: 'string' },
  scope: { type: 'string', multiple: true },
  audience: { type: 'string' },
  json: { type: 'boolean' },
}

const confidential: Record<string, OptionSpec> = {
  'client-secret-stdin': { type: 'boolean' },
  'client-auth': { type: 'string' },
}

const optionsByCommand: Record<Command, Record<string, OptionSpec>> = {
  device: { ...shared, ...token, 'device-endpoint': { type: 'string' } },
  'client-credentials': { ...shared, ...token, ...confidential },
  refresh: { ...shared, ...token, ...confidential, 'refresh-token-stdin': { type: 'boolean' } },
  discover: shared,
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
  const clientAuth = text('client-auth')
  if (clientAuth !== undefined) {
    if (clientAuth !== 'basic' && clientAuth !== 'basic-unencoded' && clientAuth !== 'post') {
      throw new UsageError('--client-auth must be basic, basic-unencoded or post.', command)
    }
    options.clientAuth = clientAuth
  }

  if (options.cacert !== undefined && options.insecure) {
    throw new UsageError('--cacert and --insecure contradict each other: give one.', command)
  }
  if (options.clientSecretStdin && options.refreshTokenStdin) {
    throw new UsageError(
      'Only one secret can come from stdin: pass the other in its environment variable (TOKEN_CLIENT_SECRET or TOKEN_CLIENT_REFRESH_TOKEN).',
      command,
    )
  }
  if (command === 'discover') {
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
  return options
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
  }
}
