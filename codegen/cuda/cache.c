/* cache.c — the compile cache: one file per NVRTC compile, named by a SHA-256
 * key of everything that decides NVRTC's output (source, arch, options,
 * NVRTC's version and library file), holding the PTX, cubin and log. Entries
 * are written whole and renamed into place, and checked whole when read: a
 * torn, corrupt or foreign file is a miss (and is overwritten), never trusted. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* ---- SHA-256 (FIPS 180-4) --------------------------------------------------
 * Why not two 64-bit FNV/xxhash lanes: a key collision would silently load
 * another program's machine code, and a cache folder can be shared (CI
 * caches, a team's $TESSERA_CACHE_DIR). Lanes of one non-cryptographic family
 * are not independent, and their collisions can be constructed. SHA-256 has no
 * known collision, costs about a millisecond for a 200 KB source (NVRTC takes
 * seconds) and is short to write. The file name uses 128 bits of it; the
 * header keeps all 256, compared on every read. */

struct sha256 {
    uint32_t h[8];
    unsigned char buf[64];
    uint64_t len;  /* bytes hashed */
};

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha256_block(struct sha256 *s, const unsigned char *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
               p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
    uint32_t e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
    s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void sha256_init(struct sha256 *s) {
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, h0, sizeof h0);
    s->len = 0;
}

static void sha256_update(struct sha256 *s, const void *data, size_t n) {
    if (n == 0) return;  /* data may be NULL then */
    const unsigned char *p = data;
    size_t have = (size_t)(s->len % 64);
    s->len += n;
    if (have) {
        size_t take = 64 - have < n ? 64 - have : n;
        memcpy(s->buf + have, p, take);
        p += take, n -= take, have += take;
        if (have < 64) return;
        sha256_block(s, s->buf);
    }
    for (; n >= 64; p += 64, n -= 64) sha256_block(s, p);
    memcpy(s->buf, p, n);
}

static void sha256_final(struct sha256 *s, unsigned char out[32]) {
    uint64_t bits = s->len * 8;
    unsigned char pad[72] = {0x80};
    size_t have = (size_t)(s->len % 64), npad = (have < 56 ? 56 : 120) - have;
    for (int i = 0; i < 8; i++) pad[npad + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_update(s, pad, npad + 8);
    for (int i = 0; i < 32; i++) out[i] = (unsigned char)(s->h[i / 4] >> (24 - 8 * (i % 4)));
}

/* A field of the key: its length, then its bytes, so that no two different
 * field lists hash the same text ("ab","c" vs "a","bc"). */
static void key_field(struct sha256 *s, const void *data, size_t n) {
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)n >> (8 * i));
    sha256_update(s, len, 8);
    sha256_update(s, data, n);
}

void tsc_cache_key(const char *source, const struct ts_cuda_arch *arch, const char *const *opts,
                   int nopts, bool cubin, int nv_major, int nv_minor, unsigned char key[32]) {
    struct sha256 s;
    sha256_init(&s);
    char text[96];
    snprintf(text, sizeof text, "tessera cuda cache 1; nvrtc %d.%d; %s; %s", nv_major, nv_minor,
             arch->name, cubin ? "ptx+cubin" : "ptx");
    key_field(&s, text, strlen(text));
    int nfixed;
    const char *const *fixed = tsc_nvrtc_fixed_options(&nfixed), *lib = tsc_nvrtc_identity();
    for (int i = 0; i < nfixed; i++) key_field(&s, fixed[i], strlen(fixed[i]));
    key_field(&s, lib, strlen(lib));
    for (int i = 0; i < nopts; i++) key_field(&s, opts[i], strlen(opts[i]));
    key_field(&s, source, strlen(source));
    sha256_final(&s, key);
}

/* ---- the folder ---------------------------------------------------------- */

/* mkdir -p, private to the user: entries are machine code we will run. */
static bool make_dirs(char *path) {
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p) continue;
        char c = *p;
        *p = 0;
        bool ok = mkdir(path, 0700) == 0 || errno == EEXIST;
        *p = c;
        if (!ok) return false;
        if (!c) break;
    }
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) && access(path, W_OK | X_OK) == 0;
}

bool tsc_cache_dir(const char *cache_dir, char **out) {
    *out = NULL;
    const char *env = getenv("TESSERA_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"),
               *home = getenv("HOME");
    char *path = NULL;
    if (cache_dir && *cache_dir) path = strdup(cache_dir);
    else if (env && *env) path = strdup(env);
    else if ((xdg && *xdg == '/') || (home && *home)) {
        /* XDG says a relative $XDG_CACHE_HOME is invalid and to be ignored. */
        bool use_xdg = xdg && *xdg == '/';
        const char *base = use_xdg ? xdg : home, *tail = use_xdg ? "/tessera" : "/.cache/tessera";
        size_t n = strlen(base) + strlen(tail) + 1;
        path = malloc(n);
        if (path) snprintf(path, n, "%s%s", base, tail);
    }
    if (!path) return false;
    if (!make_dirs(path)) {
        free(path);
        return false;
    }
    *out = path;
    return true;
}

/* ---- entries --------------------------------------------------------------
 * Little-endian header, then the PTX (no NUL), the cubin and the log:
 *   0  magic "tsnvrtc\0"      8  u32 format (1)     12 u32 header bytes (112)
 *   16 key[32]                48 u64 ptx bytes      56 u64 cubin bytes
 *   64 u64 log bytes          72 SHA-256 of the payload[32]
 *   104 u32 reserved ×2 (0) */

