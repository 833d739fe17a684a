/* test_safetensors.c — the safetensors reader and writer: round trips of every
 * dtype and rank with exact values, the exact bytes the writer lays out, the
 * atomic replace, targets that are links, FIFOs, devices or directories, and
 * the exact message of each kind of malformed file. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frontend/frontend.h"
#include "test.h"

static char tmpdir[64];

static const char *tmp_path(const char *name, char *buf, size_t size) {
    snprintf(buf, size, "%s/%s", tmpdir, name);
    return buf;
}

/* Counts the files in tmpdir whose name contains ".tmp." (left-over temps). */
static int count_temps(void) {
    DIR *dir = opendir(tmpdir);
    int n = 0;
    for (struct dirent *e; dir && (e = readdir(dir));) n += strstr(e->d_name, ".tmp.") != NULL;
    if (dir) closedir(dir);
    return n;
}

static unsigned char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(n > 0 ? (size_t)n : 1);
    *size = fread(p, 1, (size_t)n, f);
    fclose(f);
    return p;
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

/* ---- round trips ------------------------------------------------------- */

/* An exact, dtype-appropriate value for element i of tensor k. */
static void fill(struct ts_tensor *t, int k) {
    for (int64_t i = 0; i < t->numel; i++) {
        switch (t->dtype) {
        case TS_F32: ts_tensor_set_f64(t, i, (double)(i + k) * 0.25 - 3.0); break;
        case TS_F16: ts_tensor_set_f64(t, i, (double)(i + k) * 0.5 - 2.0); break;
        case TS_BF16: ts_tensor_set_f64(t, i, (double)(i + k) * -0.125 + 1.0); break;
        case TS_I32: ts_tensor_set_i64(t, i, i == 0 ? INT32_MIN : (i + k) * 1000003 - 7); break;
        case TS_I64: ts_tensor_set_i64(t, i, i == 0 ? INT64_MIN : (INT64_C(1) << 62) + i * 3 + k); break;
        case TS_BOOL: ts_tensor_set_i64(t, i, (i + k) % 3 == 0); break;
        default: break;
        }
    }
}

static void check_values(const struct ts_st_tensor *st, const struct ts_tensor *want) {
    struct ts_tensor got;
    ts_tensor_view(&got, st->dtype, st->rank, st->dims, (void *)st->data);
    CHECK(got.numel == want->numel);
    for (int64_t i = 0; i < got.numel && i < want->numel; i++) {
        if (ts_dtype_is_float(want->dtype))
            CHECK(ts_tensor_get_f64(&got, i) == ts_tensor_get_f64(want, i));
        else
            CHECK(ts_tensor_get_i64(&got, i) == ts_tensor_get_i64(want, i));
    }
}

