#!/usr/bin/env node
// The DApp in a real browser: Debian's chromium, headless, driven by playwright-core, with an
// injected EIP-1193 wallet that forwards JSON-RPC to the real anvil and signs with an anvil test
// key (personal_sign, eth_signTypedData_v4, eth_sendTransaction signed here with viem).
//
// Run by tests/web/test_dapp.py against a running stack; prints one JSON line (what the page
// showed) and exits 0, or prints the failure and exits 1. A screenshot of each step goes to
// --shots. `node tests/web/dapp_e2e.mjs --help` lists the options.
import { mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";

import { chromium } from "playwright-core";
import { createWalletClient, defineChain, http, numberToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

const HELP = `usage: node tests/web/dapp_e2e.mjs --base-url URL --rpc-url URL --key 0x... --audio FILE
       [--audio2 FILE] [--voice FILE] [--mic-wav WAV] [--shots DIR] [--section-shots DIR]
       [--oversize-bytes N] [--chromium PATH] [--timeout-s S]

  --base-url        the API serving the built page (e.g. http://127.0.0.1:8000)
  --rpc-url         anvil's JSON-RPC URL (the injected wallet forwards to it)
  --key             the wallet's private key (an anvil test key)
  --audio           a real recording to upload as a cat sound (registered relayed)
  --audio2          another one, registered from the wallet (optional)
  --voice           a voice recording to catify (optional: the step is skipped without it)
  --mic-wav         a WAV the fake microphone plays: the voice is then recorded in the page
                    (MediaRecorder) instead of picked as a file
  --shots           folder for one PNG screenshot per step (default ./dapp-shots)
  --section-shots   also save the main screens, cropped to their section, here (for the README)
  --oversize-bytes  size of the over-the-limit file to try (default 0: skip that check)
  --chromium        the browser (default /usr/bin/chromium)
  --timeout-s       longest wait for one step (default 90)`;

const { values: opt } = parseArgs({
  options: {
    "base-url": { type: "string" },
    "rpc-url": { type: "string" },
    key: { type: "string" },
    audio: { type: "string" },
    audio2: { type: "string" },
    voice: { type: "string" },
    "mic-wav": { type: "string" },
    "section-shots": { type: "string" },
    shots: { type: "string", default: "dapp-shots" },
    "oversize-bytes": { type: "string", default: "0" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
    "timeout-s": { type: "string", default: "90" },
    help: { type: "boolean", default: false },
  },
});
if (opt.help) {
  console.log(HELP);
  process.exit(0);
}
for (const name of ["base-url", "rpc-url", "key", "audio"]) {
  if (!opt[name]) {
    console.error(`--${name} is required\n\n${HELP}`);
    process.exit(2);
  }
}
const TIMEOUT = Number(opt["timeout-s"]) * 1000;
mkdirSync(opt.shots, { recursive: true });
if (opt["section-shots"]) mkdirSync(opt["section-shots"], { recursive: true });

// ------------------------------------------------------------------ the injected wallet

/** JSON-RPC to anvil. */
async function rpc(method, params) {
  const reply = await fetch(opt["rpc-url"], {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = await reply.json();
  if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code, data: body.error.data });
  return body.result;
}

const account = privateKeyToAccount(opt.key);
const anvilChainId = Number.parseInt(await rpc("eth_chainId", []), 16);
const anvilChain = defineChain({
  id: anvilChainId,
  name: "anvil",
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [opt["rpc-url"]] } },
});
const sender = createWalletClient({ account, chain: anvilChain, transport: http(opt["rpc-url"]) });

/** A test wallet that starts on mainnet (chain 1) so the page has to switch it, like a real one. */
const wallet = {
  chainId: 1,
  connected: false,
  /** methods whose next request the "user" rejects (EIP-1193 code 4001) */
  rejectNext: new Set(),
  calls: [],
};

/** uint/int fields of EIP-712 typed data as BigInt (JSON carries them as numbers or strings). */
function typedValues(types, primary, value) {
  const out = {};
  for (const field of types[primary]) {
    const v = value[field.name];
    if (/^u?int\d*$/.test(field.type)) out[field.name] = BigInt(v);
    else if (types[field.type]) out[field.name] = typedValues(types, field.type, v);
    else out[field.name] = v;
  }
  return out;
}

async function handle(method, params) {
  wallet.calls.push(method);
  if (wallet.rejectNext.has(method)) {
    wallet.rejectNext.delete(method);
    throw Object.assign(new Error("User rejected the request."), { code: 4001 });
  }
  const self = account.address.toLowerCase();
  switch (method) {
    case "eth_requestAccounts":
      wallet.connected = true;
      return [account.address];
    case "eth_accounts": // like a real wallet: nothing until the page asked to connect
      return wallet.connected ? [account.address] : [];
    case "eth_chainId":
      return numberToHex(wallet.chainId);
    case "net_version":
      return String(wallet.chainId);
    case "wallet_switchEthereumChain": {
      const wanted = Number.parseInt(params[0].chainId, 16);
      if (wanted !== anvilChainId && wanted !== 1) {
        throw Object.assign(new Error(`Unrecognized chain ID ${params[0].chainId}.`), { code: 4902 });
      }
      wallet.chainId = wanted;
      return null;
    }
    case "wallet_addEthereumChain":
      return null;
    case "personal_sign": {
      const [data, address] = params;
      if (address.toLowerCase() !== self) throw Object.assign(new Error("unknown account"), { code: 4100 });
      return account.signMessage({ message: { raw: data } });
    }
    case "eth_signTypedData_v4": {
      const [address, json] = params;
      if (address.toLowerCase() !== self) throw Object.assign(new Error("unknown account"), { code: 4100 });
      const typed = typeof json === "string" ? JSON.parse(json) : json;
      if (typed.domain?.chainId !== undefined && Number(typed.domain.chainId) !== wallet.chainId) {
        throw Object.assign(new Error(`typed data is for chain ${typed.domain.chainId}, wallet is on ${wallet.chainId}`), {
          code: -32603,
        });
      }
      const { EIP712Domain, ...types } = typed.types;
      const domain = { ...typed.domain };
      if (domain.chainId !== undefined) domain.chainId = BigInt(domain.chainId);
      return account.signTypedData({
        domain,
        types,
        primaryType: typed.primaryType,
        message: typedValues(types, typed.primaryType, typed.message),
      });
    }
    case "eth_sendTransaction": {
      const [tx] = params;
      if (wallet.chainId !== anvilChainId) {
        throw Object.assign(new Error(`the wallet is on chain ${wallet.chainId}`), { code: -32603 });
      }
      if (tx.from && tx.from.toLowerCase() !== self) throw Object.assign(new Error("unknown account"), { code: 4100 });
      return sender.sendTransaction({
        to: tx.to,
        data: tx.data ?? tx.input,
        value: tx.value ? BigInt(tx.value) : undefined,
        gas: tx.gas ? BigInt(tx.gas) : undefined,
      });
    }
    default:
      return rpc(method, params ?? []);
  }
}

// runs in the page before its scripts: window.ethereum calls back into handle() above
const INJECTED = `(() => {
  const listeners = {};
  const emit = (event, arg) => (listeners[event] || []).forEach((fn) => { try { fn(arg); } catch (e) { console.error(e); } });
  window.ethereum = {
    isMiaoTestWallet: true,
    async request({ method, params }) {
      const reply = JSON.parse(await window.__miaoWallet(method, JSON.stringify(params ?? [])));
      if (reply.error) {
        const err = new Error(reply.error.message);
        err.code = reply.error.code;
        throw err;
      }
      if (method === "wallet_switchEthereumChain") emit("chainChanged", params[0].chainId);
      return reply.result;
    },
    on(event, fn) { (listeners[event] = listeners[event] || []).push(fn); return this; },
    removeListener(event, fn) { listeners[event] = (listeners[event] || []).filter((f) => f !== fn); return this; },
  };
})();`;

// ------------------------------------------------------------------ the run

const result = { steps: [], shots: [], console_errors: [] };
let page;
let shotNo = 0;

/**
 * A full-page screenshot of this step; with --section-shots also one of the part that matters
 * (`focus`: a selector, or "top" for the header and the message banner), for the README.
 */
async function shot(name, focus) {
  shotNo += 1;
  const file = join(opt.shots, `${String(shotNo).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  result.shots.push(file);
  if (!opt["section-shots"] || !focus) return;
  const path = join(opt["section-shots"], `${name}.png`);
  if (focus === "top") {
    await page.evaluate(() => window.scrollTo(0, 0));
    const box = await page.locator("nav.tabs").boundingBox();
    await page.screenshot({ path, clip: { x: 0, y: 0, width: 1200, height: Math.ceil(box.y) } });
  } else {
    await page.locator(focus).screenshot({ path });
  }
}

async function step(name, fn) {
  const started = Date.now();
  process.stderr.write(`[dapp-e2e] ${name}\n`);
  await fn();
  result.steps.push({ name, ms: Date.now() - started });
}

/** Wait for the banner to show this error code; returns its text. */
async function noticeWith(code) {
  await page.waitForSelector(`#notice[data-code="${code}"]:not([hidden])`, { timeout: TIMEOUT });
  return (await page.textContent("#notice-text")).trim();
}

async function dismissNotice() {
  await page.evaluate(() => {
    const n = document.getElementById("notice");
    n.hidden = true;
    delete n.dataset.code;
  });
}

const browser = await chromium.launch({
  executablePath: opt.chromium,
  headless: true,
  args: [
    "--no-sandbox",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-dev-shm-usage",
    ...(opt["mic-wav"]
      ? [
          "--use-fake-ui-for-media-stream",
          "--use-fake-device-for-media-stream",
          `--use-file-for-fake-audio-capture=${opt["mic-wav"]}`,
        ]
      : []),
  ],
});
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  if (opt["mic-wav"]) await context.grantPermissions(["microphone"], { origin: opt["base-url"] });
  page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("console", (msg) => {
    if (msg.type() === "error") result.console_errors.push(msg.text());
  });
  page.on("pageerror", (err) => result.console_errors.push(`pageerror: ${err.message}`));
  await page.exposeFunction("__miaoWallet", async (method, paramsJson) => {
    try {
      return JSON.stringify({ result: (await handle(method, JSON.parse(paramsJson))) ?? null });
    } catch (err) {
      return JSON.stringify({ error: { code: err.code ?? -32603, message: err.shortMessage ?? err.message } });
    }
  });
  await page.addInitScript(INJECTED);

  await step("open the page", async () => {
    await page.goto(opt["base-url"] + "/");
    await page.waitForSelector("body[data-ready]");
    result.backend_status = await page.getAttribute("#backend-status", "data-state");
    result.has_meows = (await page.locator("#mood-select option").count()) > 1;
    await shot("home");
  });

  await step("connect: the wallet is on another chain", async () => {
    await page.click("#connect-btn");
    await page.waitForSelector("#wallet-address:not([hidden])");
    result.address = await page.getAttribute("#wallet-address", "data-address");
    result.wrong_chain_notice = await noticeWith("wrong_chain");
    result.switch_offered = await page.isVisible("#switch-btn");
    await shot("wrong-chain", "top");
    await dismissNotice();
    await page.click("#signin-btn");
    result.signin_on_wrong_chain = await noticeWith("wrong_chain");
  });

  await step("switch to the local chain", async () => {
    await dismissNotice();
    await page.click("#switch-btn");
    await page.waitForSelector(`#wallet-chain[data-chain-id="${anvilChainId}"]`);
    result.chain_after_switch = Number(await page.getAttribute("#wallet-chain", "data-chain-id"));
    result.switch_hidden = await page.isHidden("#switch-btn");
  });

  await step("a rejected sign-in signature", async () => {
    wallet.rejectNext.add("personal_sign");
    await page.click("#signin-btn");
    result.rejected_notice = await noticeWith("rejected");
    result.signed_in_after_reject = await page.isVisible("#signin-status");
    await shot("rejected-signature", "top");
  });

  await step("sign in (SIWE)", async () => {
    await dismissNotice();
    await page.click("#signin-btn");
    await page.waitForSelector("#signin-status:not([hidden])");
    result.signin_status = (await page.textContent("#signin-status")).trim();
    await shot("signed-in");
  });

  if (Number(opt["oversize-bytes"]) > 0) {
    await step("an oversize file", async () => {
      await dismissNotice();
      const big = Buffer.alloc(Number(opt["oversize-bytes"]), 1);
      big.write("RIFF", 0);
      await page.setInputFiles("#file-input", { name: "too-big.wav", mimeType: "audio/wav", buffer: big });
      await page.click("#upload-btn");
      result.oversize_notice = await noticeWith("too_large");
      await shot("oversize-file");
    });
  }

  await step("upload a recording; the registration signature is rejected once, then relayed", async () => {
    await dismissNotice();
    await page.setInputFiles("#file-input", opt.audio);
    await page.selectOption("#kind-select", "cat");
    await page.fill("#contributor-label", "browser e2e");
    await page.check('input[name="register-mode"][value="relayed"]');
    wallet.rejectNext.add("eth_signTypedData_v4");
    await page.click("#upload-btn");
    result.rejected_registration_notice = await noticeWith("rejected");
    await page.waitForSelector("#register-retry");
    await shot("registration-rejected");
    await dismissNotice();
    await page.click("#register-retry");
    await page.waitForSelector('#upload-stages li[data-stage="registered"].done');
    await shot("upload-progress");
    await page.waitForSelector("#result-label");
    result.stages_done = await page.$$eval("#upload-stages li.done", (lis) => lis.map((li) => li.dataset.stage));
    result.upload = await labelFacts(opt.audio);
    await shot("labelled", "#contribute");
  });

  if (opt.audio2) {
    await step("upload another, registered from the wallet (it pays the gas)", async () => {
      await dismissNotice();
      await page.setInputFiles("#file-input", opt.audio2);
      await page.fill("#contributor-label", "browser e2e, direct");
      await page.check('input[name="register-mode"][value="direct"]');
      await page.click("#upload-btn");
      await page.waitForSelector('#upload-stages li[data-stage="labelled"].done');
      await page.waitForSelector("#result-label");
      result.direct_upload = await labelFacts(opt.audio2);
      await shot("labelled-direct");
    });
  }

  await step("the backend goes away: a message, not a blank page", async () => {
    await page.route("**/v1/**", (route) => route.abort("connectionrefused"));
    await page.click("#mine-refresh");
    result.backend_down_notice = await noticeWith("backend_down");
    result.page_still_shown = await page.isVisible("#contribute");
    await shot("backend-down", "top");
    await page.unroute("**/v1/**");
    await dismissNotice();
  });

  if (result.has_meows) {
    await step("generate a meow from a mood", async () => {
      await page.selectOption("#mood-select", "happy");
      await page.fill("#meow-seconds", "1");
      await page.fill("#meow-seed", "7");
      await page.click("#meow-btn");
      await page.waitForSelector("#meow-audio", { timeout: TIMEOUT });
      result.meow = await meowFacts();
      await shot("meow", "#create");
    });

    await step("mint it (server)", async () => {
      await page.click("#mint-server-btn");
      await page.waitForSelector("#mint-result[data-token-id]", { timeout: TIMEOUT });
      result.meow.token_id = Number(await page.getAttribute("#mint-result", "data-token-id"));
      await shot("minted");
    });

    await step("see it in my NFTs", async () => {
      await page.waitForSelector(`#my-nfts .nft[data-token-id="${result.meow.token_id}"]`, { timeout: TIMEOUT });
      await page.locator("#mine").scrollIntoViewIfNeeded();
      result.my_nfts = await page.$$eval("#my-nfts .nft", (cards) => cards.map((c) => Number(c.dataset.tokenId)));
      await shot("my-nfts", "#mine");
    });

    if (opt.voice || opt["mic-wav"]) {
      await step("catify a voice, mint it by redeeming a voucher", async () => {
        if (opt["mic-wav"]) {
          // the fake microphone plays the voice: record it in the page with MediaRecorder
          await page.click("#voice-rec-btn");
          await page.waitForFunction(() => /recording [1-9]/.test(document.getElementById("voice-rec-status").textContent));
          await page.waitForTimeout(600);
          await page.click("#voice-rec-btn");
          await page.waitForSelector("#voice-rec-status:text-matches('recorded')");
          result.voice_recorded = (await page.textContent("#voice-rec-status")).trim();
        } else {
          await page.setInputFiles("#voice-file", opt.voice);
        }
        await page.selectOption("#voice-mood-select", "happy");
        await page.click("#catify-btn");
        await page.waitForSelector("#mint-voucher-btn", { timeout: TIMEOUT });
        result.catified = await meowFacts();
        await shot("catified");
        await page.click("#mint-voucher-btn");
        await page.waitForSelector("#mint-result[data-token-id]", { timeout: TIMEOUT });
        result.catified.token_id = Number(await page.getAttribute("#mint-result", "data-token-id"));
        await page.waitForSelector(`#my-nfts .nft[data-token-id="${result.catified.token_id}"]`, { timeout: TIMEOUT });
        result.my_nfts = await page.$$eval("#my-nfts .nft", (cards) => cards.map((c) => Number(c.dataset.tokenId)));
        await shot("voucher-redeemed");
      });
    }
  }

  await step("browse the dataset and play a sound", async () => {
    await page.selectOption('#dataset-form select[name="kind"]', "cat");
    await page.fill('#dataset-form input[name="contributor"]', result.address);
    await page.click('#dataset-form button[type="submit"]');
    await page.waitForSelector("#dataset-list table.sounds tbody tr[data-sound-id]");
    result.dataset_ids = await page.$$eval("#dataset-list tr[data-sound-id]", (rows) => rows.map((r) => r.dataset.soundId));
    await page.click("#dataset-list tr[data-sound-id] button.play");
    result.played = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const player = document.getElementById("player");
          const done = () => resolve({ duration: player.duration, error: player.error?.code ?? null });
          if (player.readyState >= 1) done();
          player.addEventListener("loadedmetadata", done, { once: true });
          player.addEventListener("error", done, { once: true });
          setTimeout(done, 10000);
        }),
    );
    await page.locator("#dataset").scrollIntoViewIfNeeded();
    await shot("dataset", "#dataset");
  });
  await step("the session ends (cookie gone): back to sign-in, with a message", async () => {
    await dismissNotice();
    await page.context().clearCookies();
    await page.click("#meow-btn");
    result.session_gone_notice = await noticeWith("not_signed_in");
    result.signin_offered_again = await page.isVisible("#signin-btn");
  });

  await step("a browser without a wallet can still browse", async () => {
    const bare = await page.context().newPage(); // no injected provider on this one
    await bare.goto(opt["base-url"] + "/");
    await bare.waitForSelector("body[data-ready]");
    await bare.waitForSelector('#notice[data-code="no_wallet"]:not([hidden])');
    result.no_wallet_notice = (await bare.textContent("#notice-text")).trim();
    await bare.waitForSelector("#dataset-list tr[data-sound-id]");
    result.no_wallet_dataset_rows = await bare.locator("#dataset-list tr[data-sound-id]").count();
    await bare.close();
  });
  result.wallet_calls = [...new Set(wallet.calls)];
  console.log(JSON.stringify(result));
} catch (err) {
  if (page) {
    try {
      await shot("failure");
      result.notice = await page.textContent("#notice-text");
    } catch {
      // the page itself is gone
    }
  }
  console.log(JSON.stringify({ ...result, failed: String(err?.stack ?? err) }));
  process.exitCode = 1;
} finally {
  await browser.close();
}

