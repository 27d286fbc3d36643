# moat: build, test, install. `make test` installs what it needs on a fresh Debian machine.
PREFIX ?= /usr/local
DESTDIR ?=
# udev reads /etc/udev/rules.d and /usr/lib/udev/rules.d, never a /usr/local one.
UDEVDIR ?= /etc/udev/rules.d
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
ZSHDIR ?= $(PREFIX)/share/zsh/site-functions
MANDIR ?= $(PREFIX)/share/man
# The release binary `make release` leaves: static Swift runtime, stripped.
RELEASE_BIN := .build-static/moat
UNITS := moat.service moat-repair.service moat-repair.timer moat-metrics.service
SWIFT ?= swift
APT_PACKAGES := iproute2 iptables nftables dnsmasq-base conntrack busybox python3 python3-scapy dpkg-dev lintian man-db gcc libc6-dev
# Installed without their recommends: QEMU for VirtioGuestTests (its GUI, firmware and block
# drivers would be 140 more packages). The guest's kernel and busybox-static are downloaded
# and unpacked by Tests/EndToEndTests/Support/vm/build-guest.sh, never installed.
APT_PACKAGES_LEAN := qemu-system-x86
# moat(8): the argument parser's page of the commands (the text of --help) with the
# hand-written sections; MAN_BIN is the binary it describes, MAN_DATE the page's date.
MAN_BIN ?= $(RELEASE_BIN)
MAN_OUT ?= .build-static/moat.8
MAN_DATE ?= $(shell git log -1 --format=%cs 2>/dev/null || date -u +%F)
# The argument parser's generate-manual, in a build folder of its own: make install runs
# it from inside `swift test` (the install test), which holds .build's lock.
MAN_TOOL_BUILD := $(SWIFT) build --product generate-manual --scratch-path .build-manual
DEB_ROOT := .build-static/deb

.PHONY: all build test deps guest release man deb install uninstall demo bench fuzz soak clean

all: build

build:
	$(SWIFT) build

