# The two commands of the README: `make demo` (the main job on a small default) and
# `make test` (the test suite). Both install everything they need on a fresh Debian
# machine: the GL/X libraries MuJoCo and Blender load, then a virtual environment.

PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
DATA   ?= data
# MuJoCo offscreen (EGL, or OSMesa as fallback), bpy's X/GL client libraries, and headless
# Chromium for the leaderboard page test.
SYSTEM_PACKAGES := libegl1 libgl1 libosmesa6 libx11-6 libxrender1 libxfixes3 libxi6 libxkbcommon0 libsm6 chromium

.PHONY: demo official reference test bench install system-deps clean

RESULTS ?= results/demo
SITE    ?= site
# The demo's tracks: the two toy tracks take about 3 minutes on 2 cores; each image track
# adds 10 to 15 (e.g. make demo TRACKS="toy-son-tris-v1 causal-circuit-tris-v1").
TRACKS  ?= toy-son-pairs-v1 toy-son-tris-v1
# Extra sweep options (make official passes --official: records need a clean checkout).
SWEEP_OPTS ?=

# The main job on the smoke tier: generate the track datasets, train every baseline on
# every seed, score them, build the leaderboard (printed, and as $(SITE)/index.html).
demo: install
	@for t in $(TRACKS); do $(VENV)/bin/crlbench sweep --protocol $$t --workers 2 --data $(DATA) --results $(RESULTS) $(SWEEP_OPTS) || exit 1; done
	$(VENV)/bin/crlbench verify --regenerate $(DATA)/smoke/*.h5
	$(VENV)/bin/crlbench leaderboard build $(RESULTS) --out $(SITE) --data $(DATA)/smoke

# The official smoke results shipped in results/smoke: every track (about an hour on 2 cores).
official: install
	$(MAKE) demo TRACKS="$$($(VENV)/bin/crlbench tracks --ids --tier smoke)" RESULTS=results/smoke SITE=$(SITE)-official SWEEP_OPTS=--official
	cp $(SITE)-official/results.md $(SITE)-official/results.csv results/smoke/

# The cpu tier's reference results in results/cpu: every official baseline of every track,
# every seed and graph, 2 workers (sized for about 4 hours on 2 idle cores; docs/leaderboard.md,
# "Tiers"). Resumable: finished runs are kept, a killed run resumes from its checkpoint, so
# rerunning after an interruption continues; each sweep prints runs done of all and the time.
# Then the table and the page: $(REFERENCE)/results.md, results.csv and $(SITE)-cpu/index.html.
# The shipped records are kept; to reproduce them all, give an empty folder
# (make reference REFERENCE=/tmp/cpu-tier).
REFERENCE ?= results/cpu
reference: install
	@tracks="$$($(VENV)/bin/crlbench tracks --ids --tier cpu)"; n=$$(echo $$tracks | wc -w); i=0; 	for t in $$tracks; do i=$$((i + 1)); echo "== reference: track $$i/$$n: $$t (cpu tier)"; 	  $(VENV)/bin/crlbench sweep --protocol $$t --tier cpu --workers 2 --data $(DATA) --results $(REFERENCE) $(SWEEP_OPTS) || exit 1; done
	$(VENV)/bin/crlbench leaderboard build $(REFERENCE) --out $(SITE)-cpu --data $(DATA)/cpu
	cp $(SITE)-cpu/results.md $(SITE)-cpu/results.csv $(REFERENCE)/

# Lint, format and type checks first (settings in pyproject.toml), then the tests.
test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy crlbench
	$(PY) -m pytest -q

bench: install
	$(PY) -m pytest benchmarks --benchmark-enable --benchmark-only -p no:cacheprovider

install: $(VENV)/.installed

system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# torch first, pinned: where the package index serves a CPU build of `torch==2.13.0` this
# stays small, while an unpinned torch can pull several GB of CUDA packages.
$(VENV)/.installed: pyproject.toml constraints.txt | system-deps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e ".[test,blender,ray]"
	touch $@

clean:
	rm -rf $(VENV) data results/demo results/demo-runs results/cpu-runs site .pytest_cache .benchmarks
