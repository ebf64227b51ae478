/**
 * The commands of the `token-client` CLI.
 *
 * @example
 * ```ts
 * if (!(commands as readonly string[]).includes(argv[0])) throw new UsageError('Unknown command.')
 * ```
 */
export const commands = [
  'login',
  'token',
  'logout',
  'status',
  'device',
  'client-credentials',
  'refresh',
  'discover',
] as const

/**
 * The commands that keep a session in the sessions directory and take their settings from the command line,
 * the environment (`TOKEN_CLIENT_ISSUER`, ...) and a profile (`--profile`), in that order.
 *
 * @example
 * ```ts
 * if ((sessionCommands as readonly string[]).includes(options.command)) resolveSettings(options, env)
 * ```
 */
export const sessionCommands = ['login', 'token', 'logout'] as const

/**
 * One of {@link sessionCommands}.
 *
 * @example
 * ```ts
 * const command: SessionCommand = 'token'
 * ```
 */
export type SessionCommand = (typeof sessionCommands)[number]

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

const sessionExitCodes = `Exit codes: 0 ok; 1 authentication failed, or no session (or a refused refresh token) and no
--login: stderr says which 'token-client login' to run; 2 usage or configuration error (a bad config.json,
an unknown profile, KUBERNETES_EXEC_INFO with an unknown apiVersion); 130 interrupted (Ctrl-C).`

const sessionServerOptions = `Server and client (flags win over TOKEN_CLIENT_* variables, which win over the profile):
  --profile NAME            read the settings below from the profile NAME in config.json (TOKEN_CLIENT_PROFILE)
  --issuer URL              the issuer: endpoints from its metadata (TOKEN_CLIENT_ISSUER)
  --token-endpoint URL      the token endpoint, instead of discovering it
  --device-endpoint URL     the device authorization endpoint, instead of discovering it
  --client-id ID            the client id, a public client (TOKEN_CLIENT_CLIENT_ID)
  --scope SCOPE             a scope; repeat it, or give several separated by spaces (TOKEN_CLIENT_SCOPE);
                            ask for offline_access where the server needs it for a refresh token
  --audience AUDIENCE       the audience of the token (TOKEN_CLIENT_AUDIENCE)`

const signInOptions = `Sign-in:
  --browser                 sign in with the system browser (authorization code + PKCE on a loopback
                            redirect, RFC 8252) instead of the device flow; needs --issuer
  --no-open                 with --browser: print the URL only, do not open a browser
  --prompt VALUE            with --browser: the OpenID Connect prompt (default: consent when the scopes
                            include offline_access, which OpenID Connect Core §11 asks for)
  --dpop                    bind the session's tokens to a DPoP key (RFC 9449), kept beside the session
                            file (sessions/<hash>.dpop.jwk, mode 0600); 'token' then knows without a flag.
                            A DPoP token needs a proof by that key with every request: printing it helps
                            only a tool that can make proofs`

