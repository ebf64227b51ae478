// A single-page app that signs a user in with the device authorization grant (RFC 8628) using the built
// token-client bundle, loaded as a plain ES module (see the import map in index.html).
import { AuthenticationError, getDeviceCode, pollTokenEndpoint } from 'token-client'

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

// The access token lives in this module's memory only: not in localStorage or sessionStorage, where any script
// injected into the page (XSS) could read it later. A reload signs the user out.
let session

/** @type {{ deviceAuthorizationEndpoint: string, tokenEndpoint: string, clientId: string, scope: string[] }} */
const config = await fetch('/config.json').then((response) => {
  if (!response.ok) throw new Error(`/config.json answered ${response.status}`)
  return response.json()
})

let controller

async function signIn() {
  showError('')
  $('sign-in').disabled = true
  controller = new AbortController()
  const { signal } = controller
  try {
    const resp = await getDeviceCode(config.deviceAuthorizationEndpoint, config.clientId, {
      scope: config.scope,
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
    const token = await pollTokenEndpoint(resp, config.tokenEndpoint, config.clientId, {
      signal,
      onPending: ({ attempt }) => {
        $('poll-status').textContent =
          `Waiting for you to approve… (checked ${attempt} time${attempt === 1 ? '' : 's'})`
      },
    })
    session = {
      token,
      expiresAt: token.expiresIn === undefined ? undefined : Date.now() + token.expiresIn * 1000,
    }
    renderSignedIn()
  } catch (error) {
    show('signed-out')
    if (signal.aborted) showError('Sign-in cancelled.')
    else if (error instanceof AuthenticationError) showError(`Sign-in failed: ${error.message}`)
    else showError(`Sign-in failed: ${error instanceof Error ? error.message : String(error)}`)
  } finally {
    $('sign-in').disabled = false
  }
}

function renderSignedIn() {
  const { token, expiresAt } = session
  $('scope').textContent = token.scope ?? '(not stated by the server)'
  $('expiry').textContent =
    expiresAt === undefined
      ? 'not stated by the server'
      : `${new Date(expiresAt).toLocaleString()} (in ${Math.round((expiresAt - Date.now()) / 60_000)} min)`
  // Never the token itself: a short prefix is enough to tell two tokens apart.
  $('token-preview').textContent =
    `${token.accessToken.slice(0, 6)}… (${token.accessToken.length} characters)`
  show('signed-in')
}

$('sign-in').addEventListener('click', signIn)
$('cancel').addEventListener('click', () => controller?.abort())
$('sign-out').addEventListener('click', () => {
  session = undefined
  showError('')
  show('signed-out')
})
$('sign-in').disabled = false
document.documentElement.dataset.ready = 'true'
