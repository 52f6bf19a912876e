// The MIAO AI DApp: wallet + SIWE sign-in, contribute a sound (relayed or direct registration)
// with live labelling progress, make a meow (mood or voice), mint it (server or voucher), browse
// the open dataset, and your own sounds and NFTs. Every failure ends in a message (#notice).
import { decodeEventLog } from "viem";

import { abi as meowNftAbi } from "../../contracts/artifacts/MeowNFT.json";
import { abi as registryAbi } from "../../contracts/artifacts/SoundRegistry.json";
import { AppError, api, backendWatch, cidOf, followJob, ipfsUrl } from "./api.js";
import { $, el, facts, hexCell, short, table } from "./dom.js";
import { fileNameFor, wireRecorder } from "./recorder.js";
import "./style.css";
import {
  accounts,
  connect,
  injected,
  onWalletChange,
  sendContractTx,
  signIn,
  signTypedDataV4,
  switchToChain,
  walletChainId,
} from "./wallet.js";

const KINDS = ["cat", "dog", "infant", "other"];
const UPLOAD_STAGES = ["received", "pinned", "registered", "labelling", "labelled"];

const state = {
  /** @type {string|null} */ address: null,
  /** @type {number|null} */ walletChain: null,
  /** @type {{chain_id: number, rpc_url?: string, sound_registry?: string, meow_nft?: string}|null} */
  chain: null,
  /** @type {string|null} the signed-in address (the session cookie's) */ session: null,
  /** @type {Blob|null} */ upload: null,
  /** @type {Blob|null} */ voice: null,
  datasetOffset: 0,
  datasetNext: null,
  datasetQuery: {},
};

// ---------------------------------------------------------------- messages

/**
 * Show a message in the banner; errors stay until dismissed, others fade. `code` (data-code) says
 * which message it is, for scripts and tests.
 */
function notify(text, kind = "error", code = "") {
  const box = $("notice");
  box.className = `notice ${kind}`;
  box.dataset.kind = kind;
  box.dataset.code = code;
  $("notice-text").textContent = text;
  box.hidden = false;
  clearTimeout(notify.timer);
  if (kind !== "error") notify.timer = setTimeout(() => (box.hidden = true), 8000);
}

function showError(err) {
  console.error(err);
  if (err?.name === "AbortError") return;
  const code = err instanceof AppError ? err.code : "unexpected";
  notify(err instanceof AppError ? err.message : `Something went wrong: ${err?.message ?? err}`, "error", code);
  if (code === "backend_down") setBackendStatus(false);
}

/** Run a button's action: disabled while it runs, any error shown. */
function action(button, fn) {
  button.addEventListener("click", async (ev) => {
    ev.preventDefault();
    if (button.dataset.busy) return;
    button.dataset.busy = "1";
    const wasDisabled = button.disabled;
    button.disabled = true;
    try {
      await fn();
    } catch (err) {
      showError(err);
    } finally {
      delete button.dataset.busy;
      button.disabled = wasDisabled && button.disabled;
      refreshButtons();
    }
  });
}

// ---------------------------------------------------------------- backend and chain

function setBackendStatus(ok, detail = "") {
  const pill = $("backend-status");
  pill.textContent = ok ? `backend: ${detail || "ok"}` : "backend: not answering";
  pill.className = `pill ${ok ? (detail === "degraded" ? "warn" : "ok") : "bad"}`;
  pill.dataset.state = ok ? detail || "ok" : "down";
}

// any answer from the API after it was down puts the status back
backendWatch.onUp = () => $("backend-status").dataset.state === "down" && checkBackend();

async function checkBackend() {
  try {
    const health = await api("/v1/health");
    setBackendStatus(true, health.status);
    if (health.status !== "ok") {
      const down = Object.entries(health.checks ?? {})
        .filter(([, c]) => !c.ok)
        .map(([name]) => name);
      notify(`The backend is up but some services are not answering: ${down.join(", ")}.`, "warn");
    }
    return true;
  } catch (err) {
    showError(err);
    return false;
  }
}

/** The backend's chain: GET /v1/chain, or the sign-in nonce's chain id on an older backend. */
async function chainInfo() {
  if (state.chain) return state.chain;
  try {
    state.chain = await api("/v1/chain");
  } catch (err) {
    if (!(err instanceof AppError) || err.status !== 404) throw err;
    const nonce = await api("/v1/auth/nonce");
    state.chain = { chain_id: nonce.chain_id };
  }
  return state.chain;
}

