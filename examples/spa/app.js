// A single-page app that signs a user in with the built token-client bundle, loaded as a plain ES module (see
// the import map in index.html):
// - **Sign in**: redirect sign-in with BrowserAuthenticator (authorization code + PKCE, RFC 6749 §4.1,
//   RFC 7636): the provider's login and consent pages, then back here, where handleRedirect() finishes it. The
//   token set is kept in this tab's sessionStorage, so a reload stays signed in; refresh tokens rotate.
// - **Sign in on another device**: the device authorization grant (RFC 8628), a code to type elsewhere; that
//   token is kept in this module's memory only (a reload signs that session out).
import {
  AuthenticationError,
  BrowserAuthenticator,
  getDeviceCode,
  pollTokenEndpoint,
  revokeToken,
  webStorageStore,
} from 'token-client'

const $ = (id) => {
  const element = document.getElementById(id)
  if (element === null) throw new Error(`#${id} is missing`)
  return element
}

/** Shows one of the three states (signed-out, pending, signed-in) and hides the others. */
function show(state) {
  for (const id of ['signed-out', 'pending', 'signed-in']) $(id).hidden = id !== state
}

function showError(message) {
  $('error').textContent = message
  $('error').hidden = message === ''
}

function showNotice(message) {
  $('notice').textContent = message
  $('notice').hidden = message === ''
}

const messageOf = (error) => (error instanceof Error ? error.message : String(error))

/**
 * @type {{
 *   issuer: string, clientId: string, redirectUri: string, scopes: string[], userinfoEndpoint: string,
 *   device: { deviceAuthorizationEndpoint: string, tokenEndpoint: string, revocationEndpoint: string,
 *     clientId: string, scope: string[] },
 * }}
 */
const config = await fetch('/config.json').then((response) => {
  if (!response.ok) throw new Error(`/config.json answered ${response.status}`)
  return response.json()
})

// ---------------------------------------------------------------------------------------------------------
// Redirect sign-in (the main path).

// The store is created here (rather than left to the default) so that the page can show the scope and expiry.
const store = webStorageStore(sessionStorage, 'spa-example.token')
const auth = new BrowserAuthenticator({
  issuer: config.issuer,
  clientId: config.clientId,
  redirectUri: config.redirectUri,
  scopes: config.scopes,
  store,
})

/** How the current session was obtained: 'browser' (BrowserAuthenticator) or 'device' (in memory). */
let mode
/** The device-flow session: { token, expiresAt }. */
let deviceSession

async function renderBrowserSession() {
  const stored = await store.get()
  mode = 'browser'
  $('method').textContent = 'with the browser (authorization code + PKCE)'
  renderSignedIn({
    accessToken: await auth.getAccessToken(),
    scope: stored?.scope,
    expiresAt: stored?.expiresAt,
  })
  $('persistence').textContent =
    'The token set is kept in this tab’s sessionStorage: a reload stays signed in, a new tab does not.'
  // The API call: the provider's userinfo endpoint, with the access token as a bearer token (RFC 6750).
  try {
    const response = await auth.fetch(config.userinfoEndpoint)
    $('user').textContent = response.ok
      ? ((await response.json()).sub ?? '(no sub)')
      : `(the provider answered HTTP ${response.status})`
  } catch (error) {
    $('user').textContent = `(could not ask the provider: ${messageOf(error)})`
  }
}

async function start() {
  try {
    // On every load: finishes a sign-in when this page is the callback (then cleans the address bar).
    const done = await auth.handleRedirect()
    const returnTo = done?.appState?.returnTo
    if (typeof returnTo === 'string' && returnTo.startsWith('/')) history.replaceState(null, '', returnTo)
  } catch (error) {
    // access_denied (the user cancelled), state_mismatch (a callback this tab did not ask for), …
    showError(`Sign-in failed: ${messageOf(error)}`)
  }
  try {
    await renderBrowserSession()
  } catch (error) {
    mode = undefined
    show('signed-out')
    // login_required: not signed in (or the session can no longer be renewed); that is the signed-out page.
    if (!(error instanceof AuthenticationError && error.error === 'login_required')) {
      showError(`Could not restore the session: ${messageOf(error)}`)
    }
  }
}

