/* later.c — the verbs whose stages are not built yet: each says in one line
 * which issue brings it, and its --help shows the planned usage. */
#include <string.h>

#include "tools/cli.h"

static const struct {
    const char *verb, *usage, *when;
} later_verbs[] = {
    {"bench attention", "tessera bench attention ...", "issue #6"},
    {"bench model", "tessera bench model ...", "issue #6"},
};

int ts_cli_later(const char *verb, int argc, char **argv) {
    for (size_t i = 0; i < sizeof later_verbs / sizeof later_verbs[0]; i++) {
        if (strcmp(verb, later_verbs[i].verb) != 0) continue;
        for (int k = 1; k < argc; k++) {
            if (strcmp(argv[k], "-h") == 0 || strcmp(argv[k], "--help") == 0) {
                printf("usage: %s\n\nnot available yet: %s.\n", later_verbs[i].usage, later_verbs[i].when);
                return 0;
            }
        }
        fprintf(stderr, "tessera: error: %s: not available yet: %s\n", verb, later_verbs[i].when);
        return 1;
    }
    return -1;
}
