# Thin wrapper over the CMake presets in CMakePresets.json.
#   make run      install what is missing, build, start the demo pipeline with the dashboard
#   make web      build the dashboard (web/ and uPlot from node_modules) into web/dist
#   make test     install what is missing, build, run every test
#   make bench    build and run the benchmarks (results: BENCHMARKS.md)
#   make release | debug | asan   build one preset
#   make format   clang-format every source file; make lint checks layering rules
PRESET ?= release
JOBS ?= $(shell nproc)
BUILD := build/$(PRESET)

.PHONY: all deps build release debug asan web run test unit bench format lint clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	cmake --preset $(PRESET)

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

release:
	$(MAKE) build PRESET=release
debug:
	$(MAKE) build PRESET=debug
asan:
	$(MAKE) build PRESET=asan

web: deps
	@scripts/build-web

run: deps build web
	$(BUILD)/bin/weir run examples/quickstart.yaml --web-dir web/dist --data-dir .weir/quickstart

test: deps build web lint
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure --timeout 900

unit: build
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure -L unit

bench:
	@scripts/install-deps --bench
	$(MAKE) build
	scripts/bench $(BUILD)

format:
	find src tests bench -name '*.cc' -o -name '*.h' | xargs clang-format -i

lint:
	@scripts/lint

clean:
	rm -rf build