/** Throw a clear error unless the wallet is on the backend's chain. */
async function requireChain(doing) {
  const info = await chainInfo();
  state.walletChain = await walletChainId();
  renderWallet();
  if (state.walletChain !== info.chain_id) {
    throw new AppError(
      "wrong_chain",
      `Your wallet is on chain ${state.walletChain}, MIAO AI runs on chain ${info.chain_id}: ` +
        `press "Switch to the MIAO chain" before ${doing}.`,
    );
  }
  return info;
}

function requireSignedIn(doing) {
  if (!state.address) throw new AppError("not_connected", `Connect your wallet before ${doing}.`);
  if (!state.session || state.session !== state.address) {
    throw new AppError("not_signed_in", `Sign in with your wallet before ${doing}.`);
  }
}

// ---------------------------------------------------------------- wallet and sign-in

function renderWallet() {
  const addr = $("wallet-address");
  addr.hidden = !state.address;
  addr.textContent = state.address ? short(state.address, 4) : "";
  addr.title = state.address ?? "";
  addr.dataset.address = state.address ?? "";
  const chain = $("wallet-chain");
  chain.hidden = state.walletChain === null;
  const wrong = state.chain && state.walletChain !== null && state.walletChain !== state.chain.chain_id;
  chain.textContent = state.walletChain === null ? "" : `chain ${state.walletChain}${wrong ? " (wrong chain)" : ""}`;
  chain.className = `pill ${wrong ? "bad" : "ok"}`;
  chain.dataset.chainId = String(state.walletChain ?? "");
  $("connect-btn").hidden = Boolean(state.address);
  $("switch-btn").hidden = !wrong;
  const signedIn = Boolean(state.address && state.session === state.address);
  $("signin-btn").hidden = !state.address || signedIn;
  $("signout-btn").hidden = !signedIn;
  const status = $("signin-status");
  status.hidden = !signedIn;
  status.textContent = signedIn ? "signed in" : "";
  status.className = "pill ok";
  $("mine-hint").textContent = state.address
    ? `Showing ${short(state.address, 4)}'s sounds, meows and NFTs.`
    : "Connect your wallet to see what you contributed and own.";
  refreshButtons();
}

function refreshButtons() {
  const signedIn = Boolean(state.address && state.session === state.address);
  $("upload-btn").disabled = !state.upload || !signedIn || Boolean($("upload-btn").dataset.busy);
  $("meow-btn").disabled = !signedIn || Boolean($("meow-btn").dataset.busy);
  $("catify-btn").disabled = !state.voice || !signedIn || Boolean($("catify-btn").dataset.busy);
  $("upload-btn").title = signedIn ? "" : "Sign in first";
  $("meow-btn").title = signedIn ? "" : "Sign in first";
}

async function afterConnect(address) {
  state.address = address;
  state.walletChain = await walletChainId();
  try {
    await chainInfo();
  } catch (err) {
    showError(err);
  }
  renderWallet();
  if (state.chain && state.walletChain !== state.chain.chain_id) {
    notify(
      `Your wallet is on chain ${state.walletChain}; MIAO AI runs on chain ${state.chain.chain_id}. ` +
        `Press "Switch to the MIAO chain".`,
      "warn",
      "wrong_chain",
    );
  }
  loadMine();
}

async function doSignIn() {
  if (!state.address) throw new AppError("not_connected", "Connect your wallet first.");
  const info = await requireChain("signing in");
  const nonce = await api("/v1/auth/nonce");
  if (nonce.chain_id !== info.chain_id) {
    throw new AppError("wrong_chain", `The backend signs in on chain ${nonce.chain_id}.`);
  }
  const { message, signature } = await signIn(state.address, state.walletChain, nonce);
  const session = await api("/v1/auth/verify", { json: { message, signature } });
  state.session = session.address;
  renderWallet();
  notify(`Signed in as ${short(session.address, 4)}.`, "ok");
}

async function restoreSession() {
  try {
    const me = await api("/v1/auth/me");
    state.session = me.address;
  } catch (err) {
    if (err.code === "backend_down") throw err;
    state.session = null; // 401: not signed in (or the session expired)
  }
}

// ---------------------------------------------------------------- contribute a sound

function stageList(list, stages) {
  list.hidden = false;
  list.replaceChildren(...stages.map((s) => el("li", { dataset: { stage: s } }, s)));
}

