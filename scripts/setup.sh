#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Installs what is missing and fetches the kernel source. Idempotent: a second run only
# checks. Installs only through apt, rustup and cargo; the kernel source comes from Debian's
# archive through a private apt configuration, never touching the system's sources.
set -euo pipefail
. "$(dirname "$0")/env.sh"

APT_PKGS=(
	"clang$WQ_LLVM_SUFFIX" "lld$WQ_LLVM_SUFFIX" "llvm$WQ_LLVM_SUFFIX"
	"libclang$WQ_LLVM_SUFFIX-dev"
	make gcc libc6-dev bc bison flex libelf-dev libssl-dev cpio kmod xz-utils
	python3 qemu-system-x86 busybox-static
)

install_apt() {
	local missing=()
	for p in "${APT_PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return
	log "apt: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_rust() {
	command -v rustup >/dev/null || die "rustup not found: the machine's Rust toolchain is expected"
	if ! rustup component list --installed | grep -q '^rust-src'; then
		log "rustup: adding rust-src"
		rustup component add rust-src
	fi
	for c in rustfmt clippy; do
		rustup component list --installed | grep -q "^$c" || rustup component add "$c"
	done
	if ! bindgen --version 2>/dev/null | grep -q "$WQ_BINDGEN_VERSION"; then
		log "cargo: installing bindgen-cli $WQ_BINDGEN_VERSION (a few minutes)"
		cargo install --locked --quiet --version "$WQ_BINDGEN_VERSION" bindgen-cli
	fi
}

# The Debian mirror this machine already uses, read from its own apt configuration so
# that nothing here names a host.
debian_mirror() {
	local uri
	uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' |
		grep -m1 '/debian/\?$' || true)
	[ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
		awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' |
		grep -m1 '/debian/\?$' || true)
	[ -n "$uri" ] || die "no Debian mirror found in the system's apt sources"
	echo "${uri%/}"
}

fetch_kernel_source() {
	local apt_dir="$WQ_CACHE/apt/$WQ_KSUITE" dl="$WQ_CACHE/download/$WQ_KPKG"
	mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$dl"
	if [ -f "$WQ_CACHE/src/$WQ_KPKG.stamp" ] &&
		[ -d "$(cat "$WQ_CACHE/src/$WQ_KPKG.stamp")" ]; then
		return
	fi
	log "apt (private configuration): fetching $WQ_KPKG from $WQ_KSUITE"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(debian_mirror) $WQ_KSUITE main" \
		>"$apt_dir/sources.list"
	local opts=(
		-o "Dir::Etc::SourceList=$apt_dir/sources.list"
		-o "Dir::Etc::SourceParts=-"
		-o "Dir::State::Lists=$apt_dir/lists"
		-o "Dir::Cache=$apt_dir/cache"
		-o "Dir::Cache::archives=$apt_dir/archives"
		-o "APT::Get::List-Cleanup=0"
		-o "APT::Sandbox::User=root"
	)
	mkdir -p "$apt_dir/cache"
	apt-get "${opts[@]}" update -qq
	(cd "$dl" && rm -f ./*.deb && apt-get "${opts[@]}" download "$WQ_KPKG")
	local deb version
	deb=$(ls "$dl"/"$WQ_KPKG"_*.deb)
	version=$(dpkg-deb -f "$deb" Version)
	local x="$WQ_CACHE/src/extract"
	rm -rf "$x" && mkdir -p "$x"
	dpkg -x "$deb" "$x"
	local tarball
	tarball=$(ls "$x"/usr/src/linux-source-*.tar.xz)
	# Debian versions carry '~' and '+', which make and Kbuild dislike in paths.
	local dest="$WQ_CACHE/src/$WQ_KPKG-${version//[~+:]/_}"
	log "unpacking $(basename "$tarball") ($version)"
	rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
	tar -xJf "$tarball" -C "$dest.tmp" --strip-components=1
	rm -rf "$dest" && mv "$dest.tmp" "$dest" && rm -rf "$x"
	echo "$dest" >"$WQ_CACHE/src/$WQ_KPKG.stamp"
}

install_apt
install_rust
fetch_kernel_source
log "setup complete: kernel source at $(cat "$WQ_CACHE/src/$WQ_KPKG.stamp")"
