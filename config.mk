# Build configuration for sluice.  Override on the command line:
#   make CC=clang   make SANITIZE=1   make PREFIX=/usr DESTDIR=/tmp/pkg install
VERSION   = 0.1.0
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
LIBDIR   ?= $(PREFIX)/lib
INCDIR   ?= $(PREFIX)/include
MANDIR   ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

CC       ?= cc
# -fvect-cost-model=cheap lets GCC vectorise the tensor core's plain loops
# (Adam: 5.5 -> 1.3 ns per parameter); -fno-math-errno lets sqrt inline.
# Neither reorders arithmetic or drops NaN semantics, unlike -ffast-math:
# outputs are byte-identical to plain -O2.
OPT      ?= -O2 -g -fvect-cost-model=cheap -fno-math-errno
CFLAGS   ?= $(OPT)
WARN      = -Wall -Wextra -Wno-unused-parameter
CPPFLAGS += -std=c11 -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64
# Libraries only one program needs: LDLIBS_<stage>.
# utf8proc: Unicode NFC and case folding for dedup's --fold, rather than
# writing Unicode tables ourselves.
LDLIBS_dedup = -lutf8proc
LDLIBS   += -lopenblas -lmsgpackc -lzstd -lz -lm -lpthread

# Debian's packages that provide the headers and libraries above.
DEBIAN_BUILD_DEPS = build-essential pkg-config libmsgpack-dev libzstd-dev \
                    zlib1g-dev libopenblas-dev libutf8proc-dev mandoc
# What the tests need beyond the build.
DEBIAN_TEST_DEPS  = perl python3 python3-msgpack zstd
# The data the main job (make demo) runs on.
DEBIAN_DATA_DEPS  = fortunes

ifeq ($(SANITIZE),1)
BUILD    ?= build-san
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
else
BUILD    ?= build
endif
