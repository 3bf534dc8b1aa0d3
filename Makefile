# medtrain Makefile. Two commands do all set-up on a fresh Debian machine:
#   make demo   installs the Debian packages, builds, trains the S1 U-Net on the shipped CT sample
#   make test   installs, builds (CUDA too when nvcc + cuDNN exist) and runs every test
# Other targets: all (library + CLI + the data-parallel plugins), bench, fixtures (regenerate PyTorch fixtures), clean,
#   test-sanitize (ASan+UBSan test subset), fuzz (libFuzzer harnesses, tests/fuzz/README.md).
# Sources are found by wildcard: a new core/ops/foo.c (and its twin foo.cu) needs no edit here.

SHELL := /bin/bash
BUILD ?= build
CC ?= cc
CXX ?= c++
CUDA_HOME ?= /usr/local/cuda
NVCC ?= $(CUDA_HOME)/bin/nvcc
PYTHON ?= /usr/bin/python3

# Debian packages medtrain builds and tests with (installed by `make deps`).
DEB_BUILD := build-essential pkg-config libopenblas-dev libdnnl-dev libhdf5-dev hdf5-tools libyaml-dev libpng-dev \
             libtiff-dev libjpeg-dev libgdcm-dev libgdcm-tools libnifti2-dev zlib1g-dev \
             libcjson-dev libonnx-dev protobuf-c-compiler libprotobuf-c-dev libcairo2-dev fonts-dejavu-core \
             libopencv-dev libopenmpi-dev openmpi-bin
# Only needed to regenerate fixtures / run the PyTorch peers and cross-checks (scikit-learn: the
# classification-metric fixtures; dataset-fashion-mnist: experiments/fashion_mnist and test_idx).
DEB_PY := python3-torch python3-numpy python3-h5py python3-pydicom python3-nibabel python3-pil python3-onnx \
          python3-torchvision python3-sklearn dataset-fashion-mnist
# Only for the Slurm backend's test (tests/test_sweep_slurm.c): a private single-node Slurm that
# tests/slurm/start.sh starts and stop.sh stops (no systemd needed); the test skips without them.
DEB_SLURM := slurm-wlm munge

PKGS := hdf5 openblas yaml-0.1 libpng libtiff-4 libjpeg cairo
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# OpenCV (semi-automatic labeling, data/cv_seg.cpp only): the core and imgproc modules, not the
# whole list `pkg-config --libs opencv4` prints.
CV_CFLAGS := $(shell pkg-config --cflags opencv4 2>/dev/null)
CV_LIBS := $(shell pkg-config --libs-only-L opencv4 2>/dev/null) -lopencv_imgproc -lopencv_core

WARN := -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -fopenmp $(WARN) $(PKG_CFLAGS) -I/usr/include/nifti -I/usr/include/gdcm-3.0 -I.
CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++17 -D_GNU_SOURCE $(WARN) $(PKG_CFLAGS) -I/usr/include/gdcm-3.0 -I/usr/include/nifti -I.
LDLIBS := $(PKG_LIBS) -ldnnl -lprotobuf-c -lcjson -lniftiio -lznz -lgdcmMSFF -lgdcmDSED -lgdcmCommon -lgdcmIOD -lgdcmDICT \
          $(CV_LIBS) -lz -lstdc++ -lpthread -lm -fopenmp

# CUDA backend: built when nvcc and cuDNN are present (MT_CUDA=0 to disable).
HAVE_CUDA := $(shell test -x $(NVCC) && test -f $(CUDA_HOME)/include/cudnn.h && echo 1 || echo 0)
MT_CUDA ?= $(HAVE_CUDA)
CUDA_ARCH ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=[sm_90,compute_90]
NVCCFLAGS ?= -O2 -std=c++17 $(CUDA_ARCH) --Werror all-warnings -Xcompiler -Wall,-Wextra,-Wno-unused-parameter,-Wno-missing-field-initializers,-fPIC
ifeq ($(MT_CUDA),1)
CFLAGS += -DMT_WITH_CUDA
CXXFLAGS += -DMT_WITH_CUDA
NVCCFLAGS += -DMT_WITH_CUDA -I. -I$(CUDA_HOME)/include
LDLIBS += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudnn -lcublas -lcudart
endif

