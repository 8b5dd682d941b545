# Makefile — the two commands of the README: `make run` (the demo) and `make test` (CI's command).
# Everything real lives in CMake; this file installs what is missing and strings the steps together.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= 2
CMAKE_ARGS ?=
PYTHON     ?= python3
PY_ENV     ?= build-pyenv

.PHONY: all build run test test-c test-asan test-python test-gpu deps install clean

all: build

# Debian packages the build needs (present on the project's machines; installed if missing).
deps:
	@missing=""; \
	for t in cmake:cmake gcc:build-essential make:make; do \
	  command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t##*:}"; \
	done; \
	[ -f /usr/include/zlib.h ] || missing="$$missing zlib1g-dev"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; apt-get update -qq && apt-get install -y -qq $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)
	cmake --build $(BUILD) -j $(JOBS)

# The demo replays the testbed model's recorded attention trajectory when it is committed, else
# the demo's synthetic one (and says so).
TRAJECTORY ?= testbed/trajectory/main.latraj
run: build
	@mkdir -p out
	@if [ -f "$(TRAJECTORY)" ]; then \
	  echo "./$(BUILD)/demo/liteattn-demo --trajectory $(TRAJECTORY) --png out/demo_mask.png"; \
	  ./$(BUILD)/demo/liteattn-demo --trajectory "$(TRAJECTORY)" --png out/demo_mask.png; \
	else \
	  echo "make run: $(TRAJECTORY) not found (no recorded trajectory committed yet):" \
	    "replaying the synthetic trajectory instead"; \
	  ./$(BUILD)/demo/liteattn-demo --png out/demo_mask.png; \
	fi

test-c: build
	ctest --test-dir $(BUILD) -L quick --output-on-failure -j $(JOBS)

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLITEATTN_SANITIZE=ON \
	  -DLITEATTN_CUDA=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) -L quick --output-on-failure -j $(JOBS)

# GPU tests run only where a GPU answers (never in CI, which has none).
test-gpu: build
	@if nvidia-smi -L >/dev/null 2>&1; then \
	  ctest --test-dir $(BUILD) -L gpu --output-on-failure; \
	else echo "test-gpu: no GPU on this machine; GPU tests run through scripts/gpu_check.sh"; fi

# Python layer: a venv with torch/diffusers from PyPI (large: ~5.5 GB, 2.5-5 min here), then the
# CPU pytest suite against the library built above. CUDA-side Python tests: scripts/gpu_check.sh.
test-python: build
	test -x $(PY_ENV)/bin/python || $(PYTHON) -m venv $(PY_ENV)
	$(PY_ENV)/bin/pip install -q -r python/requirements-test.txt
	LITEATTN_LIBRARY=$(abspath $(BUILD))/libliteattn.so $(PY_ENV)/bin/pip install -q ./python
	$(PY_ENV)/bin/python -m pytest -q python/tests testbed/tests

test: test-gpu test-c test-asan test-python

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) out
