# Thin wrapper around CMake for the two README commands (`make demo`, `make test`).
MAKEFLAGS += --no-print-directory
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
PY := .venv/bin/python
PYTEST_ARGS ?= -m "slow or not slow"

.PHONY: all setup build build-asan demo test test-c test-py test-asan bench clean

all: build

setup:
	bash scripts/setup.sh

build: setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan: setup
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DR2H_SANITIZE=ON -DR2H_WERROR=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

demo: build
	bash scripts/demo.sh

test-c: build
	cd $(BUILD) && ctest --output-on-failure

test-asan: build-asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure

test-py: build
	bash scripts/fetch_testdata.sh >/dev/null
	R2H_BUILD_DIR=$(abspath $(BUILD)) $(PY) -m pytest -q $(PYTEST_ARGS)

test: test-c test-asan test-py

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) demo-out
