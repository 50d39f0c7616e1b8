# sluice - see README.md.  Targets:
#   all (default)  lib/libsluice.a and every program, under $(BUILD)/
#   check          every test through prove (TAP)
#   install        programs, man pages, library, header, pkg-config file
#   deps           installs the Debian build dependencies (as root) or prints the apt-get line
#   fuzz           libFuzzer harnesses (clang), run with FUZZ_SECONDS=N
#   lint           mandoc -Tlint on every man page
#   demo           the main job: pipelines/fortunes (Debian's fortunes -> a small GPT -> new fortunes)
include config.mk

LIB_SRC   := $(sort $(wildcard lib/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB       := $(BUILD)/libsluice.a
PROGS_SRC := $(sort $(wildcard filters/*.c))
PROGS     := $(PROGS_SRC:filters/%.c=%)
BINS      := $(PROGS:%=$(BUILD)/bin/sluice-%)
BINS      := $(subst sluice-sluice,sluice,$(BINS))
UNIT_SRC  := $(sort $(wildcard tests/unit/*.c))
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
MAN_PAGES := $(sort $(wildcard man/*.[0-9]))

ALL_CFLAGS = $(CPPFLAGS) -Ilib $(WARN) $(CFLAGS)

# Keep object files: make would otherwise delete them as intermediates.
.SECONDARY:

.PHONY: all check install uninstall clean deps fuzz lint bench demo
.SUFFIXES:

all: $(LIB) $(BINS) $(UNIT_BINS)

# -MMD -MP: each object also depends on the headers it includes.
$(BUILD)/%.o: %.c config.mk
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

# A program is filters/NAME.c plus, when it has them, filters/NAME/*.c.
define PROG_RULE
$$(BUILD)/bin/sluice-$(1): $$(BUILD)/filters/$(1).o $$(patsubst %.c,$$(BUILD)/%.o,$$(wildcard filters/$(1)/*.c)) $$(LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $$(LIB) $$(LDLIBS_$(1)) $$(LDLIBS)
endef
$(foreach p,$(filter-out sluice,$(PROGS)),$(eval $(call PROG_RULE,$(p))))

$(BUILD)/bin/sluice: $(BUILD)/filters/sluice.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/tap.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

check: all
	SLUICE_BUILD=$(CURDIR)/$(BUILD) prove -j2 $(PROVE_FLAGS) tests/*.t

demo: all
	$(MAKE) -C pipelines/fortunes SLUICE_BIN=$(CURDIR)/$(BUILD)/bin

lint:
	mandoc -Tlint -W warning $(MAN_PAGES)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) \
	  $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)
	install -m 644 lib/sluice.h $(DESTDIR)$(INCDIR)
	install -m 644 $(wildcard man/*.1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(wildcard man/*.5) $(DESTDIR)$(MANDIR)/man5
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCDIR@|$(INCDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    sluice.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/sluice.pc

uninstall:
	rm -f $(BINS:$(BUILD)/bin/%=$(DESTDIR)$(BINDIR)/%) $(DESTDIR)$(LIBDIR)/libsluice.a \
	  $(DESTDIR)$(INCDIR)/sluice.h $(DESTDIR)$(PKGCONFIGDIR)/sluice.pc \
	  $(patsubst man/%.1,$(DESTDIR)$(MANDIR)/man1/%.1,$(filter %.1,$(MAN_PAGES))) \
	  $(patsubst man/%.5,$(DESTDIR)$(MANDIR)/man5/%.5,$(filter %.5,$(MAN_PAGES)))

deps:
	@missing=$$(for p in $(DEBIAN_BUILD_DEPS) $(DEBIAN_TEST_DEPS) $(DEBIAN_DATA_DEPS); do \
	  dpkg-query -W -f '$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "build dependencies: all present"; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	else echo "missing packages; run as root:"; echo "  apt-get install -y" $$missing; exit 1; fi

FUZZ_SECONDS ?= 60
FUZZ_SRC := $(sort $(wildcard tests/fuzz/*.c))
fuzz:
	@mkdir -p $(BUILD)/fuzz
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  clang -std=c11 -D_DEFAULT_SOURCE -g -O1 -Ilib -Ifilters -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined \
	    -o $(BUILD)/fuzz/$$n $$f $(LIB_SRC) $$(sed -n 's/^\/\/ fuzz-sources: //p' $$f) $(LDLIBS) || exit 1; \
	  mkdir -p $(BUILD)/fuzz/corpus-$$n; \
	  dict=; [ -f tests/fuzz/$$n.dict ] && dict=-dict=tests/fuzz/$$n.dict; \
	  $(BUILD)/fuzz/$$n $$dict -max_total_time=$(FUZZ_SECONDS) $(BUILD)/fuzz/corpus-$$n tests/fuzz/seed-$$n || exit 1; \
	done

bench: all
	bench/csv.sh

clean:
	rm -rf build build-san
