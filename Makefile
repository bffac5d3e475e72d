# make run   - create/reuse .venv, install what is missing, start the app on the embedded defaults
# make test  - create/reuse .venv, install what is missing, run every test layer
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test venv bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Reinstall only when a requirements file changed (stamp file).
$(VENV)/.stamp-deps: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.stamp-deps

run: venv
	$(PY) -m streamlit run app.py --server.headless true --browser.gatherUsageStats false

test: venv
	$(PY) -m pytest -q

bench: venv
	$(PY) bench/learning_curves.py

clean:
	rm -rf $(VENV)
