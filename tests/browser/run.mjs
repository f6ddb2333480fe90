// Headless Chromium running JsSIP against Parrot's example servers over
// secure WebSocket (RFC 7118), for tests/tests/e2e/browser.rs.
//
//   node run.mjs --registrar wss://127.0.0.1:P1 --im wss://127.0.0.1:P2 \
//       --busy wss://127.0.0.1:P3 [--chromium /usr/bin/chromium] [--timeout-ms 60000]
//
// (or the environment variables PARROT_WSS_REGISTRAR, PARROT_WSS_IM,
// PARROT_WSS_BUSY, CHROMIUM, PARROT_BROWSER_TIMEOUT_MS). Three steps, each
// with its own JsSIP user agent on its own WSS connection:
//
// 1. REGISTER to the registrar: JsSIP's `registered` (or
//    `registrationFailed`) event and the response's status.
// 2. MESSAGE (`ua.sendMessage`) to the im server: `succeeded` or `failed`.
// 3. An audio call (`ua.call`, getUserMedia on Chromium's fake device) to
//    the busy server: `failed` with the response's status, or whatever
//    else happened.
//
// Then the registrar routes to a browser (RFC 7118 §5, RFC 5626 flows):
//
// 4. In a second page, `erin` registers with the registrar over WSS and
//    stays registered, answering calls (with audio) and taking messages.
// 5. `frank` (first page, its own WSS connection to the registrar) sends
//    erin a MESSAGE and calls her; erin's page reports what reached it,
//    frank hangs up after the call is confirmed.
// 6. erin's page is closed without unregistering (its WebSocket just
//    closes); frank's MESSAGEs to erin must then fail: 430 Flow Failed
//    while the registrar has not yet seen the close, then 480.
//
// Prints exactly one line on stdout: a flat JSON object (strings, numbers,
// booleans and nulls only) with `completed: true` when every step ran to an
// outcome (the outcomes themselves are the caller's to check). Exits 0 only
// then. Diagnostics go to stderr; PARROT_BROWSER_DEBUG=1 adds JsSIP's own
// debug log. The whole run is bounded by --timeout-ms; on expiry, or on
// SIGTERM, the browser is closed (killed if need be) and the exit code is
// non-zero.

import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import process from 'node:process';

const require = createRequire(import.meta.url);

const STEP_TIMEOUT_MS = 15000;

function log(...args) {
  process.stderr.write(`[run.mjs] ${args.join(' ')}\n`);
}

function parseArgs(argv) {
  const opts = {
    registrar: process.env.PARROT_WSS_REGISTRAR,
    im: process.env.PARROT_WSS_IM,
    busy: process.env.PARROT_WSS_BUSY,
    chromium: process.env.CHROMIUM || '/usr/bin/chromium',
    timeoutMs: Number(process.env.PARROT_BROWSER_TIMEOUT_MS || 60000),
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    switch (flag) {
      case '--registrar': opts.registrar = value; break;
      case '--im': opts.im = value; break;
      case '--busy': opts.busy = value; break;
      case '--chromium': opts.chromium = value; break;
      case '--timeout-ms': opts.timeoutMs = Number(value); break;
      default: throw new Error(`unknown argument ${flag}`);
    }
  }
  for (const name of ['registrar', 'im', 'busy']) {
    if (!/^wss:\/\//.test(opts[name] || '')) {
      throw new Error(`--${name} wss://HOST:PORT is required (got ${opts[name]})`);
    }
  }
  if (!(opts.timeoutMs > 0)) throw new Error('--timeout-ms must be a positive number');
  return opts;
}

// JsSIP ships CommonJS sources only (no browser bundle since 3.10): make one
// IIFE exposing `window.JsSIP`.
async function jssipBundle() {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [require.resolve('jssip')],
    bundle: true,
    format: 'iife',
    globalName: 'JsSIP',
    platform: 'browser',
    target: 'chrome100',
    write: false,
    logLevel: 'warning',
  });
  return result.outputFiles[0].text;
}

