"""Chain layer: compiled artifacts, a web3 client with a concurrency-safe signer, typed contract calls."""
