// The MIAO AI DApp: wallet + SIWE sign-in, contribute a sound (relayed or direct registration)
// with live labelling progress, make a meow (mood or voice), mint it (server or voucher), browse
// the open dataset, and your own sounds and NFTs. Every failure ends in a message (#notice).
import { AppError, api } from "./api.js";
import {
  action,
  chainInfo,
  checkBackend,
  notify,
  refreshButtons,
  renderWallet,
  requireChain,
  showError,
  state,
} from "./app.js";
import { loadDataset, loadMine } from "./browse.js";
import { doUpload } from "./contribute.js";
import { $, short } from "./dom.js";
import { doCatify, doMeow, loadMoods } from "./meows.js";
import { wireRecorder } from "./recorder.js";
import "./style.css";
import { accounts, connect, injected, onWalletChange, signIn, switchToChain, walletChainId } from "./wallet.js";

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

/** A sound source: its record button and its file input both hand a blob to `onBlob`. */
function wireSource(recId, statusId, fileId, onBlob) {
  wireRecorder($(recId), $(statusId), onBlob, showError);
  $(fileId).addEventListener("change", (ev) => {
    const file = ev.target.files?.[0];
    if (file) onBlob(file);
  });
}

function wireInputs() {
  const preview = $("upload-preview");
  const setUpload = (blob) => {
    state.upload = blob;
    preview.src = URL.createObjectURL(blob);
    preview.hidden = false;
    refreshButtons();
  };
  const setVoice = (blob) => {
    state.voice = blob;
    refreshButtons();
  };
  wireSource("rec-btn", "rec-status", "file-input", setUpload);
  wireSource("voice-rec-btn", "voice-rec-status", "voice-file", setVoice);

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