async function signIn() {
  showError('')
  showNotice('')
  $('sign-in').disabled = true
  try {
    // prompt=consent: the provider grants offline_access, and so a refresh token, only with it
    // (OpenID Connect Core §11). The page is left here.
    await auth.signIn({ prompt: 'consent', appState: { returnTo: location.pathname } })
  } catch (error) {
    showError(`Sign-in failed: ${messageOf(error)}`)
    $('sign-in').disabled = false
  }
}

// ---------------------------------------------------------------------------------------------------------
// Device flow (the second path).

let controller

async function signInOnAnotherDevice() {
  showError('')
  showNotice('')
  $('sign-in-device').disabled = true
  controller = new AbortController()
  const { signal } = controller
  const device = config.device
  try {
    const resp = await getDeviceCode(device.deviceAuthorizationEndpoint, device.clientId, {
      scope: device.scope,
      signal,
    })
    $('user-code').textContent = resp.userCode
    const link = document.createElement('a')
    link.href = resp.verificationUriComplete ?? resp.verificationUri
    link.target = '_blank'
    link.rel = 'noopener noreferrer'
    link.textContent = 'Open the sign-in page'
    $('verification-link').replaceChildren(link)
    $('verification-uri').textContent = resp.verificationUri
    $('poll-status').textContent = 'Waiting for you to approve…'
    show('pending')

    // The scope was asked for with the device code; the token request carries none (RFC 8628 §3.4).
    const token = await pollTokenEndpoint(resp, device.tokenEndpoint, device.clientId, {
      signal,
      onPending: ({ attempt }) => {
        $('poll-status').textContent =
          `Waiting for you to approve… (checked ${attempt} time${attempt === 1 ? '' : 's'})`
      },
    })
    mode = 'device'
    deviceSession = {
      token,
      expiresAt: token.expiresIn === undefined ? undefined : Date.now() + token.expiresIn * 1000,
    }
    $('method').textContent = 'on another device (device flow)'
    $('persistence').textContent =
      'The token stays in this page’s memory only: reload the page and it is gone.'
    $('user').textContent = '(not asked)'
    renderSignedIn({ ...token, expiresAt: deviceSession.expiresAt })
  } catch (error) {
    show('signed-out')
    if (signal.aborted) showError('Sign-in cancelled.')
    else showError(`Sign-in failed: ${messageOf(error)}`)
  } finally {
    $('sign-in-device').disabled = false
  }
}

// ---------------------------------------------------------------------------------------------------------

function renderSignedIn({ accessToken, scope, expiresAt }) {
  $('scope').textContent = scope ?? '(not stated by the server)'
  $('expiry').textContent =
    expiresAt === undefined
      ? 'not stated by the server'
      : `${new Date(expiresAt).toLocaleString()} (in ${Math.round((expiresAt - Date.now()) / 60_000)} min)`
  // Never the token itself: a short prefix is enough to tell two tokens apart.
  $('token-preview').textContent = `${accessToken.slice(0, 6)}… (${accessToken.length} characters)`
  show('signed-in')
}

async function signOut() {
  showError('')
  $('sign-out').disabled = true
  try {
    let revoked
    let error
    if (mode === 'browser') {
      // Revokes the refresh token (and with it the grant) and the access token (RFC 7009), then clears the store.
      ;({ revoked, error } = await auth.signOut())
    } else if (deviceSession !== undefined) {
      const { token } = deviceSession
      deviceSession = undefined
      try {
        await revokeToken(config.device.revocationEndpoint, token.accessToken, {
          clientId: config.device.clientId,
          tokenTypeHint: 'access_token',
        })
        revoked = true
      } catch (err) {
        revoked = false
        error = err
      }
    }
    mode = undefined
    show('signed-out')
    showNotice(
      revoked
        ? 'Signed out: the provider revoked the tokens.'
        : `Signed out here; the provider could not be told${error ? ` (${messageOf(error)})` : ''}.`,
    )
  } finally {
    $('sign-out').disabled = false
  }
}

$('sign-in').addEventListener('click', signIn)
$('sign-in-device').addEventListener('click', signInOnAnotherDevice)
$('cancel').addEventListener('click', () => controller?.abort())
$('sign-out').addEventListener('click', signOut)
await start()
$('sign-in').disabled = false
$('sign-in-device').disabled = false
document.documentElement.dataset.ready = 'true'
