#!/usr/bin/env node
/**
 * `node scripts/bootstrap.mjs [--browser] [--node=MAJOR] [SCRIPT [ARGS...]]`: what `npm test` and `npm run demo`
 * start with, so that a fresh clone on a machine with only Node 20 and npm needs nothing else. Plain JavaScript
 * for Node ≥ 18 with no dependencies (it runs before `npm ci`). It sets up what is missing, then runs
 * `npm run SCRIPT -- ARGS` with the right Node first on PATH:
 *
 * 1. Node: when the running Node is older than package.json's `engines.node`, Node 24 from the npm registry
 *    (the `node` package carries the binary) into .tools/node24, as .ci/run always did.
 * 2. `npm ci`, when node_modules is missing or older than package-lock.json.
 * 3. With `--browser`: Debian's Chromium (apt-get, as root) when neither $CHROMIUM_PATH nor /usr/bin/chromium
 *    exists; not root: prints the one command to run, and exits 1.
 * 4. With `--node=22`: that major too, into .tools/node22 (the CI's oldest-supported pass).
 *
 * Idempotent, and a few stat calls when everything is there. What it installs is said on stderr; installers
 * never read stdin (works with CI=true and no terminal).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'

const started = performance.now()
const root = dirname(dirname(fileURLToPath(import.meta.url)))
const toolsNodeMajor = 24

const say = (line) => process.stderr.write(`bootstrap: ${line}\n`)
const fail = (line) => {
  say(line)
  process.exit(1)
}

// ---- arguments ----
const argv = process.argv.slice(2)
let browser = false
const extraNodes = []
while (argv[0]?.startsWith('--')) {
  const flag = argv.shift()
  if (flag === '--') break
  if (flag === '--browser') browser = true
  else if (/^--node=\d+$/.test(flag)) extraNodes.push(Number(flag.slice('--node='.length)))
  else fail(`unknown option ${flag} (expected --browser, --node=MAJOR)`)
}
const [script, ...scriptArgs] = argv

// ---- Node ----
/** [major, minor, patch] of "v24.1.0" or "24.1.0". */
const parseVersion = (text) => text.replace(/^v/, '').split('.').map(Number)
const atLeast = (version, minimum) => {
  for (let i = 0; i < 3; i++) {
    if ((version[i] ?? 0) !== (minimum[i] ?? 0)) return (version[i] ?? 0) > (minimum[i] ?? 0)
  }
  return true
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const engines = /^>=\s*(\d+\.\d+\.\d+)$/.exec(pkg.engines?.node ?? '')
if (engines === null) fail(`package.json engines.node must read ">=X.Y.Z" (got ${pkg.engines?.node})`)
const minimum = parseVersion(engines[1])

/** Run an installer: its output goes to stderr (stdout may be the caller's data), stdin is never read. */
function install(command, args, env = process.env) {
  const result = spawnSync(command, args, { cwd: root, env, stdio: ['ignore', 2, 2] })
  if (result.error) fail(`${command} could not start: ${result.error.message}`)
  if (result.status !== 0)
    fail(`\`${command} ${args.join(' ')}\` failed (exit ${result.status ?? result.signal})`)
}

/** .tools/nodeMAJOR/node_modules/.bin, installing that Node from the npm registry first when missing. */
function toolsNode(major) {
  const dir = join(root, '.tools', `node${major}`)
  const bin = join(dir, 'node_modules', '.bin')
  const installedVersion = () => {
    try {
      if (!existsSync(join(bin, 'node'))) return undefined
      return JSON.parse(readFileSync(join(dir, 'node_modules', 'node', 'package.json'), 'utf8')).version
    } catch {
      return undefined
    }
  }
  if (installedVersion()?.startsWith(`${major}.`)) return bin
  say(`installing Node ${major} from the npm registry into .tools/node${major} (npm install node@${major})`)
  mkdirSync(dir, { recursive: true })
  // npm 11 runs a dependency's install script only when allowed; the node package's links the binary.
  writeFileSync(join(dir, 'package.json'), '{ "private": true, "allowScripts": { "node": true } }\n')
  install('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', `node@${major}`])
  const version = installedVersion()
  if (!version?.startsWith(`${major}.`)) fail(`Node ${major} did not install into .tools/node${major}`)
  say(`installed Node ${version}`)
  return bin
}

let nodeBin = dirname(process.execPath)
if (!atLeast(parseVersion(process.version), minimum)) {
  nodeBin = toolsNode(toolsNodeMajor)
  const version = JSON.parse(readFileSync(join(nodeBin, '..', 'node', 'package.json'), 'utf8')).version
  if (!atLeast(parseVersion(version), minimum)) {
    fail(
      `.tools/node${toolsNodeMajor} holds Node ${version}, older than ${pkg.engines.node}: delete it and rerun`,
    )
  }
}
for (const major of extraNodes) toolsNode(major)
const env = { ...process.env, PATH: [nodeBin, process.env.PATH ?? ''].join(delimiter) }

// ---- npm ci ----
const mtime = (path) => {
  try {
    return statSync(path).mtimeMs
  } catch {
    return undefined
  }
}
// npm writes node_modules/.package-lock.json at the end of every install: its age is the install's.
const installed = mtime(join(root, 'node_modules', '.package-lock.json'))
const locked = mtime(join(root, 'package-lock.json'))
if (installed === undefined || (locked !== undefined && installed < locked)) {
  say(
    installed === undefined
      ? 'node_modules is missing: npm ci'
      : 'package-lock.json is newer than node_modules: npm ci',
  )
  install('npm', ['ci', '--no-audit', '--no-fund'], env)
}

// ---- Chromium ----
if (browser) {
  const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
  if (!existsSync(chromium)) {
    const command = 'apt-get update && apt-get install -y chromium'
    if (process.env.CHROMIUM_PATH)
      fail(`CHROMIUM_PATH=${chromium} does not exist: point it at a Chromium binary`)
    if (process.getuid?.() !== 0) {
      fail(`the browser tests need Debian's Chromium at /usr/bin/chromium; run: sudo sh -c '${command}'`)
    }
    say(`installing Debian's Chromium (${command})`)
    const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    install('apt-get', ['update', '-qq'], aptEnv)
    install('apt-get', ['install', '-y', '-qq', 'chromium'], aptEnv)
    if (!existsSync(chromium)) fail(`apt-get installed chromium, but ${chromium} is still missing`)
  }
}

if (process.env.BOOTSTRAP_TIMING) say(`checks took ${(performance.now() - started).toFixed(1)} ms`)

// ---- the real command ----
if (script !== undefined) {
  const result = spawnSync('npm', ['run', script, ...(scriptArgs.length > 0 ? ['--', ...scriptArgs] : [])], {
    cwd: root,
    env,
    stdio: 'inherit',
  })
  if (result.error) fail(`npm could not start: ${result.error.message}`)
  // Ctrl-C reaches npm and us alike (one process group); a signal's exit status is 128 + its number.
  process.exitCode = result.status ?? 128 + (result.signal === 'SIGINT' ? 2 : 15)
}
