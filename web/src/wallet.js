// The injected EIP-1193 wallet (window.ethereum), through viem: connect, chain checks and
// switching, SIWE and EIP-712 signatures, contract transactions. Wallet errors become AppErrors
// with messages a person can act on (rejected, wrong chain, reverted).
import {
  BaseError,
  ContractFunctionRevertedError,
  UserRejectedRequestError,
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
  getAddress,
} from "viem";
import { createSiweMessage } from "viem/siwe";

import { AppError } from "./api.js";

/** The injected provider, or null when the browser has no wallet. */
export function injected() {
  return typeof window !== "undefined" && window.ethereum ? window.ethereum : null;
}

function provider() {
  const eth = injected();
  if (!eth) {
    throw new AppError(
      "no_wallet",
      "No browser wallet found. Install one (e.g. MetaMask or Rabby), then reload this page.",
    );
  }
  return eth;
}

/** A viem chain for the backend's chain (from GET /v1/chain or the sign-in nonce). */
export function chainFor(info) {
  return defineChain({
    id: info.chain_id,
    name: info.chain_id === 31337 ? "MIAO local (anvil)" : `MIAO chain ${info.chain_id}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: info.rpc_url ? [info.rpc_url] : [] } },
  });
}

/** Translate a wallet/viem error into an AppError (4001 = the user said no). */
export function walletError(err, doing) {
  if (err instanceof AppError) return err;
  const code = err?.code ?? err?.cause?.code;
  const rejected =
    code === 4001 ||
    err instanceof UserRejectedRequestError ||
    (err instanceof BaseError && err.walk((e) => e instanceof UserRejectedRequestError || e?.code === 4001));
  if (rejected) {
    return new AppError("rejected", `You rejected ${doing} in your wallet: nothing was signed or sent.`);
  }
  if (err?.name === "ChainMismatchError" || (err instanceof BaseError && err.walk((e) => e?.name === "ChainMismatchError"))) {
    return new AppError("wrong_chain", `Your wallet is on another chain: switch to the MIAO chain to ${doing}.`);
  }
  if (err instanceof BaseError) {
    const revert = err.walk((e) => e instanceof ContractFunctionRevertedError);
    if (revert) {
      const name = revert.data?.errorName;
      const args = revert.data?.args ? `(${revert.data.args.map(String).join(", ")})` : "";
      return new AppError("reverted", `The contract refused ${doing}: ${name ? name + args : revert.shortMessage}`);
    }
    return new AppError("wallet_error", `${doing} failed: ${err.shortMessage}`);
  }
  return new AppError("wallet_error", `${doing} failed: ${err?.message ?? String(err)}`);
}

async function request(method, params, doing) {
  try {
    return await provider().request({ method, params });
  } catch (err) {
    throw walletError(err, doing);
  }
}

/** Ask the wallet for its account (opens the wallet's connect prompt). */
export async function connect() {
  const accounts = await request("eth_requestAccounts", [], "connecting");
  if (!accounts?.length) throw new AppError("no_account", "The wallet shared no account.");
  return getAddress(accounts[0]);
}

/** Accounts already shared with this page (no prompt). */
export async function accounts() {
  const eth = injected();
  if (!eth) return [];
  try {
    return ((await eth.request({ method: "eth_accounts" })) ?? []).map((a) => getAddress(a));
  } catch {
    return [];
  }
}

/** The wallet's current chain id (a number). */
export async function walletChainId() {
  return Number.parseInt(await request("eth_chainId", [], "reading the chain"), 16);
}

/**
 * Move the wallet to the backend's chain; adds it first when the wallet does not know it (4902).
 * @param {{chain_id: number, rpc_url?: string}} info
 */
export async function switchToChain(info) {
  const chainId = `0x${info.chain_id.toString(16)}`;
  try {
    await provider().request({ method: "wallet_switchEthereumChain", params: [{ chainId }] });
  } catch (err) {
    const code = err?.code ?? err?.data?.originalError?.code;
    if (code !== 4902) throw walletError(err, "switching the chain");
    if (!info.rpc_url) {
      throw new AppError("unknown_chain", `Your wallet does not know chain ${info.chain_id}; add it by hand.`);
    }
    const chain = chainFor(info);
    await request(
      "wallet_addEthereumChain",
      [{ chainId, chainName: chain.name, nativeCurrency: chain.nativeCurrency, rpcUrls: [info.rpc_url] }],
      "adding the chain",
    );
  }
}

/** Subscribe to the wallet's account and chain changes (EIP-1193 events). */
export function onWalletChange(handler) {
  const eth = injected();
  if (!eth?.on) return;
  eth.on("accountsChanged", (list) => handler({ accounts: (list ?? []).map((a) => getAddress(a)) }));
  eth.on("chainChanged", (hex) => handler({ chainId: Number.parseInt(hex, 16) }));
}

/**
 * An EIP-4361 message for the backend's nonce, signed with personal_sign.
 * The domain is the one the backend checks (it names it with the nonce); the URI is this page.
 */
export async function signIn(address, chainId, nonce) {
  const now = new Date();
  const message = createSiweMessage({
    address,
    chainId,
    domain: nonce.domain,
    nonce: nonce.nonce,
    uri: `${window.location.origin}/`,
    version: "1",
    statement: "Sign in to MIAO AI.",
    issuedAt: now,
    expirationTime: new Date(now.getTime() + 10 * 60 * 1000),
  });
  const client = createWalletClient({ account: address, transport: custom(provider()) });
  try {
    const signature = await client.signMessage({ account: address, message });
    return { message, signature };
  } catch (err) {
    throw walletError(err, "the sign-in message");
  }
}

/** Sign EIP-712 typed data exactly as the backend sent it (eth_signTypedData_v4). */
export async function signTypedDataV4(address, typedData, doing) {
  return request("eth_signTypedData_v4", [address, JSON.stringify(typedData)], doing);
}

/**
 * Send a contract call from the wallet (it pays the gas) and wait for its receipt.
 * @returns {Promise<{hash: string, receipt: any}>}
 */
export async function sendContractTx(address, info, { abi, contract, functionName, args }, doing) {
  const chain = chainFor(info);
  const transport = custom(provider());
  const wallet = createWalletClient({ account: address, chain, transport });
  const reader = createPublicClient({ chain, transport });
  let hash;
  try {
    // simulate first: a revert is explained before the wallet is asked to pay for it
    const { request: prepared } = await reader.simulateContract({
      account: address,
      address: contract,
      abi,
      functionName,
      args,
    });
    hash = await wallet.writeContract(prepared);
  } catch (err) {
    throw walletError(err, doing);
  }
  const receipt = await reader.waitForTransactionReceipt({ hash, timeout: 60_000 });
  if (receipt.status !== "success") {
    throw new AppError("reverted", `${doing}: transaction ${hash} reverted.`);
  }
  return { hash, receipt };
}