static void test_round_trip_all_dtypes(void) {
    enum { MAXT = TS_DTYPE_COUNT * 5 + 1 };
    struct ts_tensor ts[MAXT];
    const char *names[MAXT];
    char namebuf[MAXT][32];
    static const int64_t dims[4] = {2, 3, 1, 2};
    struct ts_diag d;
    ts_diag_clear(&d);
    int n = 0;
    for (int t = 0; t < TS_DTYPE_COUNT; t++) {
        for (int rank = 0; rank <= 4; rank++) {
            snprintf(namebuf[n], sizeof namebuf[n], "%s.rank%d", ts_dtype_name((enum ts_dtype)t), rank);
            names[n] = namebuf[n];
            CHECK(ts_tensor_alloc(&ts[n], (enum ts_dtype)t, rank, dims, names[n], &d) == TS_OK);
            fill(&ts[n], n);
            n++;
        }
    }
    static const int64_t zero_dims[2] = {3, 0};
    names[n] = "empty";
    CHECK(ts_tensor_alloc(&ts[n], TS_F32, 2, zero_dims, "empty", &d) == TS_OK);
    n++;

    char path[128];
    tmp_path("all.safetensors", path, sizeof path);
    CHECK(ts_safetensors_write(path, n, names, ts, &d) == TS_OK);
    CHECK(count_temps() == 0);

    struct ts_safetensors *st = NULL;
    CHECK(ts_safetensors_open(path, &st, &d) == TS_OK);
    CHECK(d.status == TS_OK);
    if (st) {
        CHECK(st->ntensors == n);
        CHECK_STR(st->path, path);
        CHECK(st->map != NULL);
        for (int i = 0; i < n && i < st->ntensors; i++) {
            const struct ts_st_tensor *x = &st->tensors[i]; /* offset order = the order written */
            CHECK_STR(x->name, names[i]);
            CHECK(x->dtype == ts[i].dtype);
            CHECK(x->rank == ts[i].rank);
            CHECK(memcmp(x->dims, ts[i].dims, sizeof x->dims) == 0);
            CHECK(x->nbytes == ts[i].nbytes);
            CHECK(x->nbytes == 0 || memcmp(x->data, ts[i].data, x->nbytes) == 0);
            check_values(x, &ts[i]);
            CHECK(ts_safetensors_find(st, names[i]) == x);
        }
        CHECK(ts_safetensors_find(st, "f32.rank9") == NULL);
        CHECK(ts_safetensors_find(st, "") == NULL);
        /* The data of consecutive tensors is contiguous. */
        for (int i = 1; i < st->ntensors; i++)
            CHECK((const char *)st->tensors[i - 1].data + st->tensors[i - 1].nbytes ==
                  (const char *)st->tensors[i].data);
    }
    ts_safetensors_free(st);

    /* The same bytes through ts_safetensors_parse. */
    size_t size = 0;
    unsigned char *bytes = read_file(path, &size);
    st = NULL;
    CHECK(bytes && ts_safetensors_parse(bytes, size, "mem", &st, &d) == TS_OK);
    CHECK(st && st->ntensors == n && st->map == NULL);
    ts_safetensors_free(st);
    free(bytes);
    for (int i = 0; i < n; i++) ts_tensor_release(&ts[i]);
}

/* The writer's exact bytes: compact JSON in the given order, padded with
 * spaces to a multiple of 8, then the data. */
static void test_write_layout(void) {
    struct ts_diag d;
    ts_diag_clear(&d);
    float wv[4] = {1, 2, 3, 4};
    int32_t bv = -5;
    struct ts_tensor ts[2];
    ts_tensor_view(&ts[0], TS_F32, 2, (const int64_t[]){2, 2}, wv);
    ts_tensor_view(&ts[1], TS_I32, 0, NULL, &bv);
    const char *names[2] = {"w", "b"};
    char path[128];
    tmp_path("layout.safetensors", path, sizeof path);
    CHECK(ts_safetensors_write(path, 2, names, ts, &d) == TS_OK);
    size_t size = 0;
    unsigned char *b = read_file(path, &size);
    const char *json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                       "\"b\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[16,20]}}";
    size_t jl = strlen(json), hl = (jl + 7) / 8 * 8;
    CHECK(b && size == 8 + hl + 20);
    if (b && size == 8 + hl + 20) {
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--) n = n << 8 | b[i];
        CHECK(n == hl);
        CHECK(memcmp(b + 8, json, jl) == 0);
        bool spaces = true;
        for (size_t i = 8 + jl; i < 8 + hl; i++) spaces = spaces && b[i] == ' ';
        CHECK(spaces);
        CHECK(memcmp(b + 8 + hl, wv, 16) == 0);
        CHECK(memcmp(b + 8 + hl + 16, &bv, 4) == 0);
    }
    free(b);

    /* No tensors: "{}" and six spaces. */
    CHECK(ts_safetensors_write(path, 0, NULL, NULL, &d) == TS_OK);
    b = read_file(path, &size);
    CHECK(b && size == 16 && b[0] == 8 && memcmp(b + 8, "{}      ", 8) == 0);
    free(b);
    struct ts_safetensors *st = NULL;
    CHECK(ts_safetensors_open(path, &st, &d) == TS_OK && st && st->ntensors == 0);
    ts_safetensors_free(st);
}

/* Names that JSON must escape survive; names a file cannot hold are refused
 * without touching an existing target. */
