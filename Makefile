# Two commands for a fresh machine: `make run` (the app) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501

.PHONY: run test mnist bench weights clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Stamp files make re-installs happen only when a requirements file changes.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

mnist: $(VENV)/.runtime
	$(BIN)/python -m mlp.data

# The app works without MNIST (Draw uses the shipped weights), so a failed fetch only warns.
run: $(VENV)/.runtime
	@$(BIN)/python -m mlp.data || echo "warning: MNIST could not be fetched; Draw works, training needs it"
	$(BIN)/streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

# Lint first (ruff.toml), then every test; `$(BIN)/python -m pytest -m "not slow and not browser"` is the quick subset.
test: $(VENV)/.dev mnist
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

bench: $(VENV)/.dev mnist
	$(BIN)/python -m pip install -q -r requirements-bench.txt
	$(BIN)/python bench/speed.py
	$(BIN)/python bench/drawn_digits.py
	$(BIN)/python bench/draw_rerun.py

clean:
	rm -rf $(VENV) .pytest_cache
