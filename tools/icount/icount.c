/*
 * icount: a QEMU TCG plugin counting executed guest instructions between
 * marker calls in a firmware (see firmware-example/src/measure.rs).
 *
 * The firmware calls `constnet_mark(id)` (id 0..=255). QEMU 7.2 plugins
 * cannot read guest registers, so the marker passes `id` as an address: it
 * does one byte load from `constnet_mark + id`. The plugin watches byte loads
 * made by instructions inside the marker function and records
 * (id, instructions executed so far) for each.
 *
 * Arguments (QEMU 7.2 syntax: -plugin path/libicount.so,mark=0x...,out=...):
 *   mark=ADDR   address of `constnet_mark` (from nm; the Thumb bit is ignored). Required.
 *   size=N      bytes of the marker function to watch (default 64).
 *   start=ID    id starting an inference (default 0).
 *   end=ID      id ending an inference (default 255).
 *   out=FILE    write the report to FILE (default: qemu_plugin_outs, which
 *               QEMU 7.2 only shows with `-d plugin`).
 *
 * Report, written when QEMU exits:
 *   icount: <from> -> <to>: <n> instructions           (consecutive pairs, first 200)
 *   icount: pair <from> -> <to>: count=<k> first=<n> min=<n> max=<n> sum=<n>
 *   icount: inference <start> -> <end>: <n> instructions   (first start, next end)
 *   icount: marks=<k> total_instructions=<n>
 * A count between two marks is the number of instructions executed from one
 * marker's id load to the next's (so it includes the instructions of one
 * marker call: two back-to-back marks are 10 apart). Counting is per
 * translation block (inline add) with a
 * correction at the marker, so it is exact and deterministic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>

#include "qemu-plugin-min.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

static uint64_t insn_count;        /* executed instructions (one vCPU) */
static uint64_t mark_addr;         /* even address of constnet_mark */
static uint64_t mark_size = 64;
static unsigned start_id = 0, end_id = 255;
static const char *out_path;

struct event { uint64_t count; unsigned id; };
static struct event *events;
static size_t n_events, cap_events;

/* Memory callback on the marker's instructions; userdata = number of
 * instructions of this TB from this one to the end (already added to
 * insn_count at TB entry, not yet executed when this one started). */
static void on_mark_load(unsigned int vcpu, qemu_plugin_meminfo_t info,
                         uint64_t vaddr, void *udata)
{
    (void)vcpu;
    if (qemu_plugin_mem_size_shift(info) != 0) {
        return;                     /* not the id's byte load (e.g. literal pool) */
    }
    if (vaddr < mark_addr || vaddr - mark_addr > 255) {
        return;
    }
    if (n_events == cap_events) {
        cap_events = cap_events ? 2 * cap_events : 1024;
        events = realloc(events, cap_events * sizeof *events);
        if (!events) {
            abort();
        }
    }
    events[n_events].count = insn_count - (uint64_t)(uintptr_t)udata;
    events[n_events].id = (unsigned)(vaddr - mark_addr);
    n_events++;
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
                                             &insn_count, n);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t va = qemu_plugin_insn_vaddr(insn);
        if (va >= mark_addr && va < mark_addr + mark_size) {
            qemu_plugin_register_vcpu_mem_cb(insn, on_mark_load,
                                             QEMU_PLUGIN_CB_NO_REGS,
                                             /* Not MEM_R: QEMU 7.2's filter
                                              * reports stores for MEM_R and
                                              * drops the loads. The size and
                                              * address checks in on_mark_load
                                              * pick out the id's byte load. */
                                             QEMU_PLUGIN_MEM_RW,
                                             (void *)(uintptr_t)(n - i));
        }
    }
}

struct pair { unsigned from, to; uint64_t count, first, min, max, sum; };