/** What the upload's result shows. */
async function labelFacts(file) {
  return {
    file: basename(file),
    label: (await page.textContent("#result-label")).trim(),
    confidence: (await page.textContent("#result-confidence")).trim(),
    model_id: await page.getAttribute('[data-field="model_id"] code', "title"),
    sound_id: await page.getAttribute('[data-field="sound_id"] code', "title"),
    tx_hash: (await page.textContent("#result-tx")).trim(),
    labels: await page.$$eval("table.labels tbody tr", (rows) =>
      rows.map((r) => [...r.children].map((td) => td.querySelector("code")?.title ?? td.textContent.trim())),
    ),
  };
}

/** What the meow card shows, and whether its audio and spectrogram load in the browser. */
async function meowFacts() {
  const loaded = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const audio = document.getElementById("meow-audio");
        const img = document.getElementById("meow-spectrogram");
        const finish = () =>
          resolve({
            audio_duration: audio.duration,
            audio_error: audio.error?.code ?? null,
            image_width: img?.naturalWidth ?? 0,
          });
        const imgReady = () => !img || img.complete;
        const poll = setInterval(() => {
          if ((audio.readyState >= 1 || audio.error) && imgReady()) {
            clearInterval(poll);
            finish();
          }
        }, 100);
        setTimeout(() => {
          clearInterval(poll);
          finish();
        }, 15000);
      }),
  );
  return {
    meow_id: await page.getAttribute("#meow-result", "data-meow-id"),
    ...loaded,
  };
}
