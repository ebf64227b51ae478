// The sessions directory, profiles and the warm path of `token-client token`: settings from flags, environment
// and config.json, the session file of those settings, and printing a cached token. Light on purpose (node
// built-ins through process.getBuiltinModule, hand-written checks instead of valibot): a valid cached token is
// printed without loading ky, valibot, the adapters or the command chunk (tests/node/cli-cold-start.spec.ts).
import type * as NodeFs from 'node:fs'
import type * as NodeOs from 'node:os'
import type * as NodePath from 'node:path'
import type { StoredToken } from '../stores/token-store.ts'
import { defaultSkewSeconds, isTokenUsable, tokenBinding } from '../stores/token-validity.ts'
import { builtin } from './builtins.ts'
import { type CliIo, ConfigError, exitCode } from './io.ts'
import { type CliOptions, checkCliOptions, type OutputFormat } from './options.ts'
import { sha256Hex } from './sha256.ts'

const fs = await builtin<typeof NodeFs>('node:fs')
const path = await builtin<typeof NodePath>('node:path')

/**
 * Whom a session is for, kept in its file beside the tokens (for `status`, `logout --all` and the login hint).
 *
 * @example
 * ```ts
 * const meta: SessionMeta = { kind: 'user', issuer: 'https://idp.example', clientId: 'my-cli', scopes: ['openid'] }
 * ```
 */
export interface SessionMeta {
  /** `user`: kept by `login`; `client-credentials`: a service token of `client-credentials --cache`. */
  kind: 'user' | 'client-credentials'
  issuer?: string
  tokenEndpoint?: string
  deviceEndpoint?: string
  clientId: string
  scopes: string[]
  audience?: string
  /** How the person signed in (`login`): the login hint repeats `--browser`. */
  flow?: 'device' | 'browser'
  /** `login --dpop`: the tokens are bound to the DPoP key of {@link dpopKeyPath} (RFC 9449). */
  dpop?: boolean
}

/**
 * A session file read back: the token set (as `fileStore` keeps it) and whom it is for.
 *
 * @example
 * ```ts
 * const file: SessionFile | undefined = readSessionFile(sessionPath(home, meta))
 * ```
 */
export interface SessionFile {
  token: StoredToken
  meta: SessionMeta | undefined
}

/**
 * A profile of config.json: the settings of one server and client, so that `--profile NAME` replaces them.
 *
 * @example
 * ```ts
 * const work: Profile = { issuer: 'https://idp.example', clientId: 'my-cli', scopes: ['openid', 'offline_access'] }
 * ```
 */
export interface Profile {
  issuer?: string
  tokenEndpoint?: string
  deviceEndpoint?: string
  clientId?: string
  scopes?: string[]
  audience?: string
  /** May carry a password: config.json is the owner's alone (0600). */
  proxy?: string
  /** A PEM file; a relative path counts from the directory of config.json. */
  cacert?: string
  insecure?: boolean
  allowInsecureHttp?: boolean
  /** Sign in with the browser rather than the device flow. */
  browser?: boolean
  /** Bind the session's tokens to a DPoP key (`--dpop`). */
  dpop?: boolean
  prompt?: string
}

/**
 * config.json: `{ "profiles": { "NAME": Profile } }`.
 *
 * @example
 * ```ts
 * const config: Config = { profiles: { work: { issuer: 'https://idp.example', clientId: 'my-cli' } } }
 * ```
 */
export interface Config {
  profiles: Record<string, Profile>
}

const profileStrings = [
  'issuer',
  'tokenEndpoint',
  'deviceEndpoint',
  'clientId',
  'audience',
  'proxy',
  'cacert',
  'prompt',
] as const
const profileBooleans = ['insecure', 'allowInsecureHttp', 'browser', 'dpop'] as const

/**
 * The directory of config.json and sessions/: `$TOKEN_CLIENT_HOME`, else `$XDG_CONFIG_HOME/token-client`, else
 * `~/.config/token-client` (`%APPDATA%\token-client` on Windows).
 *
 * @example
 * ```ts
 * const home = await tokenClientHome(process.env) // /home/me/.config/token-client
 * ```
 */
export async function tokenClientHome(env: Readonly<Record<string, string | undefined>>): Promise<string> {
  const explicit = env.TOKEN_CLIENT_HOME
  if (explicit !== undefined && explicit !== '') return path.resolve(explicit)
  const xdg = env.XDG_CONFIG_HOME
  if (xdg !== undefined && path.isAbsolute(xdg)) return path.join(xdg, 'token-client')
  if (process.platform === 'win32' && env.APPDATA !== undefined && env.APPDATA !== '') {
    return path.join(env.APPDATA, 'token-client')
  }
  const os = await builtin<typeof NodeOs>('node:os')
  return path.join(os.homedir(), '.config', 'token-client')
}

