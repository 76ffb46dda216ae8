# Thin wrapper around CMake. `make` builds into build/ and leaves ./train, ./eval and ./ckpt here.
#   make            build (Release, -O3; one binary for every x86-64, kernels chosen at run time; NATIVE=1 adds -march=native)
#   make test       install what is missing, build, run every test (ctest)
#   make data       fetch MNIST into data/mnist
#   make run        install, fetch, build, train with the defaults, evaluate
#   make bench      side-by-side speed benchmark against the PyTorch port
#   make plot       draw $(CKPT_DIR)/metrics.jsonl into curves.png (loss, accuracy, resumes)
#   make fuzz       every libFuzzer target of fuzz/ for FUZZ_SECONDS seconds each (clang, build-fuzz/)
#   make sanitize   ASan+UBSan build (build-sanitize/): every test and the end-to-end scripts; TSan
#                   (build-tsan/) on the background saver and the lock
BUILD ?= build
JOBS ?= $(shell nproc)
CKPT_DIR ?= ckpt_dir
CMAKE_FLAGS := -DCMAKE_BUILD_TYPE=Release $(if $(NATIVE),-DMNIST_NATIVE=ON,-DMNIST_NATIVE=OFF)
PROGRAMS := train eval ckpt predict board
PYTHON ?= /usr/bin/python3
FUZZ_SECONDS ?= 60

.PHONY: all build deps data test run bench crash-test plot fuzz sanitize clean

all: build

build:
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) > /dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@for p in $(PROGRAMS); do if [ -f $(BUILD)/$$p ]; then ln -sf $(BUILD)/$$p $$p; fi; done

deps:
	bash scripts/setup/install_deps.sh

data:
	bash scripts/setup/fetch_mnist.sh data/mnist

test: deps
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

run: deps data
	$(MAKE) build
	./train --ckpt_dir $(CKPT_DIR)
	./eval --ckpt_dir $(CKPT_DIR)

bench: deps data
	bash bench/bench.sh

plot:
	bash scripts/setup/install_deps.sh --with-plot
	$(PYTHON) scripts/tools/plot_metrics.py $(CKPT_DIR) -o curves.png

crash-test: build
	bash tests/e2e/crash_test.sh 20

fuzz:
	bash scripts/setup/install_deps.sh --with-fuzz
	JOBS=$(JOBS) bash fuzz/run.sh $(FUZZ_SECONDS)

sanitize: deps data
	JOBS=$(JOBS) bash tests/sanitize.sh

clean:
	rm -rf $(BUILD) $(PROGRAMS)
