# Quick start: `make demo` then `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Preprocess the bundled fixtures (log-mels at 16 kHz, decimated by 2). broken/ holds files
# that must fail; it is left out here so that the demo exits 0 (see README for a run with it).
demo: $(STAMP)
	$(BIN)/seqdown preprocess audio_fixtures build/demo --sample-rate 16000 --features logmel \
		--frontend decimate:2 --exclude 'broken/*'

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_resample.py
	$(BIN)/python benchmarks/bench_first_call.py
	$(BIN)/python benchmarks/bench_decimate.py
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_streaming.py

clean:
	rm -rf build .pytest_cache .ruff_cache