static void on_plugin_exit(qemu_plugin_id_t id, void *udata)
{
    (void)id; (void)udata;
    FILE *f = NULL;
    char *buf = NULL;
    size_t len = 0;
    if (out_path) {
        f = fopen(out_path, "w");
    }
    if (!f) {
        f = open_memstream(&buf, &len);
    }

    struct pair *pairs = calloc(n_events ? n_events : 1, sizeof *pairs);
    size_t n_pairs = 0;
    const size_t max_lines = 200;
    for (size_t k = 1; k < n_events; k++) {
        unsigned a = events[k - 1].id, b = events[k].id;
        uint64_t d = events[k].count - events[k - 1].count;
        if (k <= max_lines) {
            fprintf(f, "icount: %u -> %u: %" PRIu64 " instructions\n", a, b, d);
        } else if (k == max_lines + 1) {
            fprintf(f, "icount: ... (%zu more pairs, summarized below)\n",
                    n_events - 1 - max_lines);
        }
        size_t p = 0;
        while (p < n_pairs && !(pairs[p].from == a && pairs[p].to == b)) {
            p++;
        }
        if (p == n_pairs) {
            pairs[p] = (struct pair){ a, b, 0, d, d, d, 0 };
            n_pairs++;
        }
        pairs[p].count++;
        pairs[p].sum += d;
        if (d < pairs[p].min) pairs[p].min = d;
        if (d > pairs[p].max) pairs[p].max = d;
    }
    for (size_t p = 0; p < n_pairs; p++) {
        fprintf(f, "icount: pair %u -> %u: count=%" PRIu64 " first=%" PRIu64
                " min=%" PRIu64 " max=%" PRIu64 " sum=%" PRIu64 "\n",
                pairs[p].from, pairs[p].to, pairs[p].count, pairs[p].first,
                pairs[p].min, pairs[p].max, pairs[p].sum);
    }
    for (size_t k = 0; k < n_events; k++) {
        if (events[k].id != start_id) {
            continue;
        }
        for (size_t e = k + 1; e < n_events; e++) {
            if (events[e].id == end_id) {
                fprintf(f, "icount: inference %u -> %u: %" PRIu64 " instructions\n",
                        start_id, end_id, events[e].count - events[k].count);
                break;
            }
        }
        break;
    }
    fprintf(f, "icount: marks=%zu total_instructions=%" PRIu64 "\n",
            n_events, insn_count);
    fclose(f);
    if (buf) {
        qemu_plugin_outs(buf);
        free(buf);
    }
    free(pairs);
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    *v = strtoull(s, &end, 0);
    return *s != '\0' && *end == '\0';
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                           const qemu_info_t *info,
                                           int argc, char **argv)
{
    (void)info;
    int have_mark = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strchr(a, '=');
        uint64_t v;
        if (!eq) {
            fprintf(stderr, "icount: bad argument '%s'\n", a);
            return -1;
        }
        size_t klen = (size_t)(eq - a);
        const char *val = eq + 1;
        if (klen == 4 && !strncmp(a, "mark", 4) && parse_u64(val, &v)) {
            mark_addr = v & ~(uint64_t)1;   /* drop the Thumb bit */
            have_mark = 1;
        } else if (klen == 4 && !strncmp(a, "size", 4) && parse_u64(val, &v)) {
            mark_size = v;
        } else if (klen == 5 && !strncmp(a, "start", 5) && parse_u64(val, &v) && v < 256) {
            start_id = (unsigned)v;
        } else if (klen == 3 && !strncmp(a, "end", 3) && parse_u64(val, &v) && v < 256) {
            end_id = (unsigned)v;
        } else if (klen == 3 && !strncmp(a, "out", 3)) {
            out_path = val;             /* argv stays valid while loaded */
        } else {
            fprintf(stderr, "icount: bad argument '%s'\n", a);
            return -1;
        }
    }
    if (!have_mark) {
        fprintf(stderr, "icount: missing mark=<address of constnet_mark>\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
    qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
    return 0;
}
