/* emu_warp.cpp — the emulator's warp collectives and cp.async. A lane at a
 * shuffle, ldmatrix or mma.sync leaves its operands in its fiber and blocks;
 * the 32nd lane to arrive performs the instruction for the whole warp, with
 * the PTX ISA's fragment layouts, and releases the others. cp.async copies
 * are queued per thread and performed only when a wait retires their group. */
#include <stdlib.h>
#include <string.h>

#include "emu_internal.h"

namespace tsemu {

const char *const collective_names[] = {"none", "shuffle", "ldmatrix", "mma.sync"};

namespace {

/* ---- cp.async ------------------------------------------------------------------ */

void cp_perform(const cp_op *op) {
    if (op->src_bytes > 0) memcpy(op->dst, op->src, (size_t)op->src_bytes);
    if (op->src_bytes < op->size) memset((char *)op->dst + op->src_bytes, 0, (size_t)(op->size - op->src_bytes));
}

/* ---- warp collectives ----------------------------------------------------------- */

void do_shfl(fiber *lanes) {
    for (int l = 0; l < 32; l++) {
        fiber *f = &lanes[l];
        int src;
        if (f->kind == 0) { /* shfl.bfly: a source lane past 31 gives the lane's own value */
            src = l ^ f->arg;
            if (src < 0 || src > 31) src = l;
        } else {
            src = f->arg & 31;
        }
        f->result = lanes[src].val;
    }
}

bool do_ldmatrix(fiber *lanes, int nmat, bool trans) {
    ts_u16 m[4][8][8];
    for (int j = 0; j < nmat; j++)
        for (int r = 0; r < 8; r++) {
            const fiber *f = &lanes[8 * j + r];
            if (!f->addr || ((uintptr_t)f->addr & 15)) {
                fail_here("thread %d: line %d: ldmatrix row address %p (matrix %d row %d) is not 16-byte aligned",
                          f->tid, f->line, f->addr, j, r);
                return false;
            }
            memcpy(m[j][r], f->addr, 16);
        }
    for (int l = 0; l < 32; l++) {
        int row = l / 4, col = 2 * (l % 4);
        for (int j = 0; j < nmat; j++) {
            ts_u16 lo = trans ? m[j][col][row] : m[j][row][col];
            ts_u16 hi = trans ? m[j][col + 1][row] : m[j][row][col + 1];
            lanes[l].regs[j] = (ts_u32)lo | ((ts_u32)hi << 16);
        }
    }
    return true;
}

/* f16 → f32 of every bit pattern, built on first use (decoding is the
 * larger part of an emulated mma otherwise). */
float f16_table[65536];
bool f16_table_ready;

float mma_elem(int kind, ts_u32 reg, int half) {
    ts_u16 h = (ts_u16)(half ? reg >> 16 : reg & 0xffffu);
    if (kind == TS_EMU_MMA_F16) return f16_table[h];
    if (kind == TS_EMU_MMA_BF16) return ts_bf16_to_f32(h);
    return ts_as_f32(reg & 0xffffe000u); /* tf32: the low 13 bits are not used */
}

void do_mma(fiber *lanes, int kind) {
    if (kind == TS_EMU_MMA_F16 && !f16_table_ready) {
        for (unsigned h = 0; h < 65536; h++) f16_table[h] = ts_f16_to_f32((ts_u16)h);
        f16_table_ready = true;
    }
    bool tf32 = kind == TS_EMU_MMA_TF32;
    int kdim = tf32 ? 8 : 16;
    float A[16][16], B[16][8], D[16][8];
    for (int l = 0; l < 32; l++) {
        const fiber *f = &lanes[l];
        int g = l / 4, t = l % 4;
        if (tf32) {
            A[g][t] = mma_elem(kind, f->a[0], 0);
            A[g + 8][t] = mma_elem(kind, f->a[1], 0);
            A[g][t + 4] = mma_elem(kind, f->a[2], 0);
            A[g + 8][t + 4] = mma_elem(kind, f->a[3], 0);
            B[t][g] = mma_elem(kind, f->b[0], 0);
            B[t + 4][g] = mma_elem(kind, f->b[1], 0);
        } else {
            for (int h = 0; h < 2; h++) {
                A[g][2 * t + h] = mma_elem(kind, f->a[0], h);
                A[g + 8][2 * t + h] = mma_elem(kind, f->a[1], h);
                A[g][2 * t + 8 + h] = mma_elem(kind, f->a[2], h);
                A[g + 8][2 * t + 8 + h] = mma_elem(kind, f->a[3], h);
                B[2 * t + h][g] = mma_elem(kind, f->b[0], h);
                B[2 * t + 8 + h][g] = mma_elem(kind, f->b[1], h);
            }
        }
        D[g][2 * t] = f->d[0];
        D[g][2 * t + 1] = f->d[1];
        D[g + 8][2 * t] = f->d[2];
        D[g + 8][2 * t + 1] = f->d[3];
    }
    /* Products of f16, bf16 and tf32 values are exact in f32; each D element
     * sums its products in k order in f32 (eight independent chains per row). */
    for (int i = 0; i < 16; i++) {
        float acc[8];
        for (int j = 0; j < 8; j++) acc[j] = D[i][j];
        for (int k = 0; k < kdim; k++) {
            float a = A[i][k];
            for (int j = 0; j < 8; j++) acc[j] += a * B[k][j];
        }
        for (int j = 0; j < 8; j++) D[i][j] = acc[j];
    }
    for (int l = 0; l < 32; l++) {
        fiber *f = &lanes[l];
        int g = l / 4, t = l % 4;
        f->d[0] = D[g][2 * t];
        f->d[1] = D[g][2 * t + 1];
        f->d[2] = D[g + 8][2 * t];
        f->d[3] = D[g + 8][2 * t + 1];
    }
}

/* The running lane arrives at a collective (its operands already in its
 * fiber); the 32nd performs it for all and releases the others. */
void warp_arrive(collective what, int line) {
    fiber *f = E.cur;
    f->line = line;
    warp *w = &E.warps[f->tid / 32];
    if (w->nlanes != 32) {
        fail_here("thread %d: line %d: %s in a warp of %d threads (warp collectives need blockDim.x a "
                  "multiple of 32)", f->tid, line, collective_names[what], w->nlanes);
        fiber_fail();
    }
    if (w->arrived == 0) {
        w->what = what;
        w->line = line;
        w->kind = f->kind;
        w->first_lane = f->tid;
    } else if (w->what != what || w->line != line || w->kind != f->kind) {
        fail_here("divergent warp: thread %d at %s (line %d) while thread %d waits at %s (line %d)", f->tid,
                  collective_names[what], line, w->first_lane, collective_names[w->what], w->line);
        fiber_fail();
    }
    if (++w->arrived < 32) {
        f->state = AT_WARP;
        to_scheduler();
        return;
    }
    fiber *lanes = &E.fibers[f->tid / 32 * 32];
    w->arrived = 0;
    bool ok = true;
    switch (what) {
    case C_SHFL: do_shfl(lanes); break;
    case C_LDMATRIX: ok = do_ldmatrix(lanes, f->nmat, f->trans); break;
    case C_MMA: do_mma(lanes, f->kind); break;
    default: break;
    }
    if (!ok) fiber_fail();
    for (int l = 0; l < 32; l++)
        if (&lanes[l] != f) lanes[l].state = READY;
}

} // namespace
} // namespace tsemu

