# Thin entry points over `cargo xtask` (see README.md). Examples:
#   make run
#   make ARCH=aarch64 LOG=debug VM_CONFIGS=configs/vms/guest-aarch64.toml run
#   make ARCH=aarch64 VM_CONFIGS=configs/vms/two-guests-aarch64 run
#   make ARCH=aarch64 PLATFORM=qemu-virt-gicv2 run
#   make test
#   make DISK_ADD="target/guests/aarch64/linux/Image:/images/Image" DISK_CONFIGS=my-vm.toml disk_img
ARCH ?= aarch64
# A platform variant of ARCH (configs/platforms/variants), such as qemu-virt-gicv2.
PLATFORM ?=
LOG ?= info
VM_CONFIGS ?=
TIMEOUT ?= 300
# `make disk_img`: space-separated FILE[:PATH] entries to put on the disk, and VM configs for /vms.
DISK_ADD ?=
DISK_CONFIGS ?=

# APP_FEATURES=fs: guest images and VM configs from the FAT32 disk DISK (default target/disk.img).
APP_FEATURES ?=
DISK ?=

XTASK_BUILD_ARGS = --arch $(ARCH) $(if $(PLATFORM),--platform $(PLATFORM)) --log $(LOG) $(if $(VM_CONFIGS),--vm-configs $(VM_CONFIGS)) $(if $(APP_FEATURES),--features $(APP_FEATURES)) $(if $(DISK),--disk $(DISK))

.PHONY: run build test lint setup disk_img toolchain

run: toolchain
	cargo xtask run $(XTASK_BUILD_ARGS) --timeout $(TIMEOUT)

build: toolchain
	cargo xtask build $(XTASK_BUILD_ARGS)

# Every architecture's boot tests unless ARCH is given on the command line.
test: toolchain
	cargo xtask test $(if $(filter command line,$(origin ARCH)),--arch $(ARCH))

lint: toolchain
	cargo xtask lint

setup: toolchain
	cargo xtask setup --arch $(ARCH)

# target/disk.img (FAT32, made without mounting or root); adds to it when it exists.
disk_img: toolchain
	cargo xtask disk-img $(foreach f,$(DISK_ADD),--add $(f)) $(foreach c,$(DISK_CONFIGS),--config $(c))

# The toolchain pinned in rust-toolchain.toml, with its targets and components.
toolchain:
	@command -v rustup >/dev/null || { echo "tessera: rustup is required (https://rustup.rs)"; exit 1; }
	@rustup toolchain list | grep -q '^1.95.0' || { echo "tessera: installing the Rust 1.95.0 toolchain pinned in rust-toolchain.toml"; rustup toolchain install 1.95.0 --profile minimal; }
	@rustup show active-toolchain >/dev/null
