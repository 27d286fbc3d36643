# moat: build, test, install. `make test` installs what it needs on a fresh Debian machine.
PREFIX ?= /usr/local
DESTDIR ?=
# udev reads /etc/udev/rules.d and /usr/lib/udev/rules.d, never a /usr/local one.
UDEVDIR ?= /etc/udev/rules.d
# The release binary `make release` leaves: static Swift runtime, stripped.
RELEASE_BIN := .build-static/moat
UNITS := moat.service moat-repair.service moat-repair.timer moat-metrics.service
SWIFT ?= swift
APT_PACKAGES := iproute2 iptables dnsmasq-base conntrack busybox python3 python3-scapy

.PHONY: all build test deps release install uninstall demo bench clean

all: build

build:
	$(SWIFT) build

## deps: the Debian packages and the Python modules the tests use, installed only when missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@python3 -c 'import jsonschema, yaml, prometheus_client, ansible' 2>/dev/null || \
		python3 -m pip install -q jsonschema pyyaml prometheus_client 'ansible-core>=2.17,<2.18' || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-jsonschema python3-yaml python3-prometheus-client ansible-core >/dev/null

test: deps release
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

## release: the binary hosts get: the Swift runtime linked in (it needs only glibc and
## libstdc++, no toolchain), stripped; in its own build folder.
release:
	$(SWIFT) build -c release --product moat --static-swift-stdlib --scratch-path .build-static
	strip -o $(RELEASE_BIN) .build-static/release/moat

## demo: a throwaway namespace world; needs root (sudo make demo). Leaves nothing behind.
demo:
	./contrib/demo.sh

## bench: moat against the hand-run recipe and the practical floor, in namespaces (needs root).
bench: deps
	@for p in strace time; do dpkg -s $$p >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$p >/dev/null; done
	$(SWIFT) build -c release --product moat
	python3 bench/bench.py --moat "$$($(SWIFT) build -c release --show-bin-path)/moat"

## install: (MOAT_BIN=path installs that binary instead of building one) release binary, shell completions, the JSON Schema and the systemd units under $(DESTDIR)$(PREFIX); the udev rule in $(DESTDIR)$(UDEVDIR).
install:
	@if [ -z "$(MOAT_BIN)" ]; then $(MAKE) -s release; fi
	install -D -m 755 "$${MOAT_BIN:-$(RELEASE_BIN)}" "$(DESTDIR)$(PREFIX)/bin/moat"
	install -d "$(DESTDIR)$(PREFIX)/share/bash-completion/completions" "$(DESTDIR)$(PREFIX)/share/zsh/site-functions" \
		"$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d" "$(DESTDIR)$(PREFIX)/lib/systemd/system"
	"$(DESTDIR)$(PREFIX)/bin/moat" --generate-completion-script bash > "$(DESTDIR)$(PREFIX)/share/bash-completion/completions/moat"
	"$(DESTDIR)$(PREFIX)/bin/moat" --generate-completion-script zsh > "$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_moat"
	"$(DESTDIR)$(PREFIX)/bin/moat" --generate-completion-script fish > "$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/moat.fish"
	install -D -m 644 schemas/moat.schema.json "$(DESTDIR)$(PREFIX)/share/moat/moat.schema.json"
	for unit in $(UNITS); do \
		sed "s#/usr/local/bin/moat#$(PREFIX)/bin/moat#g" "contrib/$$unit" > "$(DESTDIR)$(PREFIX)/lib/systemd/system/$$unit" && \
		chmod 644 "$(DESTDIR)$(PREFIX)/lib/systemd/system/$$unit" || exit 1; \
	done
	install -D -m 644 contrib/90-moat.rules "$(DESTDIR)$(UDEVDIR)/90-moat.rules"

## uninstall: removes exactly what install put down (and, with DESTDIR, the folders left empty under it).
uninstall:
	rm -f "$(DESTDIR)$(PREFIX)/bin/moat" \
		"$(DESTDIR)$(PREFIX)/share/bash-completion/completions/moat" "$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_moat" \
		"$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/moat.fish" "$(DESTDIR)$(PREFIX)/share/moat/moat.schema.json" \
		$(foreach unit,$(UNITS),"$(DESTDIR)$(PREFIX)/lib/systemd/system/$(unit)") "$(DESTDIR)$(UDEVDIR)/90-moat.rules"
	rmdir --ignore-fail-on-non-empty "$(DESTDIR)$(PREFIX)/share/moat" 2>/dev/null || true
	@# Into a staging folder, the folders install made go too; on a live system, only moat's own.
	if [ -n "$(DESTDIR)" ] && [ -d "$(DESTDIR)" ]; then find "$(DESTDIR)" -mindepth 1 -depth -type d -empty -delete; fi

clean:
	rm -rf .build .build-static