using namespace tsemu;

uint64_t ts_emu_shfl(uint64_t v, int idx_mode, int arg, int line) {
    fiber *f = E.cur;
    f->val = v;
    f->kind = idx_mode;
    f->arg = arg;
    warp_arrive(C_SHFL, line);
    return f->result;
}

void ts_emu_ldmatrix(ts_u32 *r, int nmat, bool trans, const void *smem, int line) {
    fiber *f = E.cur;
    f->regs = r;
    f->nmat = nmat;
    f->trans = trans;
    f->kind = nmat * 2 + trans;
    f->addr = smem;
    warp_arrive(C_LDMATRIX, line);
}

void ts_emu_mma(int kind, float d[4], const ts_u32 a[4], const ts_u32 b[2], int line) {
    fiber *f = E.cur;
    f->kind = kind;
    f->d = d;
    f->a = a;
    f->b = b;
    warp_arrive(C_MMA, line);
}

void ts_emu_cp_async(void *smem, const void *gmem, int size, int src_bytes, int line) {
    fiber *f = E.cur;
    if (src_bytes < 0 || src_bytes > size)
        ts_emu_fail(line, "cp.async of %d bytes with src_bytes %d (0 … %d)", size, src_bytes, size);
    if ((uintptr_t)smem % (uintptr_t)size || (uintptr_t)gmem % (uintptr_t)size)
        ts_emu_fail(line, "cp.async of %d bytes: addresses %p (shared) and %p (global) must be %d-byte aligned",
                    size, smem, gmem, size);
    if (!gmem) ts_emu_fail(line, "cp.async from a null global address");
    unsigned char *s = (unsigned char *)smem;
    if (s < ts_emu_smem || s + size > ts_emu_smem + ts_emu_smem_bytes)
        ts_emu_fail(line, "cp.async destination %p is outside the block's %u bytes of dynamic shared memory",
                    smem, ts_emu_smem_bytes);
    if (f->ncp == f->capcp) {
        int cap = f->capcp ? 2 * f->capcp : 64;
        cp_op *n = (cp_op *)realloc(f->cp, sizeof(cp_op) * (size_t)cap);
        if (!n) ts_emu_fail(line, "out of memory for cp.async bookkeeping");
        f->cp = n;
        f->capcp = cap;
    }
    f->cp[f->ncp++] = cp_op{smem, gmem, size, src_bytes, f->group};
}

void ts_emu_cp_async_commit(void) { E.cur->group++; }

/* cp.async.wait_group n: the copies of every committed group but the newest
 * n are performed now (none before: a missing wait reads stale data). */
void ts_emu_cp_async_wait(int n) {
    fiber *f = E.cur;
    unsigned limit = f->group >= (unsigned)n ? f->group - (unsigned)n : 0;
    int done = 0;
    while (done < f->ncp && f->cp[done].group < limit) cp_perform(&f->cp[done++]);
    if (done == 0) return; /* also: f->cp may be NULL, and memmove(NULL, …) is undefined */
    memmove(f->cp, f->cp + done, sizeof(cp_op) * (size_t)(f->ncp - done));
    f->ncp -= done;
}
