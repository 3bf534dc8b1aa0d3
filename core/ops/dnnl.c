/* core/ops/dnnl.c: oneDNN engine, stream and primitive cache, and the choice of
 * CPU convolution implementation (see dnnl.h).
 *
 * Cache: a small array of entries searched linearly (a training graph has a few
 * dozen conv shapes; a lookup costs far less than the convolution), each
 * holding the primitive, one plain "user" memory object per argument, and for
 * arguments whose primitive layout differs, the reorder primitive and a memory
 * object in that layout. Eviction: least recently used when the capacity is
 * reached. One mutex covers lookup and execution, so memory objects are never
 * shared between threads.
 */
#include "dnnl.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../alloc.h"
#include "../device.h"
#include "../error.h"

static pthread_once_t impl_once = PTHREAD_ONCE_INIT;
static mt_conv_impl impl_env = MT_CONV_IMPL_AUTO;
static int impl_forced = -1;

static void impl_read_env(void)
{
    const char *s = getenv("MT_CONV_IMPL");
    if (!s || !*s || !strcmp(s, "auto")) return;
    if (!strcmp(s, "im2col")) impl_env = MT_CONV_IMPL_IM2COL;
    else if (!strcmp(s, "dnnl") || !strcmp(s, "onednn")) impl_env = MT_CONV_IMPL_DNNL;
    else if (!strcmp(s, "winograd")) impl_env = MT_CONV_IMPL_WINOGRAD;
    else fprintf(stderr, "medtrain: MT_CONV_IMPL=%s is not auto, im2col, dnnl or winograd; using auto\n", s);
}

const char *mt_conv_impl_name(mt_conv_impl impl)
{
    switch (impl) {
    case MT_CONV_IMPL_IM2COL: return "im2col";
    case MT_CONV_IMPL_DNNL: return "dnnl";
    case MT_CONV_IMPL_WINOGRAD: return "winograd";
    default: return "auto";
    }
}

mt_conv_impl mt_conv_get_impl(void)
{
    if (impl_forced >= 0) return (mt_conv_impl)impl_forced;
    pthread_once(&impl_once, impl_read_env);
#if MT_HAVE_DNNL
    return impl_env;
#else
    return impl_env == MT_CONV_IMPL_DNNL ? MT_CONV_IMPL_IM2COL : impl_env;
#endif
}

mt_conv_impl mt_conv_set_impl(mt_conv_impl impl)
{
    mt_conv_impl prev = mt_conv_get_impl();
    impl_forced = (int)impl;
    return prev;
}

#if MT_HAVE_DNNL
#include <dnnl_debug.h>

#define KEY_BYTES 128
#define ALIGN 64

typedef struct dnnl_arg_slot {
    int arg, is_output;
    dnnl_memory_t user;      /* plain layout, wraps medtrain's buffer */
    dnnl_memory_t prim;      /* the primitive's layout; NULL when equal to user's */
    dnnl_primitive_t reorder; /* user -> prim (input) or prim -> user (output) */
    size_t prim_bytes;
} dnnl_arg_slot;

typedef struct dnnl_entry {
    unsigned char key[KEY_BYTES];
    size_t key_bytes;
    dnnl_primitive_t prim;
    int n_args;
    dnnl_arg_slot a[MT_DNNL_MAX_ARGS];
    dnnl_memory_t scratchpad; /* NULL when the primitive needs none */
    size_t scratch_bytes;
    unsigned long long last_use;
} dnnl_entry;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t engine;
static dnnl_stream_t stream;
static dnnl_entry **entries;
static int n_entries, cap_entries, capacity = -1;
static unsigned long long use_clock, misses;
static int atexit_done;
static int plain_layout;

mt_status mt_dnnl_check_at(dnnl_status_t st, const char *call, const char *name, const char *file, int line)
{
    if (st == dnnl_success) return MT_OK;
    char fn[64];
    size_t k = strcspn(call, "(");
    snprintf(fn, sizeof fn, "%.*s", (int)(k < sizeof fn - 1 ? k : sizeof fn - 1), call);
    return mt_error_set(st == dnnl_invalid_arguments ? MT_ERR_INVALID : MT_ERR_UNSUPPORTED, file, line,
                        "oneDNN %s failed (%s) for %s", fn, dnnl_status2str(st), name);
}

int mt_dnnl_set_plain_layout(int plain)
{
    int prev = plain_layout;
    plain_layout = plain ? 1 : 0;
    return prev;
}

int mt_dnnl_plain_layout(void) { return plain_layout; }

static void entry_destroy(dnnl_entry *e)
{
    if (!e) return;
    if (e->prim) dnnl_primitive_destroy(e->prim);
    for (int i = 0; i < e->n_args; i++) {
        if (e->a[i].user) dnnl_memory_destroy(e->a[i].user);
        if (e->a[i].prim) dnnl_memory_destroy(e->a[i].prim);
        if (e->a[i].reorder) dnnl_primitive_destroy(e->a[i].reorder);
    }
    if (e->scratchpad) dnnl_memory_destroy(e->scratchpad);
    free(e);
}