/**
 * What an authenticator binds a stored token set to, from the session's settings (the warm path needs no
 * authenticator).
 *
 * @example
 * ```ts
 * if (stored.binding !== bindingOf(meta)) return undefined // another configuration's token
 * ```
 */
export function bindingOf(
  meta: Pick<SessionMeta, 'issuer' | 'tokenEndpoint' | 'clientId' | 'scopes' | 'audience'>,
): string {
  return tokenBinding(meta.tokenEndpoint ?? meta.issuer, meta.clientId, meta.scopes, meta.audience)
}

/**
 * The session file of these settings: `sessions/<sha256 prefix>.json`, hashed so that no URL or scope has to
 * be a file name. A client-credentials token is keyed by the secret's hash too: a rotated (or mistyped) secret
 * never gets the token of another.
 *
 * @example
 * ```ts
 * const file = await sessionPath(home, meta) // ~/.config/token-client/sessions/3f9a....json
 * ```
 */
export async function sessionPath(home: string, meta: SessionMeta, secret?: string): Promise<string> {
  const key = [meta.kind, bindingOf(meta), ...(secret === undefined ? [] : [sha256Hex(secret)])]
  return path.join(home, 'sessions', `${sha256Hex(JSON.stringify(key)).slice(0, 32)}.json`)
}

const isString = (value: unknown): value is string => typeof value === 'string'
const isFiniteNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value)
const optional = <T>(value: unknown, check: (v: unknown) => v is T): boolean =>
  value === undefined || check(value)

/**
 * The DPoP key file of a DPoP-bound session: beside the session file, `sessions/<hash>.dpop.jwk` (0600, as
 * secret as the refresh token bound to it).
 *
 * @example
 * ```ts
 * const dpop = await fileDPoP(dpopKeyPath(file))
 * ```
 */
export function dpopKeyPath(sessionFile: string): string {
  return `${sessionFile.replace(/\.json$/, '')}.dpop.jwk`
}

/** The token set of a session file, checked by hand as `parseStoredToken` checks it (valibot stays unloaded). */
function asStoredToken(value: Record<string, unknown>): StoredToken | undefined {
  const { accessToken, obtainedAt, expiresAt, refreshToken, tokenType, scope, idToken, binding, jkt } = value
  if (!isString(accessToken) || accessToken === '' || !isFiniteNumber(obtainedAt)) return undefined
  if (!optional(expiresAt, isFiniteNumber) || !optional(binding, isString)) return undefined
  if (!optional(tokenType, isString) || !optional(scope, isString) || !optional(idToken, isString))
    return undefined
  if (!optional(refreshToken, isString) || refreshToken === '') return undefined
  const token: StoredToken = { accessToken, obtainedAt }
  if (expiresAt !== undefined) token.expiresAt = expiresAt as number
  if (refreshToken !== undefined) token.refreshToken = refreshToken as string
  if (tokenType !== undefined) token.tokenType = tokenType as string
  if (scope !== undefined) token.scope = scope as string
  if (idToken !== undefined) token.idToken = idToken as string
  if (binding !== undefined) token.binding = binding as string
  if (isString(jkt)) token.jkt = jkt
  return token
}

function asSessionMeta(value: unknown): SessionMeta | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const { kind, issuer, tokenEndpoint, deviceEndpoint, clientId, scopes, audience, flow, dpop } =
    value as Record<string, unknown>
  if (kind !== 'user' && kind !== 'client-credentials') return undefined
  if (!isString(clientId) || !Array.isArray(scopes) || !scopes.every(isString)) return undefined
  if (![issuer, tokenEndpoint, deviceEndpoint, audience].every((v) => optional(v, isString))) return undefined
  const meta: SessionMeta = { kind, clientId, scopes }
  if (issuer !== undefined) meta.issuer = issuer as string
  if (tokenEndpoint !== undefined) meta.tokenEndpoint = tokenEndpoint as string
  if (deviceEndpoint !== undefined) meta.deviceEndpoint = deviceEndpoint as string
  if (audience !== undefined) meta.audience = audience as string
  if (flow === 'device' || flow === 'browser') meta.flow = flow
  if (dpop === true) meta.dpop = true
  return meta
}

/**
 * Reads a session file: `undefined` when there is none or it is not a valid token set (as `fileStore` reads
 * it); a file that cannot be read (permissions) throws.
 *
 * @example
 * ```ts
 * const file = readSessionFile(await sessionPath(home, meta))
 * ```
 */