## deps: the Debian packages and the Python modules the tests use, installed only when missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	lean=""; for p in $(APT_PACKAGES_LEAN); do dpkg -s $$p >/dev/null 2>&1 || lean="$$lean $$p"; done; \
	if [ -n "$$missing$$lean" ]; then \
		echo "installing:$$missing$$lean"; \
		apt-get update -qq && \
		{ [ -z "$$missing" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } && \
		{ [ -z "$$lean" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$lean >/dev/null; }; \
	fi
	@python3 -c 'import jsonschema, yaml, prometheus_client, ansible' 2>/dev/null || \
		python3 -m pip install -q jsonschema pyyaml prometheus_client 'ansible-core>=2.17,<2.18' || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-jsonschema python3-yaml python3-prometheus-client ansible-core >/dev/null

## guest: the virtio guest VirtioGuestTests boots (Debian's kernel, an initramfs), into .build-vm; rebuilt only when its inputs change.
guest: deps
	sh Tests/EndToEndTests/Support/vm/build-guest.sh .build-vm >/dev/null

test: deps deb guest
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	MOAT_TEST_FIREWALL=nftables $(SWIFT) test --skip-build --filter EndToEndTests

## release: the binary hosts get: the Swift runtime linked in (it needs only glibc and
## libstdc++, no toolchain), stripped; in its own build folder.
release:
	$(SWIFT) build -c release --product moat --static-swift-stdlib --scratch-path .build-static
	strip -o $(RELEASE_BIN) .build-static/release/moat

## man: moat(8) for MAN_BIN, into MAN_OUT.
man:
	@if [ "$(MAN_BIN)" = "$(RELEASE_BIN)" ]; then $(MAKE) -s release; fi
	$(MAN_TOOL_BUILD) >/dev/null
	mkdir -p "$$(dirname "$(MAN_OUT)")" && generated=$$(mktemp -d) && \
	"$$($(MAN_TOOL_BUILD) --show-bin-path)/generate-manual" "$(MAN_BIN)" --section 8 --date $(MAN_DATE) -o "$$generated" && \
	python3 contrib/man/assemble.py "$(MAN_BIN)" "$$generated/moat.8" contrib/man/moat.8.sections > "$(MAN_OUT)"; \
	status=$$?; rm -rf "$$generated"; exit $$status

## deb: a Debian package of the release binary, built with dpkg-deb (see contrib/debian).
deb: release
	rm -rf $(DEB_ROOT) && mkdir -p $(DEB_ROOT)/DEBIAN
	$(MAKE) -s install DESTDIR="$(CURDIR)/$(DEB_ROOT)" PREFIX=/usr UDEVDIR=/usr/lib/udev/rules.d \
		ZSHDIR=/usr/share/zsh/vendor-completions MOAT_BIN=$(RELEASE_BIN)
	gzip -9n $(DEB_ROOT)/usr/share/man/man8/moat.8
	install -D -m 644 README.md $(DEB_ROOT)/usr/share/doc/moat/README.md
	install -m 644 contrib/debian/copyright $(DEB_ROOT)/usr/share/doc/moat/copyright
	install -D -m 644 contrib/debian/lintian-overrides $(DEB_ROOT)/usr/share/lintian/overrides/moat
	install -d $(DEB_ROOT)/usr/share/doc/moat/examples && install -m 644 examples/*.yaml $(DEB_ROOT)/usr/share/doc/moat/examples/
	@# The changelog, from moat's own version and the last commit's date.
	version=$$($(RELEASE_BIN) --version) && \
	printf 'moat (%s) unstable; urgency=medium\n\n  * moat %s, built from its source (see README.md).\n\n -- %s  %s\n' \
		"$$version" "$$version" "$$(sed -n 's/^Maintainer: //p' contrib/debian/control.in)" \
		"$$(date -R -u -d "$(MAN_DATE)")" | gzip -9n > $(DEB_ROOT)/usr/share/doc/moat/changelog.gz
	install -m 755 contrib/debian/postinst contrib/debian/prerm contrib/debian/postrm $(DEB_ROOT)/DEBIAN/
	@# dpkg-shlibdeps wants a debian/control beside it: an empty one in a scratch folder.
	version=$$($(RELEASE_BIN) --version) && shlibs=$$(scratch=$$(mktemp -d) && mkdir "$$scratch/debian" && touch "$$scratch/debian/control" && \
		(cd "$$scratch" && dpkg-shlibdeps -O "$(CURDIR)/$(DEB_ROOT)/usr/bin/moat") | sed -n 's/^shlibs:Depends=//p'; rm -rf "$$scratch") && \
	sed -e "s/@VERSION@/$$version/" -e "s/@ARCH@/$$(dpkg --print-architecture)/" -e "s/@SHLIBS@/$$shlibs/" \
		-e "s/@SIZE@/$$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1)/" contrib/debian/control.in > $(DEB_ROOT)/DEBIAN/control && \
	(cd $(DEB_ROOT) && find usr -type f -exec md5sum {} + | sort -k2) > $(DEB_ROOT)/DEBIAN/md5sums && \
	dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) .build-static/moat_$${version}_$$(dpkg --print-architecture).deb

## soak: the random-sequence test (SequenceTests) seed after seed for SOAK_SECONDS, from MOAT_SEED
## (default: the clock); every failing seed is printed and replays with MOAT_SEED=N. Needs root.
SOAK_SECONDS ?= 600
soak: deps
	$(SWIFT) build --build-tests
	MOAT_SOAK_SECONDS=$(SOAK_SECONDS) $(SWIFT) test --skip-build --filter SequenceTests

## demo: a throwaway namespace world; needs root (sudo make demo). Leaves nothing behind.
demo:
	./contrib/demo.sh

## bench: moat against the hand-run recipe and the practical floor, in namespaces (needs root).
bench: deps
	@for p in strace time iperf3; do dpkg -s $$p >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$p >/dev/null; done
	$(SWIFT) build -c release --product moat
	python3 bench/bench.py --moat "$$($(SWIFT) build -c release --show-bin-path)/moat"
	python3 bench/forwarding.py --moat "$$($(SWIFT) build -c release --show-bin-path)/moat"

## fuzz: libFuzzer on each parser of what moat reads (Sources/MoatFuzzTargets, driven by Fuzz/), FUZZ_SECONDS each, one after the other
## (FUZZ_TARGETS=... for some); corpora seeded from the fixtures, crash inputs and logs in .build-fuzz.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
fuzz:
	SWIFT="$(SWIFT)" Fuzz/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

## install: (MOAT_BIN=path installs that binary instead of building one) release binary, man page, shell completions, the JSON Schemas and the systemd units under $(DESTDIR)$(PREFIX); the udev rule in $(DESTDIR)$(UDEVDIR).
install:
	@if [ -z "$(MOAT_BIN)" ]; then $(MAKE) -s release; fi
	install -D -m 755 "$${MOAT_BIN:-$(RELEASE_BIN)}" "$(DESTDIR)$(PREFIX)/bin/moat"
	install -d "$(DESTDIR)$(PREFIX)/share/bash-completion/completions" "$(DESTDIR)$(ZSHDIR)" \
		"$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d" "$(DESTDIR)$(SYSTEMDDIR)" "$(DESTDIR)$(MANDIR)/man8"
	@# A completion is sourced, never run: no #! line (lintian's bash-completion-with-hashbang).
	"$(DESTDIR)$(PREFIX)/bin/moat" --generate-completion-script bash | sed '1{/^#!/d}' > "$(DESTDIR)$(PREFIX)/share/bash-completion/completions/moat"
	"$(DESTDIR)$(PREFIX)/bin/moat" --generate-completion-script zsh > "$(DESTDIR)$(ZSHDIR)/_moat"
	"$(DESTDIR)$(PREFIX)/bin/moat" --generate-completion-script fish > "$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/moat.fish"
	install -D -m 644 schemas/moat.schema.json "$(DESTDIR)$(PREFIX)/share/moat/moat.schema.json"
	install -m 644 schemas/moat-plan.schema.json "$(DESTDIR)$(PREFIX)/share/moat/moat-plan.schema.json"
	for unit in $(UNITS); do \
		sed "s#/usr/local/bin/moat#$(PREFIX)/bin/moat#g" "contrib/$$unit" > "$(DESTDIR)$(SYSTEMDDIR)/$$unit" && \
		chmod 644 "$(DESTDIR)$(SYSTEMDDIR)/$$unit" || exit 1; \
	done
	install -D -m 644 contrib/90-moat.rules "$(DESTDIR)$(UDEVDIR)/90-moat.rules"
	$(MAKE) -s man MAN_BIN="$(DESTDIR)$(PREFIX)/bin/moat" MAN_OUT="$(DESTDIR)$(MANDIR)/man8/moat.8"
	chmod 644 "$(DESTDIR)$(MANDIR)/man8/moat.8"

## uninstall: removes exactly what install put down (and, with DESTDIR, the folders left empty under it).
uninstall:
	rm -f "$(DESTDIR)$(PREFIX)/bin/moat" \
		"$(DESTDIR)$(PREFIX)/share/bash-completion/completions/moat" "$(DESTDIR)$(ZSHDIR)/_moat" \
		"$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/moat.fish" "$(DESTDIR)$(PREFIX)/share/moat/moat.schema.json" \
		"$(DESTDIR)$(PREFIX)/share/moat/moat-plan.schema.json" "$(DESTDIR)$(MANDIR)/man8/moat.8" \
		$(foreach unit,$(UNITS),"$(DESTDIR)$(SYSTEMDDIR)/$(unit)") "$(DESTDIR)$(UDEVDIR)/90-moat.rules"
	rmdir --ignore-fail-on-non-empty "$(DESTDIR)$(PREFIX)/share/moat" 2>/dev/null || true
	@# Into a staging folder, the folders install made go too; on a live system, only moat's own.
	if [ -n "$(DESTDIR)" ] && [ -d "$(DESTDIR)" ]; then find "$(DESTDIR)" -mindepth 1 -depth -type d -empty -delete; fi

clean:
	rm -rf .build .build-static .build-manual .build-vm