function markStage(list, stage, detail = "") {
  let item = list.querySelector(`[data-stage="${stage}"]`);
  if (!item) {
    item = el("li", { dataset: { stage } }, stage);
    list.append(item);
  }
  for (const li of list.children) {
    if (li === item) break;
    if (!li.classList.contains("failed")) li.classList.add("done");
  }
  item.classList.add(stage === "failed" ? "failed" : "done");
  item.textContent = detail ? `${stage}: ${detail}` : stage;
}

async function doUpload() {
  requireSignedIn("uploading");
  const blob = state.upload;
  if (!blob) throw new AppError("no_file", "Record a sound or pick a file first.");
  const kind = $("kind-select").value;
  const mode = document.querySelector('input[name="register-mode"]:checked').value;
  if (mode === "direct") await requireChain("registering from your wallet");
  const form = new FormData();
  form.append("file", blob, fileNameFor(blob));
  form.append("kind", kind);
  form.append("contributor_label", $("contributor-label").value.trim());
  const list = $("upload-stages");
  const result = $("upload-result");
  result.hidden = true;
  result.replaceChildren();
  stageList(list, UPLOAD_STAGES);
  let upload;
  try {
    upload = await api("/v1/sounds", { form });
  } catch (err) {
    list.hidden = true;
    throw await explainUploadError(err, blob);
  }
  markStage(list, "received");
  // follow the job first, so no stage is missed while the registration is on its way
  const done = followJob(upload.job_id, (stage, data) => markStage(list, stage, stageDetail(stage, data)), [
    "labelled",
  ]);
  done.catch(() => {}); // reported by finish(), once the registration went through
  const finish = async () => {
    const { data } = await done;
    showLabels(result, upload, data);
    notify(`Labelled on-chain: ${data.label} (${pct(data.confidence)}).`, "ok");
    loadDataset();
    loadMine();
  };
  try {
    await registerOnce(upload, mode, kind);
  } catch (err) {
    offerRetry(upload, mode, kind, result, finish);
    throw err;
  }
  await finish();
}

function stageDetail(stage, data) {
  if (stage === "pinned" && data.cid) return short(data.cid, 8);
  if (stage === "registered" && data.tx_hash) return `tx ${short(data.tx_hash)}`;
  if (stage === "labelled" && data.label) return data.label;
  if (stage === "failed") return data.reason ?? "";
  return "";
}

async function explainUploadError(err, blob) {
  if (!(err instanceof AppError)) return err;
  if (err.status === 413 || err.code === "too_large") {
    return new AppError(
      "too_large",
      `That file (${mb(blob.size)}) is over the server's upload limit: ${err.message}. Trim it or pick a shorter clip.`,
      { status: 413 },
    );
  }
  if (err.code === "backend_down" && blob.size > 1024 * 1024) {
    // a large body refused early can look like a dropped connection to the browser
    try {
      await api("/v1/health");
      return new AppError(
        "too_large",
        `The server cut the upload of ${mb(blob.size)} off: the file is most likely over its upload limit.`,
        { status: 413 },
      );
    } catch {
      return err;
    }
  }
  if (err.status === 409) {
    const existing = Array.isArray(err.details) ? err.details[0] : null;
    const id = existing?.id ?? existing?.sound_id;
    return new AppError("duplicate", `This recording is in the dataset already${id ? ` (sound ${short(id)})` : ""}.`, {
      status: 409,
    });
  }
  if (err.status === 415 || err.status === 422) {
    return new AppError(err.code, `The server could not use that file: ${err.message}`, { status: err.status });
  }
  return err;
}

const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const pct = (x) => `${(100 * Number(x)).toFixed(1)} %`;

/** The sound is pinned but its registration failed (e.g. a rejected signature): try again. */
function offerRetry(upload, mode, kind, result, finish) {
  const again = el("button", { type: "button", id: "register-retry", class: "primary" }, "Register it again");
  action(again, async () => {
    let fresh = upload;
    if (mode === "relayed") {
      // fresh typed data: the deadline may have passed or the nonce moved on
      const typed = await api(`/v1/sounds/${upload.sound_id}/registration`);
      fresh = { ...upload, typed_data: typed.typed_data };
    }
    await registerOnce(fresh, mode, kind);
    again.remove();
    await finish();
  });
  result.replaceChildren(
    el("p", {}, `The sound is pinned to IPFS (${short(upload.cid, 8)}) but not registered on-chain yet.`),
    again,
  );
  result.hidden = false;
}

