/*
 * ms_slow_fdatasync.c - an LD_PRELOAD module for tests: every fdatasync()
 * takes MS_SLOW_FDATASYNC_MS milliseconds longer (default 200), as on a
 * disk much slower than the network.  LMDB syncs its commits with
 * fdatasync(), so a store's every commit is slow and nothing else is.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int
fdatasync(int fd)
{
	static int (*real)(int);
	const char *env = getenv("MS_SLOW_FDATASYNC_MS");
	long ms = env != NULL ? strtol(env, NULL, 10) : 200;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return real(fd);
}