export function readSessionFile(file: string): SessionFile | undefined {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined
    throw err
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined
  const token = asStoredToken(parsed as Record<string, unknown>)
  if (token === undefined) return undefined
  return { token, meta: asSessionMeta((parsed as { session?: unknown }).session) }
}

/**
 * Whether the access token is still good the way the authenticators judge it (the default skew).
 *
 * @example
 * ```ts
 * if (isUsable(file.token)) print(file.token.accessToken)
 * ```
 */
export function isUsable(token: StoredToken, now = Date.now()): boolean {
  return isTokenUsable(token, defaultSkewSeconds * 1000, now)
}

/** Reads config.json (none: no profiles), checked by hand; a file that is not valid is a ConfigError. */
export function readConfig(home: string): Config {
  const file = path.join(home, 'config.json')
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return { profiles: {} }
    throw new ConfigError(`Cannot read ${file}: ${(err as { code?: string }).code ?? String(err)}.`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new ConfigError(`${file} is not valid JSON.`)
  }
  // Messages name the profile and the key, never a value (a proxy may carry a password).
  const fail = (what: string): never => {
    throw new ConfigError(
      `${file}: ${what} (expected { "profiles": { "NAME": { "issuer": "https://...", ... } } }).`,
    )
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('not an object')
  const root = parsed as Record<string, unknown>
  for (const key of Object.keys(root)) if (key !== 'profiles') fail(`unknown key "${key}"`)
  const profiles = root.profiles ?? {}
  if (typeof profiles !== 'object' || profiles === null || Array.isArray(profiles))
    fail('"profiles" is not an object')
  const config: Config = { profiles: {} }
  for (const [name, value] of Object.entries(profiles as Record<string, unknown>)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      fail(`profile "${name}" is not an object`)
    const profile: Profile = {}
    for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
      if ((profileStrings as readonly string[]).includes(key)) {
        if (!isString(field) || field.trim() === '')
          fail(`profile "${name}": "${key}" must be a non-empty string`)
        profile[key as (typeof profileStrings)[number]] = (field as string).trim()
      } else if ((profileBooleans as readonly string[]).includes(key)) {
        if (typeof field !== 'boolean') fail(`profile "${name}": "${key}" must be true or false`)
        profile[key as (typeof profileBooleans)[number]] = field as boolean
      } else if (key === 'scopes') {
        const scopes = isString(field) ? field.split(/\s+/) : field
        if (!Array.isArray(scopes) || !scopes.every(isString)) {
          fail(`profile "${name}": "scopes" must be an array of strings`)
        }
        profile.scopes = (scopes as string[]).flatMap((s) => s.split(/\s+/)).filter(Boolean)
      } else {
        fail(`profile "${name}": unknown key "${key}"`)
      }
    }
    config.profiles[name] = profile
  }
  return config
}

/**
 * The settings of a session command, resolved: where the sessions live, the options with the environment and
 * the profile merged in (flags, then `TOKEN_CLIENT_*`, then the profile), whom the session is for, and the
 * `login` command line that would create it.
 *
 * @example
 * ```ts
 * const settings: SessionSettings = await resolveSettings(options, io.env)
 * ```
 */
export interface SessionSettings {
  home: string
  options: CliOptions
  meta: SessionMeta
  /** The login to run for this session, with the flags that were given (`--profile` included). */
  loginCommand: string
  /** The TOKEN_CLIENT_* variables that went into the settings: the login needs them set as now. */
  fromEnvironment: string[]
}

const split = (text: string | undefined): string[] | undefined => {
  const scopes = text?.split(/\s+/).filter(Boolean)
  return scopes === undefined || scopes.length === 0 ? undefined : scopes
}

const nonEmpty = (text: string | undefined): string | undefined =>
  text === undefined || text.trim() === '' ? undefined : text.trim()

/** A word for a POSIX shell: as it is when it is safe, else single-quoted. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}

/** The `login` command for these flags: the settings given on the command line, the rest as before. */
function loginCommandFor(flags: CliOptions): string {
  const words = ['token-client', 'login']
  const add = (name: string, value: string | undefined): void => {
    if (value !== undefined) words.push(`--${name}`, shellWord(value))
  }
  add('profile', flags.profile)
  add('issuer', flags.issuer)
  add('token-endpoint', flags.tokenEndpoint)
  add('device-endpoint', flags.deviceEndpoint)
  add('client-id', flags.clientId)
  if (flags.scopes.length > 0) add('scope', flags.scopes.join(' '))
  add('audience', flags.audience)
  add('proxy', flags.proxy)
  add('cacert', flags.cacert)
  if (flags.insecure) words.push('--insecure')
  if (flags.allowInsecureHttp) words.push('--allow-insecure-http')
  if (flags.browser) words.push('--browser')
  if (flags.dpop) words.push('--dpop')
  add('prompt', flags.prompt)
  return words.join(' ')
}