static void test_write_names(void) {
    struct ts_diag d;
    ts_diag_clear(&d);
    uint8_t v[2] = {1, 0};
    struct ts_tensor ts[3];
    for (int i = 0; i < 3; i++) ts_tensor_view(&ts[i], TS_BOOL, 1, (const int64_t[]){2}, v);
    const char *odd[3] = {"a\"b\\c", "line\nbreak\t\x01", "caf\xc3\xa9 \xe2\x86\x92 x"};
    char path[128];
    tmp_path("names.safetensors", path, sizeof path);
    CHECK(ts_safetensors_write(path, 3, odd, ts, &d) == TS_OK);
    struct ts_safetensors *st = NULL;
    CHECK(ts_safetensors_open(path, &st, &d) == TS_OK);
    for (int i = 0; st && i < 3; i++) {
        const struct ts_st_tensor *x = ts_safetensors_find(st, odd[i]);
        CHECK(x && x->dtype == TS_BOOL && x->nbytes == 2 && memcmp(x->data, v, 2) == 0);
    }
    ts_safetensors_free(st);

    size_t before_size = 0, after_size = 0;
    unsigned char *before = read_file(path, &before_size);
    const char *dup[3] = {"x", "y", "x"};
    ts_diag_clear(&d);
    CHECK(ts_safetensors_write(path, 3, dup, ts, &d) == TS_ERR_IO);
    CHECK_STR(d.file, path);
    CHECK_STR(d.where, "tensor 'x'");
    CHECK_STR(d.what, "cannot write: the name is given twice (a safetensors file holds each name once)");
    const char *meta[1] = {"__metadata__"};
    ts_diag_clear(&d);
    CHECK(ts_safetensors_write(path, 1, meta, ts, &d) == TS_ERR_IO);
    CHECK_STR(d.what, "cannot write: the name is reserved for metadata");
    const char *bad_utf8[1] = {"bad\xff"};
    ts_diag_clear(&d);
    CHECK(ts_safetensors_write(path, 1, bad_utf8, ts, &d) == TS_ERR_IO);
    CHECK_STR(d.what, "cannot write: the name is not valid UTF-8");
    unsigned char *after = read_file(path, &after_size);
    CHECK(before && after && before_size == after_size && memcmp(before, after, after_size) == 0);
    free(before);
    free(after);

    /* A directory that does not exist: nothing is created. */
    ts_diag_clear(&d);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no/such/dir.safetensors", tmpdir);
    CHECK(ts_safetensors_write(missing, 1, odd, ts, &d) == TS_ERR_IO);
    CHECK_STR(d.what, "cannot create a temporary file beside it: No such file or directory");
}

/* ---- targets that are not plain files ----------------------------------- */

/* The bytes a write of the test tensor gives, from a plain file. */
static unsigned char *expected_bytes(const char *const *names, const struct ts_tensor *ts, size_t *size) {
    char path[160];
    struct ts_diag d;
    ts_diag_clear(&d);
    tmp_path("expected.safetensors", path, sizeof path);
    CHECK(ts_safetensors_write(path, 1, names, ts, &d) == TS_OK);
    unsigned char *b = read_file(path, size);
    unlink(path);
    return b;
}

static bool same_file_bytes(const char *path, const unsigned char *want, size_t want_size) {
    size_t size = 0;
    unsigned char *got = read_file(path, &size);
    bool same = got && want && size == want_size && memcmp(got, want, size) == 0;
    free(got);
    return same;
}

/* A FIFO is written through: a reader process gets the bytes, and the FIFO
 * stays a FIFO (a rename would have put a regular file in its place). */
