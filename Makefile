# The front door. Every target is one line that calls the CLI; `make setup` runs first.
SWEEP ?= sweep.yaml
RESULTS ?=
ADDRESS ?=
NODES ?=
KEYS ?=
PORT ?=
PYTHON ?= python3
CLASSIFIER ?= results/classifier/mnist
BUNDLE ?= build/gpu-bundle
CHECK_ARGS ?=
FAMILIES ?=
OUT ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
comma := ,
ARGS := -c $(SWEEP) $(if $(RESULTS),--results $(RESULTS),)

.PHONY: setup test test-slow plan classifier grid status collect histograms losses curves dashboard \
	tensorboard optuna-dashboard bench gpu-bundle gpu-check clean sbatch

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

test: setup
	$(BIN)/python -m pytest -q

test-slow: setup
	$(BIN)/python -m pytest -q -m slow

plan: setup
	$(BIN)/sweep plan $(ARGS)

classifier: setup
	$(BIN)/sweep classifier $(ARGS)

grid: setup
	$(BIN)/sweep grid $(ARGS) $(if $(ADDRESS),--address $(ADDRESS),)

status: setup
	$(BIN)/sweep status $(ARGS)

collect: setup
	$(BIN)/sweep collect $(ARGS)

histograms: setup
	$(BIN)/sweep histograms $(ARGS) $(if $(FAMILIES),--families $(FAMILIES),) $(if $(OUT),--out $(OUT),)

# The six losses on a CPU-sized slice of Table 1 (examples/losses.yaml, ~30 min on 2 cores);
# its figures and summary go to docs/losses/.
losses: setup
	$(MAKE) grid histograms SWEEP=examples/losses.yaml OUT=docs/losses

curves: setup
	$(BIN)/sweep curves $(ARGS) $(KEYS)

dashboard: setup
	$(BIN)/sweep dashboard $(if $(ADDRESS),--address $(ADDRESS),)

tensorboard: setup
	$(BIN)/sweep tensorboard $(ARGS) $(if $(PORT),--port $(PORT),)

optuna-dashboard: setup
	$(BIN)/sweep optuna-dashboard $(ARGS) $(if $(PORT),--port $(PORT),)

sbatch: setup
	sbatch $(if $(NODES),--nodes=$(NODES),) --export=ALL,SWEEP=$(SWEEP)$(if $(RESULTS),$(comma)RESULTS=$(RESULTS),) examples/slurm/grid.sbatch

bench: setup
	$(BIN)/python -m bench.run -c $(SWEEP) $(if $(RESULTS),--results $(RESULTS),)

# The GPU check's data (MNIST digits, the full-MNIST classifier and its FD reference), made
# here to travel with the tree; the classifier is trained first when missing (MNIST_ROOT).
gpu-bundle: setup $(CLASSIFIER)/manifest.json
	$(BIN)/python -m bench.gpu_bundle --classifier $(CLASSIFIER) --out $(BUNDLE)

$(CLASSIFIER)/manifest.json: | setup
	$(BIN)/sweep classifier $(ARGS) --out $(CLASSIFIER)

# No setup: a GPU image has PyTorch and no venv. CHECK_ARGS="--cpu" rehearses it here.
gpu-check:
	$(PYTHON) bench/gpu_check.py --bundle $(BUNDLE) $(CHECK_ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
