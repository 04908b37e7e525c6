/* load.h — `weir load`: the command line of the load tester (docs/load.md). */
#ifndef WEIR_LOAD_LOAD_H
#define WEIR_LOAD_LOAD_H

/* argv[0] is "load". Returns the exit code: 0 done, 1 bad usage or set-up failure, 2 a
 * --threshold failed, 3 the run was invalid (the generator was the limit). */
int load_main(int argc, char **argv);

/* Parses "30s", "250ms", "100us", "2m", "1h" or plain seconds into µs; -1 when malformed. */
long long load_parse_duration(const char *s);

#endif