/** Register relayed (sign EIP-712, the server sends it) or directly from the wallet (it pays). */
async function registerOnce(upload, mode, kind) {
  if (mode === "relayed") {
    await requireChainIfKnown();
    const signature = await signTypedDataV4(state.address, upload.typed_data, "the registration signature");
    const { nonce, deadline } = upload.typed_data.message;
    await api(upload.register_url ?? `/v1/sounds/${upload.sound_id}/register`, {
      json: { signature, message: { nonce, deadline } },
    });
    return;
  }
  const info = await requireChain("registering from your wallet");
  const contract = info.sound_registry ?? upload.typed_data.domain.verifyingContract;
  await sendContractTx(
    state.address,
    info,
    {
      abi: registryAbi,
      contract,
      functionName: "registerSound",
      args: [upload.sound_id, KINDS.indexOf(kind), upload.cid, $("contributor-label").value.trim()],
    },
    "the registration transaction",
  );
}

/** Wallets refuse typed data whose domain names another chain; say so before they do. */
async function requireChainIfKnown() {
  try {
    await requireChain("signing");
  } catch (err) {
    if (err.code === "wrong_chain") throw err;
  }
}

function showLabels(result, upload, data) {
  const rows = (data.labels ?? []).map((l) => [
    l.task,
    el("strong", {}, l.label),
    pct(l.confidence_bps / 10000),
    hexCell(l.model_id),
    hexCell(l.tx_hash),
  ]);
  result.replaceChildren(
    el("h3", {}, "Labelled on-chain"),
    facts([
      ["Label", el("strong", { id: "result-label" }, data.label), "label"],
      ["Confidence", el("span", { id: "result-confidence" }, pct(data.confidence)), "confidence"],
      ["Model id", hexCell(data.model_id, 10), "model_id"],
      ["Label tx", el("code", { id: "result-tx", title: data.tx_hash }, data.tx_hash), "tx_hash"],
      ["Sound id", hexCell(upload.sound_id, 10), "sound_id"],
      ["IPFS", el("a", { href: ipfsUrl(upload.cid), target: "_blank" }, short(upload.cid, 10))],
      data.flagged ? ["Flagged", data.flag_reason ?? "yes"] : ["", ""],
    ]),
    rows.length ? table(["task", "label", "confidence", "model", "tx"], rows, { class: "labels" }) : "",
  );
  result.hidden = false;
}

// ---------------------------------------------------------------- meows: generate, catify, mint

async function loadMoods() {
  try {
    const { moods } = await api("/v1/meows/moods");
    for (const id of ["mood-select", "voice-mood-select"]) {
      $(id).replaceChildren(...moods.map((m) => el("option", { value: m, selected: m === "happy" }, m)));
    }
  } catch (err) {
    if (err.code === "backend_down") throw err;
    // an older backend without meows: leave the defaults, the buttons will explain
  }
}

function genProgress(stage, data) {
  $("gen-progress").hidden = false;
  const steps = { received: 0.05, generating: 0.1, pinned: 0.9, registered: 1, minted: 1 };
  let frac = steps[stage] ?? 0;
  if (stage === "generating" && typeof data.progress === "number") frac = 0.1 + 0.8 * data.progress;
  $("gen-bar").style.width = `${Math.round(100 * frac)}%`;
  $("gen-stage").textContent =
    stage === "generating" && typeof data.progress === "number"
      ? `generating ${Math.round(100 * data.progress)} %`
      : stage;
  $("gen-progress").dataset.stage = stage;
}

async function runGeneration(start) {
  $("meow-result").hidden = true;
  genProgress("received", {});
  const accepted = await start();
  const { data } = await followJob(accepted.job_id, genProgress, ["registered"]);
  const meow = data.meow_id ? await api(`/v1/meows/${data.meow_id}`).catch(() => null) : null;
  showMeow({ ...data, ...(meow ?? {}), id: meow?.id ?? data.meow_id, tx_hash: data.tx_hash });
  notify("Your meow is made and registered on-chain.", "ok");
  loadDataset();
  loadMine();
}

async function doMeow() {
  requireSignedIn("making a meow");
  const seconds = Number($("meow-seconds").value || 2);
  const seedText = $("meow-seed").value.trim();
  const body = { mood: $("mood-select").value, seconds };
  if (seedText) body.seed = Number(seedText);
  await runGeneration(() => api("/v1/meows", { json: body }));
}

