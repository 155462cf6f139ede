# neurosig: `make demo` and `make test` work on a fresh clone; both create .venv themselves.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.neurosig-installed
export MPLBACKEND ?= Agg

.PHONY: demo test test-all bench lint clean figures docs

$(STAMP): pyproject.toml scripts/bootstrap-venv.sh
	bash scripts/bootstrap-venv.sh $(VENV)
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m neurosig demo --out results/demo

# The shipped study (analyses/studies/sigprop-vs-bp-digits.toml) in quick mode: its four sweeps
# with 2 seeds, 5 epochs, 600 samples, then the figure results/figures/sigprop-vs-bp-digits-quick.*
# (docs/figures.md). The full figure: the same command without --quick.
figures: $(STAMP)
	$(PY) -m neurosig figures --study analyses/studies/sigprop-vs-bp-digits.toml --quick \
		--out results/figures

# The documentation site (mkdocs.yml) into site/, the tutorials (notebooks/) executed in their
# quick mode; tests/test_docs.py builds it with --strict without executing them.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 NEUROSIG_DOCS_EXECUTE=true NEUROSIG_QUICK=1 \
		NEUROSIG_OUTPUT=$(CURDIR)/build/docs-output $(VENV)/bin/mkdocs build --strict

# One pytest worker per core, a test file per worker at a time (its module fixtures and compiled
# programs stay together); PYTEST_WORKERS=0 runs in this process (docs/speed.md).
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL = $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_PARALLEL)

test-all: $(STAMP)
	$(PY) -m pytest -m "" $(PYTEST_PARALLEL)

# The published tables: about 3 h on 2 cores (see benchmarks/results/*.md for the commands).
bench: $(STAMP)
	$(PY) benchmarks/throughput.py --network mnist1d
	$(PY) benchmarks/throughput.py --network fashion-mnist
	$(PY) benchmarks/accuracy.py --datasets mnist1d --seeds 5 --jobs 2
	$(PY) benchmarks/accuracy.py --datasets fashion-mnist --seeds 1 --jobs 2 --append
	$(PY) benchmarks/accuracy.py --datasets mnist1d fashion-mnist --models \
		--variant rate-sigprop:model=rate-sigprop \
		--seeds-per-dataset mnist1d=5 fashion-mnist=1 --jobs 2 --append
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/accuracy.py --datasets mnist1d fashion-mnist --models \
		--variant lif-sigprop:model=lif-sigprop \
		--variant lif-surrogate:model=lif-sigprop,rule=sp-surrogate \
		--seeds-per-dataset mnist1d=5 fashion-mnist=1 --jobs 2 --append
	$(PY) benchmarks/lif_speed.py

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) results build site *.egg-info