# Data-parallel plugins (train/dist.h, docs/distributed.md), loaded with dlopen only by runs started
# with mpirun / srun, so the library and a single-process medtrain never link MPI or NCCL:
#   $(BUILD)/libmedtrain_mpi.so   train/dist_mpi.c with mpicc (MT_MPI=auto: when mpicc exists; 0 = off)
#   $(BUILD)/libmedtrain_nccl.so  train/dist_nccl.cu with nvcc, when the CUDA backend is built and
#                                 $(CUDA_HOME)/include/nccl.h exists (MT_NCCL=0 = off)
PLUGIN_SRC := train/dist_mpi.c train/dist_nccl.cu
MPICC ?= mpicc
MT_MPI ?= auto
ifeq ($(MT_MPI),auto)
MT_MPI_ON := $(shell command -v $(MPICC) >/dev/null 2>&1 && echo 1 || echo 0)
else
MT_MPI_ON := $(MT_MPI)
endif
MT_NCCL ?= $(shell test -f $(CUDA_HOME)/include/nccl.h && echo 1 || echo 0)
MPI_PLUGIN := $(BUILD)/libmedtrain_mpi.so
NCCL_PLUGIN := $(BUILD)/libmedtrain_nccl.so
DIST_PLUGINS :=
ifeq ($(MT_MPI_ON),1)
DIST_PLUGINS += $(MPI_PLUGIN)
endif
ifeq ($(MT_CUDA)$(MT_NCCL),11)
DIST_PLUGINS += $(NCCL_PLUGIN)
endif

LIB_DIRS := core core/ops layers optim data configs train
LIB_C := $(filter-out $(PLUGIN_SRC),$(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)))
LIB_CXX := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.cpp))
LIB_CU := $(filter-out $(PLUGIN_SRC),$(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.cu)))
CLI_C := $(wildcard cli/*.c)
TEST_C := $(filter-out tests/gradcheck_%.c,$(wildcard tests/*.c))
# the float64 binary also runs the network-vs-PyTorch-twin checks in training mode (tests/net_check.h)
# and the Winograd-vs-im2col conv checks (tests/test_winograd.c)
GRAD_C := tests/main.c tests/fixture.c $(wildcard tests/gradcheck_*.c) tests/net_check.c $(wildcard tests/test_net_*.c) \
          tests/test_winograd.c
# float64 build of the numeric core, for the finite-difference gradient checks
F64_DIRS := core core/ops layers optim
F64_C := $(filter-out layers/export_onnx.c,$(foreach d,$(F64_DIRS),$(wildcard $(d)/*.c))) train/checkpoint.c

# ONNX export (layers/export_onnx.c): C code generated at build time by protoc-c from the
# onnx.proto that Debian's libonnx-dev ships; nothing generated is committed.
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
GEN := $(BUILD)/gen
ONNX_PB_C := $(GEN)/onnx.pb-c.c
ONNX_PB_O := $(GEN)/onnx.pb-c.o

OBJ := $(LIB_C:%.c=$(BUILD)/f32/%.o) $(LIB_CXX:%.cpp=$(BUILD)/f32/%.o) $(ONNX_PB_O)
ifeq ($(MT_CUDA),1)
OBJ += $(LIB_CU:%.cu=$(BUILD)/cu/%.o)
endif
F64_OBJ := $(F64_C:%.c=$(BUILD)/f64/%.o)

LIB := $(BUILD)/libmedtrain.a
LIB64 := $(BUILD)/libmedtrain_f64.a
CLI := $(BUILD)/medtrain
TESTS := $(BUILD)/run_tests
GRADCHECK := $(BUILD)/run_gradcheck

.PHONY: all deps deps-py deps-slurm deps-node test demo bench bench-compare fixtures clean cuda-check
all: $(LIB) $(CLI) $(DIST_PLUGINS)

# Installs missing Debian packages (root, or sudo). No-op when all are present.
deps:
	@missing=$$(for p in $(DEB_BUILD); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi
deps-py:
	@missing=$$(for p in $(DEB_PY); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi
deps-slurm:
	@missing=$$(for p in $(DEB_SLURM); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

# onnxruntime-node (npm) for the ONNX export tests, install scripts skipped: its CPU library ships
# inside the package (bin/napi-v*/linux/x64). Skipped, with a message, when npm is absent.
NODE_DIR := $(BUILD)/node
deps-node:
	@if ! command -v npm >/dev/null 2>&1; then echo "skipped: npm not installed (ONNX Runtime checks will skip)"; \
	elif [ -d $(NODE_DIR)/node_modules/onnxruntime-node ]; then :; \
	else mkdir -p $(NODE_DIR) && cd $(NODE_DIR) && { [ -f package.json ] || echo '{"private": true}' > package.json; } && \
	  { npm install --ignore-scripts --no-audit --no-fund onnxruntime-node || \
	    echo "skipped: npm install onnxruntime-node failed (ONNX Runtime checks will skip)"; }; fi

