# make run   - create/reuse .venv, install what is missing, start the app on the embedded defaults
# make test  - create/reuse .venv, install what is missing, run every test layer
# make venv  - only create/update .venv (requirements + the project, `pip install -e .`)
# make bench - every benchmark in bench/ (not part of `make test`): performance tables, then learning curves
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test venv bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Reinstall only when a requirements file or pyproject.toml changed (stamp file). torch first,
# at requirements.txt's exact pin (served from local disk; a looser resolve may pull a CUDA
# build); then the test tools; then the project itself, editable (`pip install -e .`), which
# installs requirements.txt as its dependencies.
$(VENV)/.stamp-deps: requirements.txt requirements-dev.txt pyproject.toml | $(PY)
	$(PY) -m pip install -q "$$(grep -E '^torch==' requirements.txt)"
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q -e .
	touch $@

venv: $(VENV)/.stamp-deps

run: venv
	$(PY) -m streamlit run app.py --server.headless true --browser.gatherUsageStats false

test: venv
	$(PY) -m pytest -q

# Each script prints a table: figure, target, a baseline measured in the same run, ratio.
BENCHES := encoder features startup retrain compare_round scale embed_and_score learning_curves
bench: venv
	@set -e; for b in $(BENCHES); do echo "== bench/$$b.py"; $(PY) bench/$$b.py; done

clean:
	rm -rf $(VENV)
