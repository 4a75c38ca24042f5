// Debian's Chromium driven by playwright-core (never a downloaded browser).
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.SYNCSTACK_CHROMIUM ?? '/usr/bin/chromium';

// A headless Chromium with a fresh profile (Playwright makes a new
// temporary user-data-dir per launch and removes it on close) and no
// background traffic.
export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}