static bool test_write_fifo(const char *const *names, const struct ts_tensor *ts, const unsigned char *want,
                            size_t want_size) {
    char fifo[160], out[160];
    tmp_path("pipe", fifo, sizeof fifo);
    tmp_path("pipe.out", out, sizeof out);
    CHECK(mkfifo(fifo, 0600) == 0);
    pid_t pid = fork();
    if (pid == 0) { /* the reader: copies what comes through the FIFO to a file */
        alarm(20);
        FILE *in = fopen(fifo, "rb"), *o = fopen(out, "wb");
        char buf[4096];
        size_t n;
        while (in && o && (n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, o);
        _exit(in && o && fclose(o) == 0 ? 0 : 1);
    }
    CHECK(pid > 0);
    struct ts_diag d;
    ts_diag_clear(&d);
    alarm(20); /* a bug that never opens the FIFO would leave the reader waiting */
    CHECK(ts_safetensors_write(fifo, 1, names, ts, &d) == TS_OK);
    alarm(0);
    int status = -1;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    struct stat sb;
    bool ok = lstat(fifo, &sb) == 0 && S_ISFIFO(sb.st_mode);
    CHECK(ok);
    bool same = same_file_bytes(out, want, want_size);
    CHECK(same);
    CHECK(count_temps() == 0);
    unlink(fifo);
    unlink(out);
    return ok && same;
}

/* A character device is written through, never replaced. The test makes its
 * own node for the null device (major 1, minor 3) rather than touch /dev/null,
 * and only once the FIFO test has shown that devices are written in place;
 * without the right to make device nodes it says so and skips. */
static void test_write_char_device(const char *const *names, const struct ts_tensor *ts) {
    char dev[160];
    tmp_path("null", dev, sizeof dev);
    if (mknod(dev, S_IFCHR | 0666, makedev(1, 3)) != 0) {
        printf("test_safetensors: skipping the character device test (mknod: %s)\n", strerror(errno));
        return;
    }
    struct stat before, after;
    CHECK(stat(dev, &before) == 0 && S_ISCHR(before.st_mode));
    struct ts_diag d;
    ts_diag_clear(&d);
    CHECK(ts_safetensors_write(dev, 1, names, ts, &d) == TS_OK);
    CHECK(lstat(dev, &after) == 0 && S_ISCHR(after.st_mode));
    CHECK(after.st_ino == before.st_ino && after.st_rdev == before.st_rdev);
    CHECK(count_temps() == 0);
    unlink(dev);
}

/* A symbolic link is followed: the file it names gets the bytes (its mode
 * kept) and the link stays a link; a dangling one creates its target when
 * the target's directory exists. */
static void test_write_symlinks(const char *const *names, const struct ts_tensor *ts, const unsigned char *want,
                                size_t want_size) {
    char sub[160], target[160], link[160], link2[160], buf[256];
    struct stat sb;
    struct ts_diag d;
    tmp_path("real", sub, sizeof sub);
    CHECK(mkdir(sub, 0700) == 0);
    tmp_path("real/target.safetensors", target, sizeof target);
    tmp_path("link.safetensors", link, sizeof link);
    tmp_path("link2.safetensors", link2, sizeof link2);

    /* To an existing file, by a relative path; through a chain of two links. */
    write_file(target, "old", 3);
    CHECK(chmod(target, 0640) == 0);
    CHECK(symlink("real/target.safetensors", link) == 0);
    CHECK(symlink("link.safetensors", link2) == 0);
    ts_diag_clear(&d);
    CHECK(ts_safetensors_write(link2, 1, names, ts, &d) == TS_OK);
    CHECK(lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode));
    CHECK(lstat(link2, &sb) == 0 && S_ISLNK(sb.st_mode));
    CHECK(lstat(target, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 07777) == 0640);
    CHECK(same_file_bytes(target, want, want_size));
    CHECK(count_temps() == 0);
    unlink(link2);

    /* Dangling, by an absolute path: the target is created, the link stays. */
    unlink(target);
    unlink(link);
    CHECK(symlink(target, link) == 0);
    ts_diag_clear(&d);
    CHECK(ts_safetensors_write(link, 1, names, ts, &d) == TS_OK);
    CHECK(lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode));
    CHECK(lstat(target, &sb) == 0 && S_ISREG(sb.st_mode));
    CHECK(same_file_bytes(target, want, want_size));
    unlink(target);

    /* Dangling into a directory that does not exist: an error, nothing made. */
    unlink(link);
    CHECK(symlink("real/no/such/dir/t.safetensors", link) == 0);
    ts_diag_clear(&d);
    CHECK(ts_safetensors_write(link, 1, names, ts, &d) == TS_ERR_IO);
    CHECK_STR(d.file, link);
    snprintf(buf, sizeof buf,
             "is a symbolic link to '%s/real/no/such/dir/t.safetensors', which cannot be created: its directory "
             "does not exist",
             tmpdir);
    CHECK_STR(d.what, buf);
    CHECK(lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode));

    /* A loop. */
    unlink(link);
    CHECK(symlink("link2.safetensors", link) == 0);
    CHECK(symlink("link.safetensors", link2) == 0);
    ts_diag_clear(&d);
    CHECK(ts_safetensors_write(link, 1, names, ts, &d) == TS_ERR_IO);
    CHECK_STR(d.what, "cannot follow the symbolic link: Too many levels of symbolic links");
    unlink(link2);

    /* To a directory. */
    unlink(link);
    CHECK(symlink("real", link) == 0);
    ts_diag_clear(&d);
    CHECK(ts_safetensors_write(link, 1, names, ts, &d) == TS_ERR_IO);
    CHECK_STR(d.what, "is a directory (through a symbolic link)");
    CHECK(lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode));
    unlink(link);
    CHECK(count_temps() == 0);
    rmdir(sub);
}