static void release_locked(void)
{
    for (int i = 0; i < n_entries; i++) entry_destroy(entries[i]);
    free(entries);
    entries = NULL;
    n_entries = cap_entries = 0;
    if (stream) dnnl_stream_destroy(stream);
    if (engine) dnnl_engine_destroy(engine);
    stream = NULL;
    engine = NULL;
}

void mt_dnnl_release(void)
{
    pthread_mutex_lock(&cache_mu);
    release_locked();
    pthread_mutex_unlock(&cache_mu);
}

static void read_capacity_locked(void)
{
    if (capacity > 0) return;
    capacity = 256;
    const char *s = getenv("MT_DNNL_CACHE_CAPACITY");
    if (s && atoi(s) > 0) capacity = atoi(s);
}

static void evict_to_locked(int keep)
{
    while (n_entries > keep) {
        int lru = 0;
        for (int i = 1; i < n_entries; i++)
            if (entries[i]->last_use < entries[lru]->last_use) lru = i;
        entry_destroy(entries[lru]);
        entries[lru] = entries[--n_entries];
    }
}

int mt_dnnl_cache_set_capacity(int n)
{
    pthread_mutex_lock(&cache_mu);
    read_capacity_locked();
    int prev = capacity;
    capacity = n < 1 ? 1 : n;
    evict_to_locked(capacity);
    pthread_mutex_unlock(&cache_mu);
    return prev;
}

int mt_dnnl_cache_size(void)
{
    pthread_mutex_lock(&cache_mu);
    int n = n_entries;
    pthread_mutex_unlock(&cache_mu);
    return n;
}

unsigned long long mt_dnnl_cache_misses(void)
{
    pthread_mutex_lock(&cache_mu);
    unsigned long long m = misses;
    pthread_mutex_unlock(&cache_mu);
    return m;
}

static mt_status engine_locked(void)
{
    if (engine) return MT_OK;
    MT_DNNL_TRY(dnnl_engine_create(&engine, dnnl_cpu, 0), "the CPU engine");
    dnnl_status_t st = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
    if (st != dnnl_success) {
        dnnl_engine_destroy(engine);
        engine = NULL;
        stream = NULL;
        MT_DNNL_TRY(st, "the CPU stream");
    }
    if (!atexit_done) {
        atexit_done = 1;
        atexit(mt_dnnl_release);
    }
    return MT_OK;
}

/* Sets up argument slot s of e from the primitive descriptor. */
static mt_status slot_init(dnnl_arg_slot *s, const_dnnl_primitive_desc_t pd, const dnnl_memory_desc_t *user_md,
                           const char *name)
{
    MT_DNNL_TRY(dnnl_memory_create(&s->user, user_md, engine, DNNL_MEMORY_NONE), name);
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, s->arg);
    if (!md) return MT_ERR(MT_ERR_UNSUPPORTED, "oneDNN: no memory descriptor for argument %d of %s", s->arg, name);
    if (dnnl_memory_desc_equal(md, user_md)) return MT_OK;
    s->prim_bytes = dnnl_memory_desc_get_size(md);
    MT_DNNL_TRY(dnnl_memory_create(&s->prim, md, engine, DNNL_MEMORY_NONE), name);
    dnnl_primitive_desc_t rpd = NULL;
    const dnnl_memory_desc_t *from = s->is_output ? md : user_md, *to = s->is_output ? user_md : md;
    MT_DNNL_TRY(dnnl_reorder_primitive_desc_create(&rpd, from, engine, to, engine, NULL), name);
    dnnl_status_t st = dnnl_primitive_create(&s->reorder, rpd);
    dnnl_primitive_desc_destroy(rpd);
    MT_DNNL_TRY(st, name);
    return MT_OK;
}

static mt_status entry_build(dnnl_entry *e, const char *name, mt_dnnl_build_fn build, const void *ctx)
{
    dnnl_primitive_attr_t attr = NULL;
    MT_DNNL_TRY(dnnl_primitive_attr_create(&attr), name);
    dnnl_status_t st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (st != dnnl_success) {
        dnnl_primitive_attr_destroy(attr);
        MT_DNNL_TRY(st, name);
    }
    dnnl_primitive_desc_t pd = NULL;
    mt_dnnl_args args;
    memset(&args, 0, sizeof args);
    mt_status s = build(ctx, engine, attr, &pd, &args);
    dnnl_primitive_attr_destroy(attr);
    if (s != MT_OK) return s;
    s = mt_dnnl_check_at(dnnl_primitive_create(&e->prim, pd), "dnnl_primitive_create", name, __FILE__, __LINE__);
    e->n_args = args.n;
    for (int i = 0; i < args.n && s == MT_OK; i++) {
        e->a[i].arg = args.arg[i];
        e->a[i].is_output = args.is_output[i];
        s = slot_init(&e->a[i], pd, &args.user_md[i], name);
    }
    if (s == MT_OK) {
        const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        e->scratch_bytes = smd ? dnnl_memory_desc_get_size(smd) : 0;
        if (e->scratch_bytes)
            s = mt_dnnl_check_at(dnnl_memory_create(&e->scratchpad, smd, engine, DNNL_MEMORY_NONE),
                                 "dnnl_memory_create", name, __FILE__, __LINE__);
    }
    dnnl_primitive_desc_destroy(pd);
    return s;
}

