/* progress.c — progress of long work on standard error: redrawn in place on a
 * terminal, a plain line every few seconds otherwise, and nothing at all for
 * work that finishes within a second (quick runs stay quiet). */
#include <string.h>

#include "runtime/runtime.h"
#include "tools/cli.h"

#define QUIET_SECONDS 1.0   /* show nothing before this */
#define TTY_EVERY 0.1       /* redraw at most this often */
#define PLAIN_EVERY 5.0     /* plain lines at most this often */

void ts_cli_progress_start(struct ts_cli_progress *p, bool enabled) {
    memset(p, 0, sizeof *p);
    p->enabled = enabled;
    p->tty = ts_cli_stderr_is_tty();
    p->start = ts_rt_now_seconds();
    p->last = p->start;
}

void ts_cli_progress_show(struct ts_cli_progress *p, const char *text) {
    if (!p->enabled) return;
    double now = ts_rt_now_seconds();
    if (now - p->start < QUIET_SECONDS || now - p->last < (p->tty ? TTY_EVERY : PLAIN_EVERY)) return;
    p->last = now;
    if (p->tty) {
        fprintf(stderr, "\r\033[K%s  (%.1f s)", text, now - p->start);
        p->shown = true;
    } else {
        fprintf(stderr, "tessera: %s (%.1f s)\n", text, now - p->start);
    }
    fflush(stderr);
}

void ts_cli_progress_end(struct ts_cli_progress *p) {
    if (p->shown) fprintf(stderr, "\r\033[K");
    p->shown = false;
}
