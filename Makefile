# The two commands of the README are `make demo` and `make test`; both set up first.
.PHONY: setup demo test test-python test-contracts lint contracts

VENV := .venv/bin

setup:
	@bash scripts/setup.sh

## Run the local stack and the demo (upload -> on-chain label, a minted meow).
demo: setup
	@bash scripts/demo.sh

## Every test: Foundry (fuzz at >= 1,000 runs) then pytest (real anvil, IPFS, Redis, databases).
test: setup
	@bash scripts/test.sh

test-contracts: setup
	@bash scripts/forge.sh test

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

contracts: setup
	@$(VENV)/python -m backend.chain.build
