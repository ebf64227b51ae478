/**
 * The commands of the `token-client` CLI.
 *
 * @example
 * ```ts
 * if (!(commands as readonly string[]).includes(argv[0])) throw new UsageError('Unknown command.')
 * ```
 */
export const commands = ['device', 'client-credentials', 'refresh', 'discover'] as const

/**
 * One of {@link commands}.
 *
 * @example
 * ```ts
 * const command: Command = 'device'
 * ```
 */
export type Command = (typeof commands)[number]

/**
 * A mistake in how the CLI was called: exit code 2, with the message and a pointer to `--help`. Its message
 * never repeats an argument's value, which might be a secret typed in the wrong place.
 *
 * @example
 * ```ts
 * throw new UsageError('--client-id is required.', 'device')
 * ```
 */
export class UsageError extends Error {
  /** The command the mistake is about, for the `--help` hint. */
  readonly command: Command | undefined

  /**
   * @param message - What is wrong and how to call the CLI instead.
   * @param command - The command it is about, when known.
   */
  constructor(message: string, command?: Command) {
    super(message)
    this.name = 'UsageError'
    this.command = command
  }
}

const serverOptions = `Server (one of):
  --issuer URL              find the endpoints in the issuer's metadata (RFC 8414, OpenID Connect Discovery)
  --token-endpoint URL      the token endpoint`

const transportOptions = `Transport:
  --proxy URL               send requests through this HTTP(S) proxy (http://host:port); a proxy that needs
                            a password goes in TOKEN_CLIENT_PROXY=http://user:pass@host:port instead
  --cacert PATH             trust the CA certificates in this PEM file
  --insecure                do not check TLS certificates (never in production)
  --allow-insecure-http     allow http:// URLs on hosts other than loopback (127.0.0.1, ::1, localhost)`

const tokenOptions = `Token:
  --client-id ID            the client id (required)
  --scope SCOPE             a scope to request; repeat it, or give several separated by spaces
  --audience AUDIENCE       the audience of the token (sent as "audience")`

const outputOptions = `Output:
  --json                    print the token response as JSON (access_token, refresh_token, expires_at, ...)
                            instead of the access token alone
  -h, --help                show this help`

const exitCodes = `Exit codes: 0 ok, 1 authentication failed, 2 usage error, 130 interrupted (Ctrl-C).`

/**
 * The help of the CLI, or of one command.
 *
 * @example
 * ```ts
 * process.stdout.write(helpText('device'))
 * ```
 */
export function helpText(command?: Command): string {
  switch (command) {
    case 'device':
      return `Usage: token-client device (--issuer URL | --token-endpoint URL --device-endpoint URL) --client-id ID [options]

Signs a user in with the OAuth 2.0 device flow (RFC 8628) and prints the access token on stdout.
The verification URL and the code to enter go to stderr (with a QR code and a countdown on a terminal).

${serverOptions}
  --device-endpoint URL     the device authorization endpoint (with --token-endpoint)

${tokenOptions}

${transportOptions}

${outputOptions}

Example:
  TOKEN=$(token-client device --issuer https://idp.example --client-id my-cli --scope openid --scope offline_access)

${exitCodes}
`
    case 'client-credentials':
      return `Usage: token-client client-credentials (--issuer URL | --token-endpoint URL) --client-id ID [options]

Gets a token with the client credentials grant (RFC 6749 §4.4) and prints the access token on stdout.
The client secret is read from the TOKEN_CLIENT_SECRET environment variable, or from stdin with
--client-secret-stdin; never from the command line, where other users can see it.

${serverOptions}

${tokenOptions}
  --client-secret-stdin     read the client secret from stdin (one line)
  --client-auth METHOD      basic (default: RFC 6749 §2.3.1, form-encoded), basic-unencoded, or post

${transportOptions}

${outputOptions}

Example:
  TOKEN_CLIENT_SECRET=... token-client client-credentials --issuer https://idp.example --client-id svc --scope api:read
  deno run --allow-net --allow-env --allow-read dist/cli.js client-credentials --token-endpoint ... --client-id svc

${exitCodes}
`
    case 'refresh':
      return `Usage: token-client refresh (--issuer URL | --token-endpoint URL) --client-id ID [options]

Exchanges a refresh token for a new access token (RFC 6749 §6) and prints it on stdout; use --json to see
the new refresh token when the server rotates it. The refresh token is read from the
TOKEN_CLIENT_REFRESH_TOKEN environment variable or from stdin with --refresh-token-stdin, never from the
command line. A confidential client's secret comes from TOKEN_CLIENT_SECRET (or --client-secret-stdin).

${serverOptions}

${tokenOptions}
  --refresh-token-stdin     read the refresh token from stdin (one line)
  --client-secret-stdin     read the client secret from stdin (one line; not with --refresh-token-stdin)
  --client-auth METHOD      basic (default), basic-unencoded, or post (when a client secret is given)

${transportOptions}

${outputOptions}

Example:
  token-client refresh --issuer https://idp.example --client-id my-cli --json --refresh-token-stdin < refresh-token

${exitCodes}
`
    case 'discover':
      return `Usage: token-client discover --issuer URL [options]

Prints the issuer's authorization server metadata as JSON (RFC 8414, falling back to OpenID Connect
Discovery), after checking that it names the same issuer.

  --issuer URL              the issuer (required)

${transportOptions}

  -h, --help                show this help

${exitCodes}
`
    default:
      return `Usage: token-client <command> [options]

OAuth 2.0 tokens for scripts: the access token goes to stdout, everything for a person to stderr.

Commands:
  device               sign a user in with the device flow (RFC 8628)
  client-credentials   get a service token with the client credentials grant
  refresh              exchange a refresh token for a new access token
  discover             print the issuer's metadata

Run 'token-client <command> --help' for a command's options.

${exitCodes}
`
  }
}