/**
 * Merges the environment and the profile into the command line's options and checks the result
 * ({@link checkCliOptions}). The profile's endpoints go with its issuer: an issuer from the flags or the
 * environment takes none of them.
 *
 * @example
 * ```ts
 * const { options, meta } = await resolveSettings(parsed, process.env)
 * ```
 *
 * @throws `UsageError` for missing or invalid settings; {@link ConfigError} for an unknown profile or a bad
 *   config.json.
 */
export async function resolveSettings(
  flags: CliOptions,
  env: Readonly<Record<string, string | undefined>>,
): Promise<SessionSettings> {
  const home = await tokenClientHome(env)
  const profileName = flags.profile ?? nonEmpty(env.TOKEN_CLIENT_PROFILE)
  let profile: Profile = {}
  if (profileName !== undefined) {
    const found = readConfig(home).profiles[profileName]
    if (found === undefined) {
      throw new ConfigError(
        `No profile "${profileName}" in ${path.join(home, 'config.json')}: create it with token-client login --save-profile ${profileName} --issuer URL --client-id ID ...`,
      )
    }
    profile = found
  }
  const options: CliOptions = { ...flags, scopes: [...flags.scopes] }
  const envIssuer = nonEmpty(env.TOKEN_CLIENT_ISSUER)
  const issuerFromProfile = flags.issuer === undefined && envIssuer === undefined
  options.issuer = flags.issuer ?? envIssuer ?? profile.issuer
  if (options.issuer === undefined) delete options.issuer
  if (issuerFromProfile && flags.tokenEndpoint === undefined && flags.deviceEndpoint === undefined) {
    if (profile.tokenEndpoint !== undefined) options.tokenEndpoint = profile.tokenEndpoint
    if (profile.deviceEndpoint !== undefined) options.deviceEndpoint = profile.deviceEndpoint
  }
  const clientId = flags.clientId ?? nonEmpty(env.TOKEN_CLIENT_CLIENT_ID) ?? profile.clientId
  if (clientId !== undefined) options.clientId = clientId
  const scopes =
    (flags.scopes.length > 0 ? flags.scopes : undefined) ??
    split(env.TOKEN_CLIENT_SCOPE) ??
    profile.scopes ??
    []
  options.scopes = [...new Set(scopes)]
  const audience = flags.audience ?? nonEmpty(env.TOKEN_CLIENT_AUDIENCE) ?? profile.audience
  if (audience !== undefined) options.audience = audience
  if (flags.cacert === undefined && !flags.insecure) {
    if (profile.cacert !== undefined) options.cacert = path.resolve(home, profile.cacert)
    else if (profile.insecure === true) options.insecure = true
  }
  if (profile.allowInsecureHttp === true) options.allowInsecureHttp = true
  if (profile.browser === true) options.browser = true
  if (profile.dpop === true) options.dpop = true
  if (flags.prompt === undefined && profile.prompt !== undefined) options.prompt = profile.prompt
  if (profile.proxy !== undefined) options.profileProxy = profile.proxy
  checkCliOptions(options)

  const meta: SessionMeta = { kind: 'user', clientId: options.clientId as string, scopes: options.scopes }
  if (options.issuer !== undefined) meta.issuer = options.issuer
  if (options.tokenEndpoint !== undefined) meta.tokenEndpoint = options.tokenEndpoint
  if (options.deviceEndpoint !== undefined) meta.deviceEndpoint = options.deviceEndpoint
  if (options.audience !== undefined) meta.audience = options.audience
  const fromEnvironment: string[] = []
  if (flags.profile === undefined && profileName !== undefined) fromEnvironment.push('TOKEN_CLIENT_PROFILE')
  if (flags.issuer === undefined && envIssuer !== undefined) fromEnvironment.push('TOKEN_CLIENT_ISSUER')
  if (flags.clientId === undefined && nonEmpty(env.TOKEN_CLIENT_CLIENT_ID) !== undefined) {
    fromEnvironment.push('TOKEN_CLIENT_CLIENT_ID')
  }
  if (flags.scopes.length === 0 && split(env.TOKEN_CLIENT_SCOPE) !== undefined)
    fromEnvironment.push('TOKEN_CLIENT_SCOPE')
  if (flags.audience === undefined && nonEmpty(env.TOKEN_CLIENT_AUDIENCE) !== undefined) {
    fromEnvironment.push('TOKEN_CLIENT_AUDIENCE')
  }
  return { home, options, meta, loginCommand: loginCommandFor(flags), fromEnvironment }
}