$(ONNX_PB_C): $(ONNX_PROTO)
	@mkdir -p $(GEN)
	protoc-c --proto_path=$(dir $(ONNX_PROTO)) --c_out=$(GEN) $(notdir $(ONNX_PROTO))
$(GEN)/onnx.pb-c.h: $(ONNX_PB_C)
$(ONNX_PB_O): $(ONNX_PB_C)
	$(CC) $(CFLAGS) -I$(GEN) -c $< -o $@
$(BUILD)/f32/layers/export_onnx.o: $(GEN)/onnx.pb-c.h
$(BUILD)/f32/layers/export_onnx.o: CFLAGS += -I$(GEN)
$(BUILD)/f32/data/cv_seg.o: CXXFLAGS += $(CV_CFLAGS)
$(BUILD)/f32/cli/export.o: CFLAGS += -DMT_GIT_DESCRIBE='"$(shell git describe --always --dirty 2>/dev/null || echo unknown)"'

$(BUILD)/f32/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/f32/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/cu/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/f64/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -DMT_WITH_CUDA,$(CFLAGS)) -DMT_REAL_DOUBLE -MMD -MP -c $< -o $@

# the plugins: only the interface header of medtrain (train/dist_plugin.h), no call into it.
# `dist-plugins` as a target of a sub-make sees an mpicc that `make deps` has just installed.
.PHONY: dist-plugins
dist-plugins: $(DIST_PLUGINS)
$(MPI_PLUGIN): train/dist_mpi.c train/dist_plugin.h
	@mkdir -p $(dir $@)
	$(MPICC) -O2 -g -std=c11 $(WARN) -Werror -fPIC -shared -I. $< -o $@
$(NCCL_PLUGIN): train/dist_nccl.cu train/dist_plugin.h
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -shared $< -o $@ -L$(CUDA_HOME)/lib64 -Xlinker -rpath,$(CUDA_HOME)/lib64 -lnccl -lcudart

$(LIB): $(OBJ)
	@rm -f $@
	ar rcs $@ $^