static size_t round_up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

static mt_status entry_exec(dnnl_entry *e, const char *name, void *const *ptr)
{
    size_t bytes = round_up(e->scratch_bytes);
    for (int i = 0; i < e->n_args; i++) bytes += round_up(e->a[i].prim_bytes);
    void *block = NULL;
    if (bytes) MT_TRY(mt_alloc(mt_cpu(), bytes + ALIGN, &block));
    char *p = (char *)(((uintptr_t)block + ALIGN - 1) / ALIGN * ALIGN);
    mt_status s = MT_OK;
    dnnl_exec_arg_t ea[MT_DNNL_MAX_ARGS + 1];
    int n_ea = 0;
#define EXEC_TRY(call)                                                                              \
    do {                                                                                            \
        if (s == MT_OK) s = mt_dnnl_check_at((call), #call, name, __FILE__, __LINE__);             \
    } while (0)
    if (e->scratchpad) {
        EXEC_TRY(dnnl_memory_set_data_handle(e->scratchpad, p));
        p += round_up(e->scratch_bytes);
        ea[n_ea].arg = DNNL_ARG_SCRATCHPAD;
        ea[n_ea++].memory = e->scratchpad;
    }
    for (int i = 0; i < e->n_args; i++) {
        dnnl_arg_slot *a = &e->a[i];
        EXEC_TRY(dnnl_memory_set_data_handle(a->user, ptr[i]));
        ea[n_ea].arg = a->arg;
        ea[n_ea++].memory = a->prim ? a->prim : a->user;
        if (!a->prim) continue;
        EXEC_TRY(dnnl_memory_set_data_handle(a->prim, p));
        p += round_up(a->prim_bytes);
        if (!a->is_output) {
            dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, a->user}, {DNNL_ARG_TO, a->prim}};
            EXEC_TRY(dnnl_primitive_execute(a->reorder, stream, 2, ra));
        }
    }
    EXEC_TRY(dnnl_primitive_execute(e->prim, stream, n_ea, ea));
    for (int i = 0; i < e->n_args; i++) {
        dnnl_arg_slot *a = &e->a[i];
        if (!a->prim || !a->is_output) continue;
        dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, a->prim}, {DNNL_ARG_TO, a->user}};
        EXEC_TRY(dnnl_primitive_execute(a->reorder, stream, 2, ra));
    }
    EXEC_TRY(dnnl_stream_wait(stream));
#undef EXEC_TRY
    if (block) mt_free(mt_cpu(), block, bytes + ALIGN);
    return s;
}

/* The entry for key, built on a miss (evicting the least recently used). */
static mt_status lookup_locked(const void *key, size_t key_bytes, const char *name, mt_dnnl_build_fn build,
                               const void *ctx, dnnl_entry **out)
{
    for (int i = 0; i < n_entries; i++)
        if (entries[i]->key_bytes == key_bytes && !memcmp(entries[i]->key, key, key_bytes)) {
            *out = entries[i];
            return MT_OK;
        }
    read_capacity_locked();
    if (n_entries >= capacity) evict_to_locked(capacity - 1);
    if (n_entries == cap_entries) {
        int nc = cap_entries ? 2 * cap_entries : 16;
        dnnl_entry **ne = mt_realloc(entries, (size_t)nc * sizeof *ne);
        if (!ne) return MT_ERR_NOMEM;
        entries = ne;
        cap_entries = nc;
    }
    dnnl_entry *e = mt_calloc(1, sizeof *e);
    if (!e) return MT_ERR_NOMEM;
    memcpy(e->key, key, key_bytes);
    e->key_bytes = key_bytes;
    mt_status s = entry_build(e, name, build, ctx);
    if (s != MT_OK) {
        entry_destroy(e);
        return s;
    }
    misses++;
    entries[n_entries++] = e;
    *out = e;
    return MT_OK;
}

mt_status mt_dnnl_run(const void *key, size_t key_bytes, const char *name, mt_dnnl_build_fn build, const void *ctx,
                      void *const *ptr)
{
    if (key_bytes > KEY_BYTES)
        return MT_ERR(MT_ERR_INVALID, "oneDNN cache: key of %zu bytes for %s (at most %d)", key_bytes, name,
                      KEY_BYTES);
    pthread_mutex_lock(&cache_mu);
    dnnl_entry *e = NULL;
    mt_status s = engine_locked();
    if (s == MT_OK) s = lookup_locked(key, key_bytes, name, build, ctx, &e);
    if (s == MT_OK) {
        e->last_use = ++use_clock;
        s = entry_exec(e, name, ptr);
    }
    pthread_mutex_unlock(&cache_mu);
    return s;
}
#endif
