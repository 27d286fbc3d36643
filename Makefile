# moat: build, test, install. `make test` installs what it needs on a fresh Debian machine.
PREFIX ?= /usr/local
DESTDIR ?=
SWIFT ?= swift
APT_PACKAGES := iproute2 iptables dnsmasq-base busybox python3 python3-pip

.PHONY: all build test deps install demo bench clean

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
	@python3 -c 'import jsonschema, yaml' 2>/dev/null || python3 -m pip install -q jsonschema pyyaml || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-jsonschema python3-yaml >/dev/null

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

clean:
	rm -rf .build