$(LIB64): $(F64_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(CLI): $(CLI_C:%.c=$(BUILD)/f32/%.o) $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(TESTS): $(TEST_C:%.c=$(BUILD)/f32/%.o) $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(GRADCHECK): $(GRAD_C:%.c=$(BUILD)/f64/%.o) $(LIB64)
	$(CC) $(filter-out -DMT_WITH_CUDA,$(CFLAGS)) $^ -o $@ $(filter-out -lcudnn -lcublas -lcudart,$(LDLIBS))

# The main job: S1 U-Net muscle segmentation on the real CT sample shipped in data/samples/s1
# (TotalSegmentator example CT, 30 axial slices + skeletal-muscle mask). Imports it, trains
# configs/s1_demo.yaml (GPU if present, else CPU), evaluates the test split before/after the
# [-29, 150] HU window, and writes curves and overlay PNGs under runs/demo.
DEMO_DS := runs/data/s1_muscle_96.h5
DEMO_RUN := runs/demo
demo: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p runs/data
	@test -f $(DEMO_DS) || $(CLI) import --source nifti --input data/samples/s1/example_ct_sm.nii.gz \
	  --mask data/samples/s1/skeletal_muscle.nii.gz --mask_names muscle --resize 96x96 \
	  --split_by sample --val_frac 0.15 --test_frac 0.15 --seed 0 \
	  --description "S1 stand-in: TotalSegmentator example_ct_sm, skeletal_muscle mask (model-made)" \
	  --output $(DEMO_DS)
	@rm -rf $(DEMO_RUN)
	$(CLI) train configs/s1_demo.yaml --out $(DEMO_RUN)
	$(CLI) evaluate $(DEMO_RUN) --overlays 4
	$(CLI) predict $(DEMO_RUN) data/samples/s1/example_ct_sm.nii.gz --slice 15 --out $(DEMO_RUN)/predict
	@echo "demo done: see $(DEMO_RUN)/ (log.csv, metrics.json, eval_test.json, curves_*.png, overlays/, predict/)"

# Runs both test binaries and prints the combined "N passed, N failed, N skipped".
# The sanitizer subset first (its own summary line), then every test: the last line is the suite's.
test: deps deps-py deps-slurm deps-node
	@$(MAKE) --no-print-directory test-sanitize
	@$(MAKE) --no-print-directory $(TESTS) $(GRADCHECK) $(CLI) dist-plugins
	@bash tests/run.sh $(TESTS) $(GRADCHECK)

# Data loader throughput (not a test): CPU path, rigid augmentation of 512x512 slices.
BENCH_LOADER := $(BUILD)/bench_loader
$(BENCH_LOADER): $(BUILD)/f32/experiments/bench/bench_loader.o $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
.PHONY: bench-loader
bench-loader: $(BENCH_LOADER)
	$(BENCH_LOADER)

# conv2d / conv_transpose2d per shape: im2col vs oneDNN blocked vs oneDNN nchw (not a test; MT_CONV_IMPL=auto's figures).
BENCH_CONV := $(BUILD)/bench_conv_impl
$(BENCH_CONV): $(BUILD)/f32/experiments/bench/bench_conv_impl.o $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
.PHONY: bench-conv
bench-conv: $(BENCH_CONV)
	$(BENCH_CONV)

# U-Net training-step throughput, medtrain vs PyTorch 1.13 (not a test; experiments/bench/README.md).
# Runs both in the same invocation, prints both images/s and the ratio, appends a line to RESULTS.md.
BENCH_UNET := $(BUILD)/bench_unet_step
BENCH_ARGS ?= --batch 4 --size 128 --steps 5 --warmup 2 --threads 2
$(BENCH_UNET): $(BUILD)/f32/experiments/bench/bench_unet_step.o $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
# conv2d 3x3: im2col + GEMM against Winograd per U-Net layer shape (not a test; docs/performance.md).
BENCH_WINO := $(BUILD)/bench_winograd
$(BENCH_WINO): $(BUILD)/f32/experiments/bench/bench_winograd.o $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
bench: $(BENCH_UNET)
	@c=$$($(BENCH_UNET) $(BENCH_ARGS)) || { echo "$$c"; exit 1; }; echo "$$c"; \
	p=$$($(PYTHON) experiments/bench/bench_unet_step.py $(BENCH_ARGS)) || { echo "$$p"; exit 1; }; echo "$$p"; \
	get() { echo "$$1" | awk -v k="$$2" '$$1 == k {print $$2}'; }; \
	line=$$(awk -v a="$$(get "$$c" images/s:)" -v b="$$(get "$$p" images/s:)" \
	            -v c="$$(get "$$c" cpu_images/s:)" -v d="$$(get "$$p" cpu_images/s:)" \
	  'BEGIN { printf "medtrain %.3f images/s, PyTorch %.3f images/s, ratio %.3f (CPU-time basis %.3f vs %.3f, ratio %.3f)", a, b, a / b, c, d, c / d }'); \
	echo "$$line"; \
	echo "- $$(date -u '+%Y-%m-%d %H:%M UTC') U-Net step $(BENCH_ARGS), $$(nproc) cores, load avg $$(cut -d' ' -f1 /proc/loadavg): $$line" >> experiments/bench/RESULTS.md

# Issue 13's set, engines alternated, median of BENCH_ROUNDS (not a test; experiments/bench/compare.py):
# fp32 training steps at 128x128 batch 4 and 256x256 batch 2, the bf16 step (PyTorch autocast), and the
# inference latency at 512x512 batch 1. Prints a Markdown table to paste into RESULTS.md.
BENCH_ROUNDS ?= 5
BENCH_COMPARE ?= "fp32 step=--batch 4 --size 128 --steps 5 --warmup 2 --threads 2" \
  "fp32 step=--batch 2 --size 256 --steps 3 --warmup 1 --threads 2" \
  "inference=--batch 1 --size 512 --steps 5 --warmup 1 --threads 2 --infer 1" \
  "bf16 step=--batch 4 --size 128 --steps 1 --warmup 1 --threads 2|--precision bf16|--bf16"
.PHONY: bench-compare
bench-compare: $(BENCH_UNET)
	$(PYTHON) experiments/bench/compare.py --rounds $(BENCH_ROUNDS) --bin $(BENCH_UNET) --python $(PYTHON) $(BENCH_COMPARE)

# Forward+backward time of every study network next to its PyTorch twin (not a test; experiments/bench/bench_nets.sh).
BENCH_NETS := $(BUILD)/bench_nets
$(BENCH_NETS): $(BUILD)/f32/experiments/bench/bench_nets.o $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
.PHONY: bench-nets
bench-nets: $(BENCH_NETS)
	BIN=$(BENCH_NETS) bash experiments/bench/bench_nets.sh

# ASan + UBSan run of a subset of the tests (issue 12; not part of `make test`): builds the
# library, CLI and test runner into $(SAN_BUILD) (-O1 -g, no CUDA), then runs, in one process,
# the tests whose name or file contains one of SAN_TESTS: the caching allocator (which poisons
# what it has not handed out under ASan) and autograd memory, the parsers (config/YAML, graph,
# import, IDX, DICOM, NIfTI, datasets, checkpoints, weights) and the robustness paths (robust_*,
# metrics, plots, loader, detection, a corrupt checkpoint refused by the CLI, missing dataset
# keys, the synthetic-fracture generator), with every sanitizer report fatal: 75-105 s on 2 cores (the first build about 4 minutes). The full suite (15-20
# minutes uninstrumented) is too slow under ASan. tests/run_sanitize.sh, tests/lsan.supp.
SAN_BUILD ?= build-asan
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer
SAN_TESTS ?= test_alloc test_autograd_memory test_config yaml test_graph_format test_model.c test_import idx dicom nifti test_dataset test_checkpoint \
             test_weights.c test_robust test_metrics test_plot test_loader test_detect tasks_missing cli_corrupt \
             synth_fracture crop_ import_box import_reorient localize_ robust_dicom_gdcm mias_woman import_mias_splits \
             s5_chain
.PHONY: test-sanitize
test-sanitize: deps
	@CFLAGS='$(SAN_FLAGS)' CXXFLAGS='$(SAN_FLAGS)' $(MAKE) --no-print-directory BUILD=$(SAN_BUILD) MT_CUDA=0 \
	  $(SAN_BUILD)/run_tests $(SAN_BUILD)/medtrain
	@bash tests/run_sanitize.sh $(SAN_BUILD)/run_tests $(SAN_TESTS)

# libFuzzer harnesses (tests/fuzz/README.md): clang, -fsanitize=fuzzer,address,undefined, the
# library built with coverage into $(FUZZ_BUILD); each runs FUZZ_SECONDS on its seed corpus
# (a copy under $(FUZZ_BUILD)/corpus, so the repository's stays small); crashes land in
# $(FUZZ_BUILD)/crashes/<name>/, full logs in $(FUZZ_BUILD)/logs/. `make fuzz-build` only builds.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= config graph nifti dicom image idx
FUZZ_CC ?= clang
FUZZ_CXX ?= clang++
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
.PHONY: fuzz fuzz-build
fuzz-build: deps
	@CFLAGS='$(FUZZ_FLAGS)' CXXFLAGS='$(FUZZ_FLAGS)' $(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) MT_CUDA=0 \
	  CC=$(FUZZ_CC) CXX=$(FUZZ_CXX) $(FUZZ_BINS)
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(LIB)
	$(FUZZ_CXX) $(filter-out -fsanitize=fuzzer-no-link%,$(CFLAGS)) -x c -fsanitize=fuzzer,address,undefined \
	  $< -x none $(LIB) -o $@ $(LDLIBS)
fuzz: fuzz-build
	@set -o pipefail; rc=0; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/crashes/$$t $(FUZZ_BUILD)/logs; \
	  cp -n tests/fuzz/corpus/$$t/* $(FUZZ_BUILD)/corpus/$$t/ 2>/dev/null; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 -malloc_limit_mb=1024 -timeout=10 \
	    -artifact_prefix=$(FUZZ_BUILD)/crashes/$$t/ $(FUZZ_BUILD)/corpus/$$t 2>&1 | tee $(FUZZ_BUILD)/logs/$$t.log | tail -n 25 || { rc=1; echo "fuzz_$$t: FAILED"; }; \
	done; exit $$rc

# Compile-only check of every CUDA file (CI has nvcc but no GPU).
cuda-check:
	@test "$(MT_CUDA)" = 1 || { echo "nvcc/cuDNN not found: CUDA backend not built"; exit 0; }
	@$(MAKE) --no-print-directory $(LIB_CU:%.cu=$(BUILD)/cu/%.o) $(filter $(NCCL_PLUGIN),$(DIST_PLUGINS))

fixtures: deps-py
	@for f in tests/fixtures/gen_*.py; do echo "$(PYTHON) $$f"; $(PYTHON) $$f || exit 1; done

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