static void test_write_targets(void) {
    uint8_t v[2] = {1, 0};
    struct ts_tensor ts[1];
    ts_tensor_view(&ts[0], TS_BOOL, 1, (const int64_t[]){2}, v);
    const char *names[1] = {"flag"};
    size_t want_size = 0;
    unsigned char *want = expected_bytes(names, ts, &want_size);
    CHECK(want && want_size == 8 + 64 + 2);

    /* A directory is refused before anything is written. */
    char sub[160];
    struct ts_diag d;
    tmp_path("subdir", sub, sizeof sub);
    CHECK(mkdir(sub, 0700) == 0);
    ts_diag_clear(&d);
    CHECK(ts_safetensors_write(sub, 1, names, ts, &d) == TS_ERR_IO);
    CHECK_STR(d.file, sub);
    CHECK_STR(d.where, "");
    CHECK_STR(d.what, "is a directory");
    CHECK(count_temps() == 0);
    rmdir(sub);

    test_write_symlinks(names, ts, want, want_size);
    if (test_write_fifo(names, ts, want, want_size)) test_write_char_device(names, ts);
    free(want);
}

/* ---- open errors ------------------------------------------------------- */

static void test_open_errors(void) {
    struct ts_diag d;
    struct ts_safetensors *st = (struct ts_safetensors *)&d; /* must be reset to NULL */
    char path[128];
    ts_diag_clear(&d);
    CHECK(ts_safetensors_open(tmp_path("missing.safetensors", path, sizeof path), &st, &d) == TS_ERR_IO);
    CHECK(st == NULL);
    CHECK_STR(d.what, "cannot open: No such file or directory");
    CHECK_STR(d.where, "");

    ts_diag_clear(&d);
    CHECK(ts_safetensors_open(tmpdir, &st, &d) == TS_ERR_IO);
    CHECK_STR(d.what, "is a directory, not a safetensors file");

    ts_diag_clear(&d);
    CHECK(ts_safetensors_open("/dev/null", &st, &d) == TS_ERR_IO);
    CHECK_STR(d.what, "is not a regular file");

    ts_diag_clear(&d);
    write_file(tmp_path("empty.safetensors", path, sizeof path), "", 0);
    CHECK(ts_safetensors_open(path, &st, &d) == TS_ERR_PARSE);
    CHECK_STR(d.file, path);
    CHECK_STR(d.what, "the file is empty (a safetensors file starts with an 8-byte header length)");
    char msg[1400];
    ts_diag_format(&d, msg, sizeof msg);
    char want[400];
    snprintf(want, sizeof want, "%s: the file is empty (a safetensors file starts with an 8-byte header length)", path);
    CHECK_STR(msg, want);

    /* A malformed file is unmapped and reported with its path. */
    ts_diag_clear(&d);
    write_file(tmp_path("short.safetensors", path, sizeof path), "\x10\0\0", 3);
    CHECK(ts_safetensors_open(path, &st, &d) == TS_ERR_PARSE);
    CHECK_STR(d.where, "byte 0");
    CHECK_STR(d.what, "the file holds 3 bytes, too few for the 8-byte header length");
}