async function doCatify() {
  requireSignedIn("catifying your voice");
  if (!state.voice) throw new AppError("no_file", "Record your voice or pick a file first.");
  const form = new FormData();
  form.append("file", state.voice, fileNameFor(state.voice, "voice"));
  form.append("mood", $("voice-mood-select").value);
  await runGeneration(async () => {
    try {
      return await api("/v1/style-transfer", { form });
    } catch (err) {
      throw await explainUploadError(err, state.voice);
    }
  });
}

function showMeow(meow) {
  const box = $("meow-result");
  const minted = meow.tokens?.length ? meow.tokens[0] : null;
  const mintArea = el("div", { id: "mint-area", class: "row" });
  if (minted) {
    mintArea.append(el("p", { id: "mint-result" }, `Minted as token #${minted.token_id} (owner ${short(minted.owner, 4)}).`));
  } else {
    const server = el("button", { type: "button", id: "mint-server-btn", class: "primary" }, "Mint (the server pays)");
    const voucher = el("button", { type: "button", id: "mint-voucher-btn" }, "Mint with a voucher (my wallet pays)");
    action(server, () => mintServer(meow, mintArea));
    action(voucher, () => mintVoucher(meow, mintArea));
    mintArea.append(server, voucher);
  }
  box.replaceChildren(
    el("h3", {}, meow.method === "style_transfer" ? "Your catified voice" : `A ${meow.mood ?? ""} meow`),
    el(
      "div",
      { class: "media" },
      meow.image_cid
        ? el("img", { id: "meow-spectrogram", src: ipfsUrl(meow.image_cid), alt: "log-mel spectrogram of the meow" })
        : "",
      el("audio", { id: "meow-audio", controls: true, preload: "auto", src: ipfsUrl(meow.audio_cid) }),
    ),
    facts([
      ["Meow id", hexCell(meow.id ?? meow.meow_id ?? "", 8), "meow_id"],
      ["Mood", meow.mood],
      ["Seed", meow.seed],
      ["Model id", hexCell(meow.model_id ?? "", 10)],
      ["Sound id", hexCell(meow.sound_id ?? "", 10)],
      ["Registered tx", meow.tx_hash || meow.registered_tx_hash ? hexCell(meow.tx_hash ?? meow.registered_tx_hash, 10) : ""],
    ]),
    mintArea,
  );
  box.hidden = false;
  box.dataset.meowId = meow.id ?? meow.meow_id ?? "";
}

async function mintServer(meow, area) {
  requireSignedIn("minting");
  const id = meow.id ?? meow.meow_id;
  const accepted = await api(`/v1/meows/${id}/mint`, { json: { mode: "server" } });
  area.replaceChildren(el("p", { id: "mint-progress" }, "Minting…"));
  const { data } = await followJob(accepted.job_id, (stage) => (area.firstChild.textContent = `Minting: ${stage}`), [
    "minted",
  ]);
  mintedMessage(area, data.token_id, data.tx_hash);
}

async function mintVoucher(meow, area) {
  requireSignedIn("minting");
  const info = await requireChain("redeeming a voucher");
  const id = meow.id ?? meow.meow_id;
  const issued = await api(`/v1/meows/${id}/mint`, { json: { mode: "voucher" } });
  const v = issued.voucher;
  const contract = issued.contract ?? info.meow_nft;
  const { hash, receipt } = await sendContractTx(
    state.address,
    info,
    {
      abi: meowNftAbi,
      contract,
      functionName: "redeem",
      args: [
        {
          recipient: v.recipient,
          tokenURI: v.tokenURI,
          sourceSoundId: v.sourceSoundId,
          voucherId: BigInt(v.voucherId),
          deadline: BigInt(v.deadline),
        },
        issued.signature,
      ],
    },
    "redeeming the voucher",
  );
  let tokenId = null;
  for (const log of receipt.logs) {
    try {
      const ev = decodeEventLog({ abi: meowNftAbi, data: log.data, topics: log.topics });
      if (ev.eventName === "MeowMinted") tokenId = ev.args.tokenId;
    } catch {
      // another contract's or event's log
    }
  }
  mintedMessage(area, tokenId, hash);
}