const sessionsNote = `Sessions live in $TOKEN_CLIENT_HOME, else $XDG_CONFIG_HOME/token-client, else ~/.config/token-client
(%APPDATA%\\token-client on Windows): sessions/<hash>.json, one per issuer, client id, scopes and audience, mode
0600 in 0700 directories; profiles in config.json beside them.`

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
    case 'login':
      return `Usage: token-client login [--profile NAME] [--issuer URL] [--client-id ID] [options]

Signs a person in and keeps the session (access and refresh token) for 'token-client token': the device
flow by default (URL, code, QR code and countdown on stderr, as 'device' does), or the system browser with
--browser. Always signs in anew, replacing the session of the same issuer, client, scopes and audience.
Prints nothing on stdout.

${sessionServerOptions}
  --save-profile NAME       after signing in, save these settings as profile NAME in config.json

${signInOptions}

${transportOptions}

  -h, --help                show this help

Examples:
  token-client login --issuer https://idp.example --client-id my-cli --scope 'openid offline_access' --save-profile work
  token-client login --profile work --browser

${sessionsNote}

${sessionExitCodes}
`
    case 'token':
      return `Usage: token-client token [--profile NAME] [--issuer URL] [--client-id ID] [options]

Prints a valid access token of the session that 'token-client login' kept: the cached one while it is good
(without sending anything), else a new one from the refresh token (one refresh however many processes ask at
once). Never waits for a person unless --login is given: without a session it exits 1 and says which login
to run.

${sessionServerOptions}
  --login                   sign in first when there is no usable session (as 'login' would); with
                            --output exec-credential only when kubectl says the session is interactive

${signInOptions}

${transportOptions}

Output:
  --output FORMAT           token (default: the access token alone), json (access_token, token_type,
                            expires_at, expires_in, scope; never the refresh token), header
                            ('Authorization: Bearer ...', for curl -H @-), or exec-credential (a Kubernetes
                            ExecCredential; its apiVersion from KUBERNETES_EXEC_INFO, default
                            client.authentication.k8s.io/v1). A DPoP-bound session (login --dpop) prints
                            'Authorization: DPoP ...' and token_type DPoP; the API then also wants a DPoP
                            proof per request, which only a tool holding the key file can make
  --json                    the same as --output json
  -h, --help                show this help

Examples:
  curl -H "Authorization: Bearer $(token-client token --profile work)" https://api.example/items
  token-client token --profile work --output header | curl -H @- https://api.example/items

${sessionsNote}

${sessionExitCodes}
`
    case 'logout':
      return `Usage: token-client logout [--profile NAME] [--issuer URL] [--client-id ID] [options] | logout --all

Signs out: revokes the refresh token (and the access token) where the server has a revocation endpoint
(RFC 7009, found in the issuer's metadata), then deletes the session (and its DPoP key, if any). The session
is deleted even when the server cannot be told.

${sessionServerOptions}
  --all                     sign out of every session in the sessions directory

${transportOptions}

  -h, --help                show this help

${sessionsNote}

Exit codes: 0 signed out (or there was no session), 1 the session was deleted but revoking failed,
2 usage or configuration error, 130 interrupted (Ctrl-C).
`
    case 'status':
      return `Usage: token-client status [--json]

Lists the sessions on stdout: issuer, client id, scopes, audience, the profiles that use it, until when the
access token is valid, whether there is a refresh token, and the token type (DPoP-bound: the key file's path).
Never prints a token or a key.

  --json                    the same as a JSON array
  -h, --help                show this help

${sessionsNote}

${exitCodes}
`
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
  --client-auth METHOD      basic (default: RFC 6749 §2.3.1, form-encoded), basic-unencoded, post,
                            client_secret_jwt, private_key_jwt or tls_client_auth
  --client-key-file FILE    private_key_jwt (RFC 7523): sign with this key instead of a secret (PEM PKCS#8
                            or JWK JSON; the default method when given)
  --client-key-id KID       the key id (kid) the server knows the key by
  --client-cert FILE        mutual TLS (RFC 8705): the client certificate (PEM), with --client-cert-key FILE;
                            with --client-auth tls_client_auth it is the client authentication
  --dpop                    bind the token to a DPoP key (RFC 9449; in memory, for this run only)
  --dpop-key-file FILE      the DPoP key, kept in FILE (created with mode 0600) for later runs
  --cache                   reuse the token kept in the sessions directory until it expires (one file per
                            endpoint, client id, secret, scopes and audience; see 'token-client status')

${transportOptions}

${outputOptions}
  --output FORMAT           token (default), json (as --json), or header ('Authorization: Bearer ...')

Example:
  TOKEN_CLIENT_SECRET=... token-client client-credentials --issuer https://idp.example --client-id svc --scope api:read
  token-client client-credentials --issuer https://idp.example --client-id svc --client-key-file key.pem --dpop
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
  --client-auth METHOD      basic (default), basic-unencoded, post or client_secret_jwt (when a client
                            secret is given), private_key_jwt, tls_client_auth
  --client-key-file FILE    private_key_jwt (RFC 7523): sign with this key instead of a secret (PEM PKCS#8
                            or JWK JSON; the default method when given)
  --client-key-id KID       the key id (kid) the server knows the key by
  --client-cert FILE        mutual TLS (RFC 8705): the client certificate (PEM), with --client-cert-key FILE;
                            with --client-auth tls_client_auth it is the client authentication
  --dpop                    bind the token to a DPoP key (RFC 9449; in memory, for this run only)
  --dpop-key-file FILE      the DPoP key, kept in FILE (created with mode 0600) for later runs

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

Commands that keep a session (sign in once, then a valid token for every script, kubectl included):
  login                sign in (device flow, or --browser) and keep the session
  token                print a valid access token of the session, refreshed when needed
  logout               revoke the session's tokens and delete it
  status               list the sessions (never a token)

One-shot commands:
  device               sign a user in with the device flow (RFC 8628)
  client-credentials   get a service token with the client credentials grant
  refresh              exchange a refresh token for a new access token
  discover             print the issuer's metadata

Run 'token-client <command> --help' for a command's options.

${exitCodes}
`
  }
}