/* ---- malformed buffers in memory ---------------------------------------- */

/* Bytes of a file: the 8-byte length of 'header' (or hlen when not -1), the
 * header itself, then data_len bytes of data. */
static unsigned char *make(const char *header, long long hlen, size_t data_len, size_t *size) {
    size_t jl = strlen(header);
    uint64_t n = hlen >= 0 ? (uint64_t)hlen : jl;
    *size = 8 + jl + data_len;
    unsigned char *b = calloc(*size, 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(n >> (8 * i));
    memcpy(b + 8, header, jl);
    for (size_t i = 0; i < data_len; i++) b[8 + jl + i] = (unsigned char)(i * 7);
    return b;
}

static void expect_ok(const char *header, size_t data_len, int ntensors) {
    size_t size;
    unsigned char *b = make(header, -1, data_len, &size);
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_safetensors *st = NULL;
    CHECK(ts_safetensors_parse(b, size, "mem.safetensors", &st, &d) == TS_OK);
    if (d.status) fprintf(stderr, "  unexpected error: %s: %s\n", d.where, d.what);
    CHECK(st && st->ntensors == ntensors);
    ts_safetensors_free(st);
    free(b);
}

static void expect_err_raw(const unsigned char *b, size_t size, const char *where, const char *what) {
    struct ts_diag d;
    ts_diag_clear(&d);
    struct ts_safetensors *st = NULL;
    CHECK(ts_safetensors_parse(b, size, "mem.safetensors", &st, &d) == TS_ERR_PARSE);
    CHECK(st == NULL);
    CHECK_STR(d.file, "mem.safetensors");
    CHECK_STR(d.where, where);
    CHECK_STR(d.what, what);
}

static void expect_err(const char *header, size_t data_len, const char *where, const char *what) {
    size_t size;
    unsigned char *b = make(header, -1, data_len, &size);
    expect_err_raw(b, size, where, what);
    free(b);
}

#define W2X2 "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}"

static void test_valid_variants(void) {
    expect_ok("{" W2X2 "}", 16, 1);
    expect_ok("{" W2X2 "}      \t\n", 16, 1); /* padding */
    expect_ok("{\"__metadata__\":{\"format\":\"pt\",\"k\":\"v\"}," W2X2 "}", 16, 1);
    expect_ok("{" W2X2 ",\"__metadata__\":{}}", 16, 1);
    expect_ok("{}", 0, 0);
    /* Offsets out of header order; zero-size tensors anywhere. */
    expect_ok("{\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[16,24]}," W2X2 ","
              "\"z\":{\"dtype\":\"BF16\",\"shape\":[0,5],\"data_offsets\":[16,16]},"
              "\"z2\":{\"dtype\":\"BOOL\",\"shape\":[3,0],\"data_offsets\":[0,0]}}",
              24, 4);
    /* Unknown keys in an entry are ignored, as the reference reader does. */
    expect_ok("{\"w\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6],\"extra\":1}}", 6, 1);
    /* An escaped backslash before "u0000" is no NUL. */
    expect_ok("{\"w\\\\u0000\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]}}", 6, 1);
}

static void test_malformed(void) {
    const char *T = "tensor 'w'";
    /* File level. */
    expect_err_raw((const unsigned char *)"", 0, "",
                   "the file is empty (a safetensors file starts with an 8-byte header length)");
    expect_err_raw((const unsigned char *)"\x02\0\0\0\0", 5, "byte 0",
                   "the file holds 5 bytes, too few for the 8-byte header length");
    size_t size;
    unsigned char *b = make("{}", 200000000, 0, &size);
    expect_err_raw(b, size, "byte 0", "header length 200000000 is over the limit of 100000000 bytes");
    free(b);
    b = make("{}", 1000, 0, &size);
    expect_err_raw(b, size, "byte 0",
                   "header length 1000 runs past the end of the file (8 + 1000 bytes needed, the file holds 10)");
    free(b);
    b = make("{}", (long long)0xFFFFFFFFFFFFFFFull, 0, &size);
    expect_err_raw(b, size, "byte 0", "header length 1152921504606846975 is over the limit of 100000000 bytes");
    free(b);
    b = make("", 0, 4, &size);
    expect_err_raw(b, size, "byte 0", "header length is 0, but the header must hold a JSON object");
    free(b);

    /* Header level. */
    expect_err("{\"w\": [1, 2", 0, "header, line 1, column 12",
               "the file ends early (truncated?): expected ',' or ']' after an array element");
    expect_err("{\n\"w\": tru}", 0, "header, line 2, column 6",
               "invalid JSON: expected a value (object, array, string, number, true, false or null), got 'tru'");
    expect_err("{} x", 0, "header",
               "unexpected byte 0x78 after the JSON object at byte 11 (only spaces may pad the header)");
    expect_err("[1, 2]  ", 0, "header", "must be a JSON object of tensors, found an array");
    expect_err("\"w\"", 0, "header", "must be a JSON object of tensors, found a string");
    expect_err("{" W2X2 "," W2X2 "}", 16, T, "appears twice in the header (each name must be unique)");
    expect_err("{\"__metadata__\":[]," W2X2 "}", 16, "header", "__metadata__ must be an object of strings, found an array");
    expect_err("{\"__metadata__\":{\"a\":\"b\",\"n\":3}," W2X2 "}", 16, "header",
               "__metadata__ entry 'n' is a number, not a string");
    expect_err("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "header", "__metadata__ appears twice");
    /* NULs: cJSON would read "w\u0000x" as "w". A raw NUL after the object
     * is padding that is not spaces. "\\u0000" is a backslash and "u0000". */
    expect_err("{\"w\\u0000x\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16,
               "header, line 1, column 4", "\\u0000 (a NUL character) is not allowed in a string");
    b = make("{\"w?\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", -1, 16, &size);
    b[8 + 3] = 0;
    expect_err_raw(b, size, "header, line 1, column 4", "invalid JSON: a NUL byte (0x00) is not allowed in JSON text");
    b[8 + 3] = ' ';
    b[8 + 2] = 0;
    expect_err_raw(b, size, "header, line 1, column 3", "invalid JSON: a NUL byte (0x00) is not allowed in JSON text");
    free(b);
    b = make("{}   ", -1, 0, &size);
    b[8 + 3] = 0;
    expect_err_raw(b, size, "header", "unexpected byte 0x00 after the JSON object at byte 11 (only spaces may pad the header)");
    free(b);

    /* Tensor entries. */
    expect_err("{\"w\":3}", 0, T, "must be an object with dtype, shape and data_offsets, found a number");
    expect_err("{\"w\":{\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, T,
               "has no dtype (expected one of F32, F16, BF16, I32, I64, BOOL)");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}}", 16, T, "has no shape (expected an array of dims)");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2]}}", 16, T, "has no data_offsets (expected [begin, end])");
    expect_err("{\"w\":{\"dtype\":32,\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, T,
               "dtype must be a string such as \"F32\", found a number");
    expect_err("{\"w\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]}}", 32, T,
               "dtype F64 is not supported (tessera reads F32, F16, BF16, I32, I64, BOOL)");
    expect_err("{\"w\":{\"dtype\":\"f32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, T,
               "dtype f32 is not supported (tessera reads F32, F16, BF16, I32, I64, BOOL)");
    expect_err("{\"w\":{\"dtype\":\"I8\\n\",\"shape\":[2,2],\"data_offsets\":[0,4]}}", 4, T,
               "dtype I8\\x0A is not supported (tessera reads F32, F16, BF16, I32, I64, BOOL)");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":{},\"data_offsets\":[0,16]}}", 16, T,
               "shape must be an array of dims, found an object");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, T,
               "shape has 9 dims, more than the 8 tessera supports");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,16]}}", 16, T,
               "shape[1] is -3, not an integer in [0, 2^53)");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5,2],\"data_offsets\":[0,16]}}", 16, T,
               "shape[0] is 2.5, not an integer in [0, 2^53)");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, T,
               "shape[0] is a string, not an integer in [0, 2^53)");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,8]}}", 8, T,
               "shape[0] is 1.0000000000000001e+300, not an integer in [0, 2^53)");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16,32]}}", 32, T,
               "data_offsets must be [begin, end], found an array of 3 items");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":16}}", 16, T,
               "data_offsets must be [begin, end], found a number");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,null]}}", 16, T,
               "data_offsets[1] is null, not an integer in [0, 2^53)");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,0]}}", 16, T,
               "data_offsets [16, 0] begin after they end");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12, T,
               "data_offsets [0, 12] hold 12 bytes, but f32 [2, 2] needs 16");
    expect_err("{\"w\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, T,
               "data_offsets [0, 4] hold 4 bytes, but bf16 [] needs 2");
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,16]}}", 16, T,
               "f32 [4294967296, 4294967296] is too large: its size in bytes overflows 64 bits");
    expect_err("{\"w\":{\"dtype\":\"I64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,16]}}", 16, T,
               "shape[0] is 2305843009213693952, not an integer in [0, 2^53)");
    expect_err("{\"w\":{\"dtype\":\"I64\",\"shape\":[4294967296,536870912],\"data_offsets\":[0,16]}}", 16, T,
               "i64 [4294967296, 536870912] is too large: its size in bytes overflows 64 bits");

    /* Layout of the data section. */
    expect_err("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]}}", 24, T,
               "data_offsets [8, 24] start at 8, but the first tensor must start at 0");
    expect_err("{" W2X2 ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[20,28]}}", 28, "tensor 'b'",
               "data_offsets [20, 28] leave a hole of 4 bytes after tensor 'w', which ends at 16");
    expect_err("{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}," W2X2 "}", 20, "tensor 'b'",
               "data_offsets [12, 20] overlap tensor 'w' at [0, 16]");
    expect_err("{" W2X2 ",\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}", 16, "tensor 'z'",
               "data_offsets [4, 4] overlap tensor 'w' at [0, 16]");
    expect_err("{" W2X2 "}", 12, T, "data_offsets [0, 16] end at byte 81 of the file, but the file holds only 77 bytes");
    expect_err("{" W2X2 "}", 20, "byte 81", "4 bytes follow the end of the last tensor (the file must end there)");
    expect_err("{}", 3, "byte 10", "3 bytes follow the end of the header, which lists no tensors (the file must end there)");
    expect_err("{\"w\":{\"dtype\":\"\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, T,
               "dtype \"\" is not supported (tessera reads F32, F16, BF16, I32, I64, BOOL)");
    /* Names are quoted safely in messages: control bytes and bytes that are
     * not UTF-8 escaped, UTF-8 kept, long names cut. */
    expect_err("{\"caf\xc3\xa9\xff\xc3\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,2]}}", 2,
               "tensor 'caf\xc3\xa9\\xFF\\xC3'", "data_offsets [0, 2] hold 2 bytes, but f32 [] needs 4");
    char long_hdr[600], long_where[300];
    snprintf(long_hdr, sizeof long_hdr, "{\"%0300d\":3}", 0);
    snprintf(long_where, sizeof long_where, "tensor '%0156d...'", 0);
    expect_err(long_hdr, 0, long_where, "must be an object with dtype, shape and data_offsets, found a number");
    expect_err("{\"a\\u0001b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,2]}}", 2, "tensor 'a\\x01b'",
               "data_offsets [0, 2] hold 2 bytes, but f32 [] needs 4");
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ts_test_st_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip_all_dtypes();
    test_write_layout();
    test_write_names();
    test_write_targets();
    test_open_errors();
    test_valid_variants();
    test_malformed();

    /* Clean up the scratch directory. */
    DIR *dir = opendir(tmpdir);
    char path[512];
    for (struct dirent *e; dir && (e = readdir(dir));) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        unlink(path);
    }
    if (dir) closedir(dir);
    rmdir(tmpdir);
    return ts_test_finish("test_safetensors");
}