function mintedMessage(area, tokenId, txHash) {
  area.replaceChildren(
    el("p", { id: "mint-result", dataset: { tokenId: String(tokenId ?? "") } }, `Minted as token #${tokenId} `, hexCell(txHash ?? "", 8)),
  );
  notify(`Minted: MEOW token #${tokenId} is yours.`, "ok");
  // a redeemed voucher reaches the API once the indexer has read its block
  waitForToken(tokenId).then(loadMine);
}

/** Until GET /v1/nfts/{id} knows the token (at most a minute), polling once a second. */
async function waitForToken(tokenId) {
  if (tokenId === null || tokenId === undefined) return;
  for (let i = 0; i < 60; i += 1) {
    try {
      await api(`/v1/nfts/${tokenId}`);
      return;
    } catch (err) {
      if (err.status !== 404) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// ---------------------------------------------------------------- the dataset and "mine"

function playButton(cid) {
  return el(
    "button",
    {
      type: "button",
      class: "play",
      "data-cid": cid,
      onclick: async (ev) => {
        const player = $("player");
        document.querySelectorAll("button.play.playing").forEach((b) => b.classList.remove("playing"));
        if (player.dataset.cid === cid && !player.paused) {
          player.pause();
          return;
        }
        player.src = ipfsUrl(cid);
        player.dataset.cid = cid;
        ev.currentTarget.classList.add("playing");
        try {
          await player.play();
        } catch (err) {
          if (err?.name !== "AbortError") showError(new AppError("playback", `Cannot play that sound: ${err.message}`));
        }
      },
    },
    "▶",
  );
}

function soundsTable(items, emptyText) {
  if (!items.length) return el("p", { class: "hint empty" }, emptyText);
  return table(
    ["", "kind", "labels", "contributor", "length", "id"],
    items.map((s) => {
      const row = [
        playButton(s.cid),
        s.synthetic ? `${s.kind} (generated)` : s.kind,
        s.labels.length
          ? s.labels.map((l) => `${l.label} ${Math.round(l.confidence_bps / 100)}%`).join(", ")
          : s.synthetic
            ? "generated (not labelled)"
            : s.status,
        hexCell(s.contributor, 4),
        s.duration_s ? `${s.duration_s.toFixed(1)} s` : "",
        hexCell(s.id),
      ];
      row.attrs = { "data-sound-id": s.id };
      return row;
    }),
    { class: "sounds" },
  );
}

async function loadDataset(offset = state.datasetOffset) {
  const params = new URLSearchParams({ offset: String(offset), limit: "20" });
  for (const [k, v] of Object.entries(state.datasetQuery)) if (v) params.set(k, v);
  try {
    const page = await api(`/v1/dataset?${params}`);
    state.datasetOffset = page.offset;
    state.datasetNext = page.next_offset;
    $("dataset-list").replaceChildren(soundsTable(page.items, "No sounds match these filters yet."));
    $("dataset-page").textContent = page.total
      ? `${page.offset + 1}–${page.offset + page.items.length} of ${page.total}`
      : "";
    $("dataset-prev").disabled = page.offset === 0;
    $("dataset-next").disabled = page.next_offset === null || page.next_offset === undefined;
  } catch (err) {
    showError(err);
  }
}

async function loadMine() {
  if (!state.address) return;
  const me = encodeURIComponent(state.address);
  const tasks = [
    api(`/v1/dataset?contributor=${me}&synthetic=false&limit=50`).then((page) =>
      $("my-sounds").replaceChildren(soundsTable(page.items, "You have not contributed a sound yet.")),
    ),
    api(`/v1/meows?creator=${me}&limit=50`).then((page) =>
      $("my-meows").replaceChildren(
        page.items.length
          ? table(
              ["", "meow", "made", "token"],
              page.items.map((m) => [
                playButton(m.audio_cid),
                m.method === "style_transfer" ? `voice → ${m.mood ?? "cat"}` : `${m.mood} (seed ${m.seed})`,
                new Date(m.created_at).toLocaleString(),
                m.tokens.length ? `#${m.tokens[0].token_id}` : m.registered ? "not minted" : "registering…",
              ]),
              { class: "meows" },
            )
          : el("p", { class: "hint empty" }, "You have not made a meow yet."),
      ),
    ),
    api(`/v1/nfts?owner=${me}&limit=50`).then((page) => renderNfts(page.items)),
  ];
  const results = await Promise.allSettled(tasks);
  const failed = results.find((r) => r.status === "rejected" && r.reason?.status !== 404);
  if (failed) showError(failed.reason);
}

async function renderNfts(items) {
  const box = $("my-nfts");
  if (!items.length) {
    box.replaceChildren(el("p", { class: "hint empty" }, "You own no MEOW token yet."));
    return;
  }
  const cards = await Promise.all(
    items.map(async (nft) => {
      const meow = nft.meow_id ? await api(`/v1/meows/${nft.meow_id}`).catch(() => null) : null;
      return el(
        "div",
        { class: "nft", dataset: { tokenId: String(nft.token_id) } },
        meow?.image_cid ? el("img", { src: ipfsUrl(meow.image_cid), alt: `token ${nft.token_id}` }) : "",
        el("div", {}, el("strong", {}, `MEOW #${nft.token_id}`), " ", meow?.mood ?? ""),
        meow ? playButton(meow.audio_cid) : "",
        el("a", { href: ipfsUrl(cidOf(nft.token_uri)), target: "_blank", class: "hint" }, "metadata"),
        el("div", { class: "hint" }, nft.voucher_id && nft.voucher_id !== "0" ? "redeemed voucher" : "server mint"),
      );
    }),
  );
  box.replaceChildren(el("div", { class: "nfts" }, cards));
}

// ---------------------------------------------------------------- start

function wireInputs() {
  const preview = $("upload-preview");
  const setUpload = (blob) => {
    state.upload = blob;
    preview.src = URL.createObjectURL(blob);
    preview.hidden = false;
    refreshButtons();
  };
  wireRecorder($("rec-btn"), $("rec-status"), setUpload, showError);
  $("file-input").addEventListener("change", (ev) => {
    const file = ev.target.files?.[0];
    if (file) setUpload(file);
  });
  const setVoice = (blob) => {
    state.voice = blob;
    refreshButtons();
  };
  wireRecorder($("voice-rec-btn"), $("voice-rec-status"), setVoice, showError);
  $("voice-file").addEventListener("change", (ev) => {
    const file = ev.target.files?.[0];
    if (file) setVoice(file);
  });

  action($("connect-btn"), async () => afterConnect(await connect()));
  action($("switch-btn"), async () => {
    await switchToChain(await chainInfo());
    state.walletChain = await walletChainId();
    renderWallet();
    if (state.walletChain === state.chain.chain_id) notify(`Switched to chain ${state.walletChain}.`, "ok");
  });
  action($("signin-btn"), doSignIn);
  action($("signout-btn"), async () => {
    await api("/v1/auth/logout", { method: "POST" });
    state.session = null;
    renderWallet();
  });
  action($("upload-btn"), doUpload);
  action($("meow-btn"), doMeow);
  action($("catify-btn"), doCatify);
  action($("mine-refresh"), loadMine);
  $("notice-close").addEventListener("click", () => ($("notice").hidden = true));

  $("dataset-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const data = new FormData(ev.target);
    state.datasetQuery = Object.fromEntries([...data.entries()].map(([k, v]) => [k, String(v).trim()]));
    loadDataset(0);
  });
  $("dataset-prev").addEventListener("click", () => loadDataset(Math.max(0, state.datasetOffset - 20)));
  $("dataset-next").addEventListener("click", () => state.datasetNext !== null && loadDataset(state.datasetNext));

  onWalletChange(async (change) => {
    if (change.accounts) {
      const next = change.accounts[0] ?? null;
      if (next !== state.address) {
        state.address = next;
        if (state.session && state.session !== next) notify("Your wallet switched accounts: sign in again.", "warn");
      }
    }
    if (change.chainId !== undefined) state.walletChain = change.chainId;
    renderWallet();
    loadMine();
  });
}

async function start() {
  window.addEventListener("error", (ev) => showError(ev.error ?? new Error(ev.message)));
  window.addEventListener("unhandledrejection", (ev) => showError(ev.reason));
  wireInputs();
  renderWallet();
  if (!injected()) {
    notify(
      "No browser wallet found: you can browse the dataset; install a wallet (e.g. MetaMask) to contribute.",
      "warn",
      "no_wallet",
    );
  }
  if (!(await checkBackend())) {
    document.body.dataset.ready = "1";
    return;
  }
  try {
    await Promise.all([restoreSession(), loadMoods()]);
    const known = await accounts();
    if (known.length) await afterConnect(known[0]);
    renderWallet();
    await loadDataset(0);
  } catch (err) {
    showError(err);
  }
  document.body.dataset.ready = "1";
}

start();