/**
 * What kubectl asks for in `KUBERNETES_EXEC_INFO` (client-go credential plugins): the ExecCredential
 * `apiVersion` to answer with, and whether a person is there (`spec.interactive`; unknown without it).
 *
 * @example
 * ```ts
 * const { apiVersion, interactive } = execInfo(process.env)
 * ```
 *
 * @throws {@link ConfigError} for an apiVersion this CLI does not speak, or a variable that is not JSON.
 */
export function execInfo(env: Readonly<Record<string, string | undefined>>): {
  apiVersion: string
  interactive: boolean | undefined
} {
  const text = env.KUBERNETES_EXEC_INFO
  if (text === undefined || text.trim() === '') {
    return { apiVersion: 'client.authentication.k8s.io/v1', interactive: undefined }
  }
  let info: { apiVersion?: unknown; spec?: { interactive?: unknown } }
  try {
    info = JSON.parse(text) as typeof info
  } catch {
    throw new ConfigError('KUBERNETES_EXEC_INFO is not JSON.')
  }
  const apiVersion = info?.apiVersion ?? 'client.authentication.k8s.io/v1'
  if (
    apiVersion !== 'client.authentication.k8s.io/v1' &&
    apiVersion !== 'client.authentication.k8s.io/v1beta1'
  ) {
    throw new ConfigError(
      "KUBERNETES_EXEC_INFO asks for an ExecCredential apiVersion other than client.authentication.k8s.io/v1 or v1beta1: set apiVersion in the kubeconfig user's exec section to one of them.",
    )
  }
  const interactive = info?.spec?.interactive
  return { apiVersion, interactive: typeof interactive === 'boolean' ? interactive : undefined }
}

/**
 * The text `token` (or `client-credentials`) prints for a token in the asked format, newline included.
 *
 * @example
 * ```ts
 * io.stdout.write(formatToken('header', token, io.env)) // Authorization: Bearer ...
 * ```
 */
export function formatToken(
  output: OutputFormat,
  token: Pick<StoredToken, 'accessToken' | 'tokenType' | 'expiresAt' | 'scope' | 'idToken'>,
  env: Readonly<Record<string, string | undefined>>,
  now = Date.now(),
): string {
  switch (output) {
    case 'token':
      return `${token.accessToken}\n`
    case 'header':
      // The scheme as RFC 6750 §2.1 and RFC 9449 §7.1 spell it; a DPoP token also needs a proof per request.
      return `Authorization: ${/^dpop$/i.test(token.tokenType ?? '') ? 'DPoP' : 'Bearer'} ${token.accessToken}\n`
    case 'json': {
      const out: Record<string, unknown> = {
        access_token: token.accessToken,
        token_type: token.tokenType ?? 'Bearer',
      }
      if (token.expiresAt !== undefined) {
        out.expires_at = new Date(token.expiresAt).toISOString()
        out.expires_in = Math.max(0, Math.floor((token.expiresAt - now) / 1000))
      }
      if (token.scope !== undefined) out.scope = token.scope
      if (token.idToken !== undefined) out.id_token = token.idToken
      return `${JSON.stringify(out, null, 2)}\n`
    }
    case 'exec-credential': {
      const status: Record<string, string> = { token: token.accessToken }
      // RFC 3339; kubectl runs the plugin again once it passes. Without one it keeps the token until a 401.
      if (token.expiresAt !== undefined) {
        status.expirationTimestamp = new Date(token.expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z')
      }
      return `${JSON.stringify({ kind: 'ExecCredential', apiVersion: execInfo(env).apiVersion, spec: {}, status })}\n`
    }
  }
}

/**
 * The warm path of `token-client token`: prints the session's access token when it is still good and returns
 * the exit code; `undefined` when a refresh or a sign-in is needed (the caller then loads the command chunk).
 *
 * @example
 * ```ts
 * const code = cachedToken(settings, io)
 * if (code !== undefined) return code
 * ```
 */
export async function cachedToken(settings: SessionSettings, io: CliIo): Promise<number | undefined> {
  const { options, meta, home } = settings
  // A bad KUBERNETES_EXEC_INFO is found before anything else is done.
  if (options.output === 'exec-credential') execInfo(io.env)
  const file = readSessionFile(await sessionPath(home, meta))
  if (file === undefined || file.token.binding !== bindingOf(meta) || !isUsable(file.token)) return undefined
  io.stdout.write(formatToken(options.output, file.token, io.env))
  return exitCode.ok
}