// Runs inside the page: the three SIP steps. Returns a flat object.
async function sipSteps({ registrar, im, busy, stepTimeoutMs, debug }) {
  const JsSIP = window.JsSIP;
  if (debug) JsSIP.debug.enable('JsSIP:*');
  else JsSIP.debug.disable();
  const out = {};
  const host = '127.0.0.1';

  function within(what, promise) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no outcome within ${stepTimeoutMs} ms`)), stepTimeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  // A started user agent connected to `url`.
  async function agent(url, user, register) {
    const socket = new JsSIP.WebSocketInterface(url);
    const ua = new JsSIP.UA({
      sockets: [socket],
      uri: `sip:${user}@${host}`,
      register,
      register_expires: 300,
      session_timers: false,
      user_agent: 'parrot-e2e JsSIP',
    });
    const connected = new Promise((resolve, reject) => {
      ua.on('connected', () => resolve());
      ua.on('disconnected', (e) => {
        if (e && e.error) reject(new Error(`WebSocket to ${url} failed (code ${e.code}, ${e.reason || 'no reason'})`));
      });
    });
    ua.start();
    await within(`connecting to ${url}`, connected);
    return ua;
  }

  async function step(name, body) {
    let ua;
    try {
      ua = await body((u) => { ua = u; return u; });
    } catch (e) {
      out[`${name}_error`] = String(e && e.message ? e.message : e);
    } finally {
      if (ua) {
        try { ua.stop(); } catch (_) { /* closing anyway */ }
      }
    }
  }

  // 1. REGISTER.
  out.register_event = null;
  out.register_status = null;
  await step('register', async (keep) => {
    const ua = keep(await agent(registrar, 'alice', false));
    const outcome = new Promise((resolve) => {
      ua.on('registered', (e) => resolve({ event: 'registered', response: e.response }));
      ua.on('registrationFailed', (e) => resolve({ event: 'registrationFailed', response: e.response, cause: e.cause }));
    });
    ua.register();
    const r = await within('REGISTER', outcome);
    out.register_event = r.event;
    out.register_status = r.response ? r.response.status_code : null;
    if (r.cause) out.register_cause = String(r.cause);
    if (r.response) out.register_contacts = r.response.getHeaders('Contact').length;
    return ua;
  });

  // 2. MESSAGE.
  out.message_event = null;
  out.message_status = null;
  await step('message', async (keep) => {
    const ua = keep(await agent(im, 'bob', false));
    const outcome = new Promise((resolve) => {
      ua.sendMessage(`sip:carol@${host}`, 'Hello from headless Chromium', {
        contentType: 'text/plain',
        eventHandlers: {
          succeeded: (e) => resolve({ event: 'succeeded', response: e.response }),
          failed: (e) => resolve({ event: 'failed', response: e.response, cause: e.cause }),
        },
      });
    });
    const r = await within('MESSAGE', outcome);
    out.message_event = r.event;
    out.message_status = r.response ? r.response.status_code : null;
    if (r.cause) out.message_cause = String(r.cause);
    return ua;
  });

  // 3. An audio call, to a server that is busy.
  out.call_event = null;
  out.call_status = null;
  await step('call', async (keep) => {
    const ua = keep(await agent(busy, 'dave', false));
    const outcome = new Promise((resolve) => {
      const session = ua.call(`sip:busy@${host}`, {
        mediaConstraints: { audio: true, video: false },
        pcConfig: { iceServers: [] },
        eventHandlers: {
          sending: (e) => { out.call_invite_sdp = /^m=audio /m.test(e.request.body || ''); },
          progress: (e) => { out.call_provisional = e.response ? e.response.status_code : null; },
          confirmed: () => resolve({ event: 'confirmed' }),
          failed: (e) => resolve({ event: 'failed', message: e.message, cause: e.cause, originator: e.originator }),
          ended: (e) => resolve({ event: 'ended', cause: e.cause, originator: e.originator }),
        },
      });
      if (!session) resolve({ event: 'no-session' });
    });
    const r = await within('INVITE', outcome);
    out.call_event = r.event;
    out.call_status = r.message && typeof r.message.status_code === 'number' ? r.message.status_code : null;
    out.call_cause = r.cause ? String(r.cause) : null;
    out.call_originator = r.originator ? String(r.originator) : null;
    if (r.event === 'confirmed') ua.terminateSessions();
    return ua;
  });

  out.secure_context = window.isSecureContext;
  return out;
}

// Runs inside the second page: erin registers and waits for requests.
// Resolves once registered; what arrives later is kept in `window.erin`.
async function calleeSetup({ registrar, stepTimeoutMs, debug }) {
  const JsSIP = window.JsSIP;
  if (debug) JsSIP.debug.enable('JsSIP:*');
  else JsSIP.debug.disable();
  const seen = { messages: [], calls: [], call_events: [] };
  window.erin = seen;
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(registrar)],
    uri: 'sip:erin@127.0.0.1',
    register: true,
    register_expires: 300,
    session_timers: false,
    user_agent: 'parrot-e2e JsSIP callee',
  });
  ua.on('newMessage', (e) => {
    if (e.originator === 'remote') seen.messages.push(e.request.body);
  });
  ua.on('newRTCSession', (e) => {
    if (e.originator !== 'remote') return;
    const session = e.session;
    seen.calls.push({ uri: String(e.request.ruri), from: String(e.request.from.uri) });
    session.on('confirmed', () => seen.call_events.push('confirmed'));
    session.on('ended', (x) => seen.call_events.push(`ended:${x.originator}:${x.cause}`));
    session.on('failed', (x) => seen.call_events.push(`failed:${x.originator}:${x.cause}`));
    session.answer({ mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } });
  });
  const registered = new Promise((resolve, reject) => {
    ua.on('registered', (e) => resolve(e.response.status_code));
    ua.on('registrationFailed', (e) => reject(new Error(`erin's REGISTER failed: ${e.cause}`)));
  });
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('erin: not registered in time')), stepTimeoutMs);
  });
  ua.start();
  try {
    return await Promise.race([registered, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// Runs inside the first page: frank's MESSAGE and call to erin (through
// the registrar), or with `afterClose` only the MESSAGE, retried until it
// is refused (erin's binding goes when her connection closes).
async function callerSteps({ registrar, stepTimeoutMs, afterClose }) {
  const JsSIP = window.JsSIP;
  const out = {};
  const within = (what, promise) => {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no outcome within ${stepTimeoutMs} ms`)), stepTimeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  };
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(registrar)],
    uri: 'sip:frank@127.0.0.1',
    register: false,
    session_timers: false,
    user_agent: 'parrot-e2e JsSIP caller',
  });
  const connected = new Promise((resolve) => ua.on('connected', () => resolve()));
  ua.start();
  const message = (text) => new Promise((resolve) => {
    ua.sendMessage('sip:erin@127.0.0.1', text, {
      contentType: 'text/plain',
      eventHandlers: {
        succeeded: (e) => resolve(e.response.status_code),
        failed: (e) => resolve(e.response ? e.response.status_code : `failed:${e.cause}`),
      },
    });
  });
  try {
    await within('frank connecting', connected);
    if (afterClose) {
      // Until the registrar has seen the connection close, a request may
      // still be routed to the dead flow (430 Flow Failed, RFC 5626 §5.3);
      // then the binding is gone (480). A bounded number of tries, 200 ms
      // apart.
      const statuses = [];
      for (let i = 0; i < 25; i++) {
        const status = await within('MESSAGE after close', message('are you there?'));
        statuses.push(status);
        if (status !== 200 && status !== 430) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      out.after_close_status = statuses[statuses.length - 1];
      out.after_close_statuses = statuses.join(',');
      return out;
    }
    out.routed_message_status = await within('MESSAGE to erin', message('Hello erin'));
    const call = new Promise((resolve) => {
      const session = ua.call('sip:erin@127.0.0.1', {
        mediaConstraints: { audio: true, video: false },
        pcConfig: { iceServers: [] },
        eventHandlers: {
          confirmed: () => resolve({ event: 'confirmed', session }),
          failed: (e) => resolve({ event: 'failed', status: e.message && e.message.status_code, cause: e.cause }),
        },
      });
    });
    const r = await within('INVITE to erin', call);
    out.routed_call_event = r.event;
    if (r.status) out.routed_call_status = r.status;
    if (r.event === 'confirmed') {
      const ended = new Promise((resolve) => r.session.on('ended', (e) => resolve(e.cause)));
      r.session.terminate();
      out.routed_call_end = await within('BYE to erin', ended);
    }
    return out;
  } finally {
    try { ua.stop(); } catch (_) { /* closing anyway */ }
  }
}

let browser = null;
let http = null;
let finished = false;

// The page: served from http://127.0.0.1 (a secure context, which
// getUserMedia needs; about:blank and data: URLs are not), with the JsSIP
// bundle. Resolves to the server, listening on an OS-chosen loopback port.
function servePage(bundle) {
  const html = '<!doctype html><meta charset="utf-8"><title>parrot e2e</title>'
    + '<script src="/jssip.js"></script><body>JsSIP over WSS</body>';
  const server = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    } else if (req.url === '/favicon.ico') {
      res.writeHead(204).end();
    } else if (req.url === '/jssip.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(bundle);
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// Closes the browser, and kills its process group (puppeteer starts it as a
// group leader) if it is still there after 3 s.
async function closeBrowser() {
  const b = browser;
  browser = null;
  if (http) {
    http.closeAllConnections();
    http.close();
    http = null;
  }
  if (!b) return;
  const proc = b.process();
  try {
    await Promise.race([b.close(), new Promise((r) => setTimeout(r, 3000))]);
  } catch (_) { /* killed below */ }
  if (proc && proc.exitCode === null && proc.signalCode === null) {
    try { process.kill(-proc.pid, 'SIGKILL'); } catch (_) { /* gone */ }
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const abort = async (why, code) => {
    if (finished) return;
    finished = true;
    log(why);
    await closeBrowser();
    process.stdout.write(`${JSON.stringify({ completed: false, error: why })}\n`);
    process.exit(code);
  };
  const overall = setTimeout(() => { void abort(`global timeout of ${opts.timeoutMs} ms`, 3); }, opts.timeoutMs);
  process.on('SIGTERM', () => { void abort('SIGTERM', 143); });
  process.on('SIGINT', () => { void abort('SIGINT', 130); });

  const { default: puppeteer } = await import('puppeteer-core');
  http = await servePage(await jssipBundle());
  const pageUrl = `http://127.0.0.1:${http.address().port}/`;

  browser = await puppeteer.launch({
    executablePath: opts.chromium,
    headless: true,
    pipe: true,
    acceptInsecureCerts: true,
    timeout: 30000,
    protocolTimeout: opts.timeoutMs,
    handleSIGTERM: false,
    handleSIGINT: false,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--no-default-browser-check',
      '--ignore-certificate-errors',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      // WebRTC host candidates on loopback only, no mDNS names.
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      '--force-webrtc-ip-handling-policy=default_public_interface_only',
    ],
  });
  const proc = browser.process();
  log(`chromium pid ${proc ? proc.pid : '?'}: ${await browser.version()}`);

  const page = await browser.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const debug = process.env.PARROT_BROWSER_DEBUG === '1';
  page.on('console', (m) => {
    if (debug || m.type() === 'error' || m.type() === 'warn') log(`console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => log(`page error: ${e.message}`));

  await page.goto(pageUrl, { waitUntil: 'load' });
  const userAgent = await page.evaluate(() => navigator.userAgent);
  const jssipVersion = await page.evaluate(() => window.JsSIP && window.JsSIP.version);
  if (!jssipVersion) throw new Error(`JsSIP did not load in ${pageUrl}`);

  const results = await page.evaluate(sipSteps, {
    registrar: opts.registrar,
    im: opts.im,
    busy: opts.busy,
    stepTimeoutMs: STEP_TIMEOUT_MS,
    debug,
  });

  // 4-6: erin in a page of her own, called through the registrar.
  const callee = await browser.newPage();
  callee.setDefaultTimeout(STEP_TIMEOUT_MS);
  callee.on('console', (m) => {
    if (debug || m.type() === 'error' || m.type() === 'warn') log(`erin console.${m.type()}: ${m.text()}`);
  });
  callee.on('pageerror', (e) => log(`erin page error: ${e.message}`));
  await callee.goto(pageUrl, { waitUntil: 'load' });
  const routed = {};
  try {
    routed.callee_register_status = await callee.evaluate(calleeSetup, {
      registrar: opts.registrar, stepTimeoutMs: STEP_TIMEOUT_MS, debug,
    });
    Object.assign(routed, await page.evaluate(callerSteps, {
      registrar: opts.registrar, stepTimeoutMs: STEP_TIMEOUT_MS, afterClose: false,
    }));
    // Let erin's page see the BYE's outcome.
    await callee.waitForFunction(() => window.erin.call_events.some((e) => e.startsWith('ended')),
      { timeout: STEP_TIMEOUT_MS }).catch(() => {});
    const seen = await callee.evaluate(() => window.erin);
    routed.callee_messages = seen.messages.join('|');
    routed.callee_calls = seen.calls.length;
    routed.callee_call_uri = seen.calls.length ? seen.calls[0].uri : null;
    routed.callee_call_events = seen.call_events.join(',');
    await callee.close();
    Object.assign(routed, await page.evaluate(callerSteps, {
      registrar: opts.registrar, stepTimeoutMs: STEP_TIMEOUT_MS, afterClose: true,
    }));
  } catch (e) {
    routed.routed_error = String(e && e.message ? e.message : e);
  }

  if (finished) return;
  finished = true;
  clearTimeout(overall);
  await closeBrowser();
  const line = { completed: true, browser: userAgent, jssip: jssipVersion, ...results, ...routed };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  process.exit(0);
}

main().catch(async (e) => {
  // An abort (timeout, signal) closing the browser makes the pending call
  // fail: the abort reports and exits.
  if (finished) return;
  finished = true;
  log(`failed: ${e && e.stack ? e.stack : e}`);
  await closeBrowser();
  process.stdout.write(`${JSON.stringify({ completed: false, error: String(e && e.message ? e.message : e) })}\n`);
  process.exit(1);
});
