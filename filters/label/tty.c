/*
 * tty.c - the terminal of interactive labelling.
 *
 * Records flow from standard input to standard output, so the person
 * labelling them is reached through /dev/tty: keys are read from it one
 * at a time (raw mode: no echo, no line editing, but Ctrl-C still sends
 * SIGINT), and the screen is drawn on it.
 *
 * Whatever ends the program must give the terminal back as it was found.
 * A normal exit restores it (atexit too, for exits deep in the library).
 * SIGINT, SIGTERM and SIGHUP are caught: the handler restores the modes at
 * once (tcsetattr is async-signal-safe) and records the signal; the key
 * loop waits in poll(2), which a signal always interrupts, and returns
 * TTY_SIGNAL so the caller can leave its files consistent before dying
 * of the same signal (tty_die), as a shell expects.  A second signal
 * while that happens ends the program at once.  SIGPIPE (the reader of
 * standard output went away) and SIGQUIT (Ctrl-backslash) restore the
 * terminal and die of the signal at once, as a filter should.
 *
 * One terminal per process: the state is static, as signal handlers need.
 */
#include "label.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static int fd = -1;
static struct termios saved;
static volatile sig_atomic_t raw_on, caught;

static void on_signal(int sig)
{
	int e = errno;

	if (raw_on) {
		tcsetattr(fd, TCSANOW, &saved);
		raw_on = 0;
	}
	if (sig == SIGPIPE || sig == SIGQUIT) {
		signal(sig, SIG_DFL);
		raise(sig); /* delivered when the handler returns */
		errno = e;
		return;
	}
	if (caught)
		_exit(128 + sig);
	caught = sig;
	errno = e;
}

void tty_restore(void)
{
	if (raw_on) {
		tcsetattr(fd, TCSANOW, &saved);
		raw_on = 0;
	}
}

int tty_open(void)
{
	struct termios t;
	struct sigaction sa;
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT};

	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (tcgetattr(fd, &saved) < 0) {
		int e = errno;
		close(fd);
		fd = -1;
		errno = e;
		return -1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaddset(&sa.sa_mask, sigs[i]);
	sa.sa_flags = SA_RESTART; /* the library's reads and writes go on */
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
	atexit(tty_restore);
	t = saved;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	raw_on = 1;
	if (tcsetattr(fd, TCSANOW, &t) < 0) {
		int e = errno;
		raw_on = 0;
		errno = e;
		return -1;
	}
	return 0;
}

void tty_close(void)
{
	tty_restore();
	if (fd >= 0)
		close(fd);
	fd = -1;
}

int tty_signal(void)
{
	return caught;
}

int tty_key(void)
{
	static unsigned char buf[64];
	static size_t have, next;
	struct pollfd p;
	ssize_t n;
	int c;

	for (;;) {
		if (caught)
			return TTY_SIGNAL;
		if (next < have)
			break;
		p.fd = fd;
		p.events = POLLIN;
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return TTY_EOF;
		}
		n = read(fd, buf, sizeof buf);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return TTY_EOF;
		have = (size_t)n;
		next = 0;
		if (buf[0] == 0x1b) /* an escape sequence (arrows, F keys): ignored */
			have = 0;
	}
	c = buf[next++];
	if (c == 0x08)
		c = KEY_BACKSPACE;
	if (c == '\r')
		c = KEY_ENTER;
	return c;
}

void tty_write(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		p += k;
		n -= (size_t)k;
	}
}

int tty_cols(void)
{
	struct winsize ws;

	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

_Noreturn void tty_die(int sig)
{
	tty_restore();
	signal(sig, SIG_DFL);
	raise(sig);
	_exit(128 + sig);
}
