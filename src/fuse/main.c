/*
 * main.c - the uzram binary: parse the command line, run the daemon.
 * Exit status: 0 on success (and for --help, --version), 1 on a runtime
 * error, 2 on a command-line error; each error is one line on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "uzram.h"

int main(int argc, char *argv[])
{
	struct uzram_options opts;
	char err[UZRAM_ERR_MAX];
	int ret;

	ret = uzram_options_parse(argc, argv, &opts, err);
	if (ret) {
		fprintf(stderr, "uzram: %s\n",
			ret == -EINVAL ? err : strerror(-ret));
		ret = 2;
	} else if (opts.help) {
		uzram_usage(stdout);
	} else if (opts.version) {
		printf("uzram %s\n", uzram_version());
	} else {
		ret = uzram_run(&opts);
	}
	uzram_options_free(&opts);
	return ret;
}