#define ENTRY_MAGIC "tsnvrtc"
#define ENTRY_FORMAT 1u
#define ENTRY_HEADER 112u
#define ENTRY_MAX_PART ((uint64_t)1 << 30)  /* no part is near 1 GiB; larger is corrupt */

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static char *entry_path(const char *dir, const unsigned char key[32]) {
    size_t n = strlen(dir) + 40;
    char *path = malloc(n);
    if (!path) return NULL;
    int len = snprintf(path, n, "%s/", dir);
    for (int i = 0; i < 16; i++) len += snprintf(path + len, n - (size_t)len, "%02x", key[i]);
    snprintf(path + len, n - (size_t)len, ".tsc");
    return path;
}

static void payload_digest(const void *ptx, uint64_t nptx, const void *cubin, uint64_t ncubin,
                           const void *log, uint64_t nlog, unsigned char out[32]) {
    struct sha256 s;
    sha256_init(&s);
    sha256_update(&s, ptx, (size_t)nptx);
    sha256_update(&s, cubin, (size_t)ncubin);
    sha256_update(&s, log, (size_t)nlog);
    sha256_final(&s, out);
}

/* Reads the whole file (at most max bytes); NULL if it cannot or is larger. */
static unsigned char *read_all(const char *path, uint64_t max, uint64_t *size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    unsigned char *buf = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size <= max &&
        (buf = malloc((size_t)st.st_size + 1))) {
        size_t got = 0, want = (size_t)st.st_size;
        while (got < want) {
            ssize_t r = read(fd, buf + got, want - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (got != want) {
            free(buf);
            buf = NULL;
        }
        *size = want;
    }
    close(fd);
    return buf;
}

bool tsc_cache_load(const char *dir, const unsigned char key[32], struct ts_nvrtc_result *out) {
    memset(out, 0, sizeof *out);
    char *path = entry_path(dir, key);
    if (!path) return false;
    uint64_t size = 0;
    unsigned char *f = read_all(path, ENTRY_HEADER + 3 * ENTRY_MAX_PART, &size);
    free(path);
    if (!f) return false;
    bool ok = size >= ENTRY_HEADER && memcmp(f, ENTRY_MAGIC, 8) == 0 &&
              get32(f + 8) == ENTRY_FORMAT && get32(f + 12) == ENTRY_HEADER &&
              memcmp(f + 16, key, 32) == 0;
    uint64_t nptx = ok ? get64(f + 48) : 0, ncubin = ok ? get64(f + 56) : 0,
             nlog = ok ? get64(f + 64) : 0;
    ok = ok && nptx <= ENTRY_MAX_PART && ncubin <= ENTRY_MAX_PART && nlog <= ENTRY_MAX_PART &&
         size == ENTRY_HEADER + nptx + ncubin + nlog;
    const unsigned char *ptx = f + ENTRY_HEADER, *cubin = ptx + nptx, *log = cubin + ncubin;
    unsigned char digest[32];
    if (ok) {
        payload_digest(ptx, nptx, cubin, ncubin, log, nlog, digest);
        ok = memcmp(digest, f + 72, 32) == 0;
    }
    /* What NVRTC gives: text PTX (no NUL inside), an ELF cubin. */
    ok = ok && nptx > 0 && memchr(ptx, 0, (size_t)nptx) == NULL &&
         (ncubin == 0 || (ncubin >= 4 && memcmp(cubin, "\x7f" "ELF", 4) == 0)) &&
         memchr(log, 0, (size_t)nlog) == NULL;
    if (ok) {
        out->ptx = malloc((size_t)nptx + 1);
        out->cubin = ncubin ? malloc((size_t)ncubin) : NULL;
        out->log = malloc((size_t)nlog + 1);
        ok = out->ptx && out->log && (!ncubin || out->cubin);
    }
    if (ok) {
        memcpy(out->ptx, ptx, (size_t)nptx);
        out->ptx[nptx] = 0;
        out->ptx_size = (size_t)nptx;
        if (ncubin) memcpy(out->cubin, cubin, (size_t)ncubin);
        out->cubin_size = (size_t)ncubin;
        memcpy(out->log, log, (size_t)nlog);
        out->log[nlog] = 0;
    } else {
        ts_nvrtc_result_free(out);
    }
    free(f);
    return ok;
}

static bool write_all(int fd, const void *data, size_t n) {
    const unsigned char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w, n -= (size_t)w;
    }
    return true;
}

void tsc_cache_store(const char *dir, const unsigned char key[32], const struct ts_nvrtc_result *r) {
    char *path = entry_path(dir, key);
    if (!path || !r->ptx) {
        free(path);
        return;
    }
    /* A private temp file in the same folder, renamed over the entry: a
     * reader sees the old file or the new one, never a mix, and concurrent
     * writers of one key each rename a whole file (the last one stays). */
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) {
        free(path);
        return;
    }
    snprintf(tmp, n, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd >= 0) {
        const char *log = r->log ? r->log : "";
        uint64_t nlog = strlen(log);
        unsigned char h[ENTRY_HEADER] = {0};
        memcpy(h, ENTRY_MAGIC, 8);
        put32(h + 8, ENTRY_FORMAT);
        put32(h + 12, ENTRY_HEADER);
        memcpy(h + 16, key, 32);
        put64(h + 48, r->ptx_size);
        put64(h + 56, r->cubin_size);
        put64(h + 64, nlog);
        payload_digest(r->ptx, r->ptx_size, r->cubin, r->cubin_size, log, nlog, h + 72);
        bool ok = write_all(fd, h, sizeof h) && write_all(fd, r->ptx, r->ptx_size) &&
                  (!r->cubin_size || write_all(fd, r->cubin, r->cubin_size)) &&
                  write_all(fd, log, (size_t)nlog);
        ok = close(fd) == 0 && ok;
        if (!ok || rename(tmp, path) != 0) unlink(tmp);
    }
    free(tmp);
    free(path);
}
