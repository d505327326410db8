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
	$(BIN)/python -m mlp.fetch

# The app works without MNIST (Draw uses the shipped weights), so a failed fetch only warns.
# MALLOC_ARENA_MAX=2: glibc otherwise gives each thread that allocates its own malloc arena, and memory
# freed by passing sessions stays held in them (bench/session_memory.py measures it).
run: $(VENV)/.runtime
	@$(BIN)/python -m mlp.fetch || echo "warning: MNIST could not be fetched; Draw works, training needs it"
	MALLOC_ARENA_MAX=2 $(BIN)/streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

# A class on several cores: one app process per core behind HAProxy (docs/serving.md).
# PROCESSES=n to choose how many; Ctrl-C stops them all.
.PHONY: classroom
classroom: $(VENV)/.runtime
	@$(BIN)/python -m mlp.fetch || echo "warning: MNIST could not be fetched; Draw works, training needs it"
	$(BIN)/python -m deploy.classroom --port $(PORT) $(if $(PROCESSES),--processes $(PROCESSES))

# Lint first (ruff.toml), then every test; `$(BIN)/python -m pytest -m "not slow and not browser"` is the quick subset.
test: $(VENV)/.dev mnist
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

bench: $(VENV)/.dev mnist
	$(BIN)/python -m pip install -q -r requirements-bench.txt
	$(BIN)/python bench/speed.py
	$(BIN)/python bench/drawn_digits.py
	$(BIN)/python bench/draw_rerun.py
	$(BIN)/python bench/my_digits.py

clean:
	rm -rf $(VENV) .pytest_cache
