// The page's shared core: its state, the message banner, button actions, the backend's status,
// the chain checks and the wallet bar. The sections (contribute, meows, browse) build on it.
import { AppError, api, backendWatch } from "./api.js";
import { $, short } from "./dom.js";
import { walletChainId } from "./wallet.js";

export const state = {
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
export function notify(text, kind = "error", code = "") {
  const box = $("notice");
  box.className = `notice ${kind}`;
  box.dataset.kind = kind;
  box.dataset.code = code;
  $("notice-text").textContent = text;
  box.hidden = false;
  clearTimeout(notify.timer);
  if (kind !== "error") notify.timer = setTimeout(() => (box.hidden = true), 8000);
}

export function showError(err) {
  console.error(err);
  if (err?.name === "AbortError") return;
  const code = err instanceof AppError ? err.code : "unexpected";
  if (err instanceof AppError && err.status === 401) {
    // the session cookie is missing or expired (the API says which): back to "Sign in"
    state.session = null;
    renderWallet();
    notify(`You are not signed in (${err.message}). Press "Sign in" and try again.`, "error", "not_signed_in");
    return;
  }
  notify(err instanceof AppError ? err.message : `Something went wrong: ${err?.message ?? err}`, "error", code);
  if (code === "backend_down") setBackendStatus(false);
}

/** Run a button's action: disabled while it runs, any error shown. */
export function action(button, fn) {
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

export function setBackendStatus(ok, detail = "") {
  const pill = $("backend-status");
  pill.textContent = ok ? `backend: ${detail || "ok"}` : "backend: not answering";
  pill.className = `pill ${ok ? (detail === "degraded" ? "warn" : "ok") : "bad"}`;
  pill.dataset.state = ok ? detail || "ok" : "down";
}

// any answer from the API after it was down puts the status back
backendWatch.onUp = () => $("backend-status").dataset.state === "down" && checkBackend();

export async function checkBackend() {
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
export async function chainInfo() {
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
export async function requireChain(doing) {
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

export function requireSignedIn(doing) {
  if (!state.address) throw new AppError("not_connected", `Connect your wallet before ${doing}.`);
  if (!state.session || state.session !== state.address) {
    throw new AppError("not_signed_in", `Sign in with your wallet before ${doing}.`);
  }
}

// ---------------------------------------------------------------- the wallet bar and buttons

export function renderWallet() {
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

export function refreshButtons() {
  const signedIn = Boolean(state.address && state.session === state.address);
  $("upload-btn").disabled = !state.upload || !signedIn || Boolean($("upload-btn").dataset.busy);
  $("meow-btn").disabled = !signedIn || Boolean($("meow-btn").dataset.busy);
  $("catify-btn").disabled = !state.voice || !signedIn || Boolean($("catify-btn").dataset.busy);
  $("upload-btn").title = signedIn ? "" : "Sign in first";
  $("meow-btn").title = signedIn ? "" : "Sign in first";
}
