import { defineConfig } from '@playwright/test'
import { chromiumLaunchOptions } from './tests/fixtures/chromium.ts'

/**
 * Three projects, one built bundle:
 * - node: the library imported from dist/ by Node, against real servers on 127.0.0.1;
 * - deno: Deno test files run by the `deno` npm package against the same dist/ files;
 * - browser: Debian's Chromium driven by Playwright (no browser downloads here).
 */
export default defineConfig({
  testDir: 'tests',
  timeout: 60_000,
  fullyParallel: true,
  workers: 2,
  forbidOnly: !!process.env.CI,
  reporter: process.env.CI ? [['list', { printSteps: false }]] : 'list',
  projects: [
    { name: 'node', testMatch: /tests\/node\/.+\.spec\.ts$/ },
    { name: 'deno', testMatch: /tests\/deno\.spec\.ts$/ },
    {
      name: 'browser',
      testMatch: /tests\/browser\/.+\.spec\.ts$/,
      use: {
        browserName: 'chromium',
        headless: true,
        launchOptions: chromiumLaunchOptions,
      },
    },
  ],
})
