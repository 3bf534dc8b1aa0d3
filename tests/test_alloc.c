/* tests/test_alloc.c: the best-fit caching allocator (core/alloc.h). Each test
 * works on a CPU device index of its own (the CPU backend ignores the index, the
 * allocator keeps pools per index), so blocks cached by other tests do not serve
 * its requests; counters are per device type and compared as differences from a
 * start taken after mt_alloc_empty_cache (the tests run one at a time).
 *   split and reuse: a 20 MiB segment serves a 3 MiB and a 5 MiB request from
 *     its front; a freed hole is reused by best fit, whole when splitting would
 *     leave no more than 1 MiB;
 *   coalescing: freed neighbours merge, so the whole segment serves a 20 MiB
 *     request without the backend, and mt_alloc_empty_cache releases it;
 *   the small pool (2 MiB segments, 512-byte blocks), alignment, counters, peak;
 *   a repeated sequence allocates from the backend only in its first round;
 *   many threads writing patterns into their blocks (no block handed out twice);
 *   a randomized sequence checked against a shadow list of live ranges. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#define MIB ((size_t)1 << 20)

static mt_device test_dev(int index) { return (mt_device){.type = MT_CPU, .index = index}; }

TEST(alloc_split_and_best_fit_reuse)
{
    mt_device d = test_dev(7);
    mt_alloc_empty_cache();
    unsigned long long n0 = mt_alloc_backend_count(MT_CPU);
    size_t use0 = mt_alloc_in_use(MT_CPU), cache0 = mt_alloc_cached(MT_CPU);
    void *a = NULL, *b = NULL, *c = NULL, *e = NULL;
    CHECK_OK(mt_alloc(d, 3 * MIB, &a));
    CHECK(mt_alloc_backend_count(MT_CPU) == n0 + 1, "a 3 MiB request took %llu segments",
          mt_alloc_backend_count(MT_CPU) - n0);
    CHECK(mt_alloc_in_use(MT_CPU) - use0 == 3 * MIB, "in use grew by %zu", mt_alloc_in_use(MT_CPU) - use0);
    CHECK(mt_alloc_cached(MT_CPU) - cache0 == 17 * MIB, "cached grew by %zu (the 20 MiB segment's rest)",
          mt_alloc_cached(MT_CPU) - cache0);
    CHECK_OK(mt_alloc(d, 5 * MIB, &b));
    CHECK((char *)b == (char *)a + 3 * MIB, "the 5 MiB block is not split off right after the 3 MiB one");
    CHECK(mt_alloc_backend_count(MT_CPU) == n0 + 1, "the split needed a new segment");
    mt_free(d, a, 3 * MIB);
    /* best fit: the 3 MiB hole (not the 12 MiB tail); 1 MiB left is not worth a split */
    CHECK_OK(mt_alloc(d, 2 * MIB, &c));
    CHECK(c == a, "a 2 MiB request did not reuse the 3 MiB hole");
    CHECK(mt_alloc_in_use(MT_CPU) - use0 == 8 * MIB, "the hole was split: in use %zu",
          mt_alloc_in_use(MT_CPU) - use0);
    CHECK_OK(mt_alloc(d, 3 * MIB / 2, &e));
    CHECK((char *)e == (char *)b + 5 * MIB, "a 1.5 MiB request was not served from the tail");
    CHECK(mt_alloc_backend_count(MT_CPU) == n0 + 1, "reuse needed a new segment");
    mt_free(d, b, 5 * MIB);
    mt_free(d, c, 2 * MIB);
    mt_free(d, e, 3 * MIB / 2);
    CHECK(mt_alloc_in_use(MT_CPU) == use0, "in use %zu after freeing all, %zu before", mt_alloc_in_use(MT_CPU), use0);
    CHECK(mt_alloc_cached(MT_CPU) - cache0 == 20 * MIB, "cached %zu", mt_alloc_cached(MT_CPU) - cache0);
    mt_alloc_empty_cache();
    CHECK(mt_alloc_cached(MT_CPU) == cache0, "empty_cache kept %zu bytes", mt_alloc_cached(MT_CPU) - cache0);
}

TEST(alloc_coalesces_neighbours)
{
    mt_device d = test_dev(8);
    mt_alloc_empty_cache();
    unsigned long long n0 = mt_alloc_backend_count(MT_CPU);
    size_t cache0 = mt_alloc_cached(MT_CPU);
    void *p[5];
    for (int i = 0; i < 5; i++) CHECK_OK(mt_alloc(d, 4 * MIB, &p[i])); /* the segment, cut in 5 */
    CHECK(mt_alloc_backend_count(MT_CPU) == n0 + 1, "five 4 MiB blocks took %llu segments",
          mt_alloc_backend_count(MT_CPU) - n0);
    for (int i = 1; i < 5; i++) CHECK((char *)p[i] == (char *)p[0] + 4 * MIB * i, "block %d not adjacent", i);
    /* free in an order that merges with the next, the previous, and both */
    int order[5] = {1, 3, 0, 4, 2};
    for (int i = 0; i < 5; i++) mt_free(d, p[order[i]], 4 * MIB);
    void *whole = NULL;
    CHECK_OK(mt_alloc(d, 20 * MIB, &whole));
    CHECK(whole == p[0], "the merged segment did not serve a 20 MiB request");
    CHECK(mt_alloc_backend_count(MT_CPU) == n0 + 1, "the 20 MiB request went to the backend");
    /* a live block keeps its segment through empty_cache */
    mt_alloc_empty_cache();
    CHECK(mt_alloc_cached(MT_CPU) == cache0, "cached %zu with the segment in use", mt_alloc_cached(MT_CPU) - cache0);
    mt_free(d, whole, 20 * MIB);
    CHECK(mt_alloc_cached(MT_CPU) - cache0 == 20 * MIB, "cached %zu after the free", mt_alloc_cached(MT_CPU) - cache0);
    mt_alloc_empty_cache();
    CHECK(mt_alloc_cached(MT_CPU) == cache0, "empty_cache kept %zu bytes", mt_alloc_cached(MT_CPU) - cache0);
}

TEST(alloc_small_pool_alignment_and_peak)
{
    mt_device d = test_dev(9);
    mt_alloc_empty_cache();
    unsigned long long n0 = mt_alloc_backend_count(MT_CPU);
    size_t use0 = mt_alloc_in_use(MT_CPU);
    mt_alloc_reset_peak(MT_CPU);
    void *s[4];
    size_t req[4] = {1, 100, 513, 4000}, blk[4] = {512, 512, 1024, 4096};
    size_t total = 0;
    for (int i = 0; i < 4; i++) {
        CHECK_OK(mt_alloc(d, req[i], &s[i]));
        CHECK((uintptr_t)s[i] % 64 == 0, "block %d at %p is not 64-byte aligned", i, s[i]);
        if (i) CHECK((char *)s[i] == (char *)s[i - 1] + blk[i - 1], "small block %d not packed after %d", i, i - 1);
        total += blk[i];
    }
    CHECK(mt_alloc_in_use(MT_CPU) - use0 == total, "in use grew by %zu, expected %zu", mt_alloc_in_use(MT_CPU) - use0,
          total);
    CHECK(mt_alloc_backend_count(MT_CPU) == n0 + 1, "four small blocks took %llu segments",
          mt_alloc_backend_count(MT_CPU) - n0);
    /* a large request does not come from the small pool's 2 MiB segment */
    void *big = NULL;
    CHECK_OK(mt_alloc(d, MIB + 1, &big));
    CHECK(mt_alloc_backend_count(MT_CPU) == n0 + 2, "a large request was served from the small pool");
    CHECK(mt_alloc_peak_in_use(MT_CPU) - use0 == total + MIB + 512, "peak %zu", mt_alloc_peak_in_use(MT_CPU) - use0);
    mt_free(d, big, MIB + 1);
    for (int i = 0; i < 4; i++) mt_free(d, s[i], req[i]);
    CHECK(mt_alloc_in_use(MT_CPU) == use0, "in use %zu after freeing, %zu before", mt_alloc_in_use(MT_CPU), use0);
    CHECK(mt_alloc_peak_in_use(MT_CPU) - use0 == total + MIB + 512, "the peak moved on free");
    mt_alloc_reset_peak(MT_CPU);
    CHECK(mt_alloc_peak_in_use(MT_CPU) == use0, "reset_peak left %zu", mt_alloc_peak_in_use(MT_CPU));
    /* a pointer that mt_alloc never gave out is refused, not cached */
    int x;
    mt_error_clear();
    mt_free(d, &x, sizeof x);
    CHECK(mt_last_status() == MT_ERR_INVALID, "freeing a foreign pointer recorded %d", mt_last_status());
    mt_error_clear();
    CHECK_FAILS(mt_alloc(test_dev(99), 64, &big), MT_ERR_INVALID, "device index 99");
    mt_alloc_empty_cache();
}

/* xorshift64 */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Request sizes of a training step's mix: mostly small, some of 1-24 MiB. */
static size_t rnd_size(uint64_t *s)
{
    uint64_t r = rnd(s);
    switch (r % 4) {
    case 0: return 1 + (size_t)(r >> 8) % 4096;
    case 1: return 1 + (size_t)(r >> 8) % MIB;
    case 2: return MIB + (size_t)(r >> 8) % (8 * MIB);
    default: return (size_t)(r >> 8) % (24 * MIB) + 1;
    }
}

TEST(alloc_repeated_sequence_needs_no_new_segments)
{
    mt_device d = test_dev(10);
    mt_alloc_empty_cache();
    enum { N = 300 };
    static void *live[N];
    static size_t sz[N];
    unsigned long long counts[4];
    for (int round = 0; round < 4; round++) {
        unsigned long long before = mt_alloc_backend_count(MT_CPU);
        uint64_t seed = 12345;
        int n = 0;
        for (int i = 0; i < 2 * N; i++) { /* a step: grow, then release in a mixed order */
            if (n < N && (n == 0 || rnd(&seed) % 3 != 0)) {
                sz[n] = rnd_size(&seed);
                CHECK_OK(mt_alloc(d, sz[n], &live[n]));
                n++;
            } else {
                int k = (int)(rnd(&seed) % (uint64_t)n);
                mt_free(d, live[k], sz[k]);
                live[k] = live[n - 1];
                sz[k] = sz[n - 1];
                n--;
            }
        }
        while (n > 0) {
            n--;
            mt_free(d, live[n], sz[n]);
        }
        counts[round] = mt_alloc_backend_count(MT_CPU) - before;
    }
    CHECK(counts[0] > 0, "the first round allocated nothing");
    for (int r = 1; r < 4; r++)
        CHECK(counts[r] == 0, "round %d allocated %llu segments (first round %llu)", r + 1, counts[r], counts[0]);
    mt_alloc_empty_cache();
}

TEST(alloc_random_sequence_matches_shadow)
{
    mt_device d = test_dev(11);
    mt_alloc_empty_cache();
    size_t use0 = mt_alloc_in_use(MT_CPU), cache0 = mt_alloc_cached(MT_CPU);
    enum { N = 160 };
    static char *ptr[N];
    static size_t sz[N];
    int n = 0;
    uint64_t seed = 99;
    size_t requested = 0;
    for (int i = 0; i < 6000; i++) {
        if (n < N && (n == 0 || rnd(&seed) % 2)) {
            size_t s = rnd_size(&seed);
            void *p = NULL;
            CHECK_OK(mt_alloc(d, s, &p));
            CHECK((uintptr_t)p % 64 == 0, "op %d: %p not 64-byte aligned", i, p);
            for (int k = 0; k < n; k++) /* no overlap with a live block */
                CHECK((char *)p + s <= ptr[k] || ptr[k] + sz[k] <= (char *)p,
                      "op %d: [%p, +%zu) overlaps live [%p, +%zu)", i, p, s, (void *)ptr[k], sz[k]);
            ptr[n] = p;
            sz[n++] = s;
            requested += s;
        } else {
            int k = (int)(rnd(&seed) % (uint64_t)n);
            mt_free(d, ptr[k], sz[k]);
            requested -= sz[k];
            ptr[k] = ptr[n - 1];
            sz[k] = sz[n - 1];
            n--;
        }
        size_t used = mt_alloc_in_use(MT_CPU) - use0;
        /* blocks: requests rounded to 512, or whole when the rest was <= 1 MiB */
        CHECK(used >= requested && used <= requested + (size_t)n * (MIB + 512),
              "op %d: in use %zu for %zu bytes requested in %d blocks", i, used, requested, n);
    }
    while (n > 0) {
        n--;
        mt_free(d, ptr[n], sz[n]);
    }
    CHECK(mt_alloc_in_use(MT_CPU) == use0, "in use %zu after freeing all", mt_alloc_in_use(MT_CPU) - use0);
    /* every segment merged back whole: empty_cache releases all of them */
    mt_alloc_empty_cache();
    CHECK(mt_alloc_cached(MT_CPU) == cache0, "%zu bytes stayed cached: a segment did not coalesce",
          mt_alloc_cached(MT_CPU) - cache0);
}

typedef struct worker {
    int id;
    int failures;
} worker;

/* Allocates, fills each block with its own tag and checks the tag before freeing. */
static void *alloc_worker(void *arg)
{
    worker *w = arg;
    mt_device d = test_dev(12 + w->id % 2); /* two pools shared by the threads */
    enum { N = 24 };
    unsigned char *ptr[N];
    size_t sz[N];
    int n = 0;
    uint64_t seed = 0x9E3779B97F4A7C15ull + (uint64_t)w->id;
    for (int i = 0; i < 1500; i++) {
        if (n < N && (n == 0 || rnd(&seed) % 2)) {
            size_t s = 1 + (size_t)(rnd(&seed) % (rnd(&seed) % 4 ? 8192 : 3 * MIB));
            void *p = NULL;
            if (mt_alloc(d, s, &p) != MT_OK) {
                w->failures++;
                break;
            }
            memset(p, (w->id * 31 + i) & 0xff, s);
            ptr[n] = p;
            sz[n++] = s;
        } else {
            int k = (int)(rnd(&seed) % (uint64_t)n);
            unsigned char tag = ptr[k][0];
            for (size_t j = 0; j < sz[k]; j += 97)
                if (ptr[k][j] != tag) {
                    w->failures++;
                    break;
                }
            if (ptr[k][sz[k] - 1] != tag) w->failures++;
            mt_free(d, ptr[k], sz[k]);
            ptr[k] = ptr[n - 1];
            sz[k] = sz[n - 1];
            n--;
        }
    }
    while (n > 0) {
        n--;
        mt_free(d, ptr[n], sz[n]);
    }
    return NULL;
}

TEST(alloc_many_threads)
{
    mt_alloc_empty_cache();
    size_t use0 = mt_alloc_in_use(MT_CPU), cache0 = mt_alloc_cached(MT_CPU);
    enum { T = 8 };
    pthread_t th[T];
    worker w[T];
    for (int i = 0; i < T; i++) {
        w[i] = (worker){.id = i};
        CHECK(pthread_create(&th[i], NULL, alloc_worker, &w[i]) == 0, "pthread_create %d failed", i);
    }
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < T; i++) CHECK(w[i].failures == 0, "thread %d saw %d overwritten or failed blocks", i, w[i].failures);
    CHECK(mt_alloc_in_use(MT_CPU) == use0, "in use %zu after the threads, %zu before", mt_alloc_in_use(MT_CPU), use0);
    mt_alloc_empty_cache();
    CHECK(mt_alloc_cached(MT_CPU) == cache0, "%zu bytes stayed cached", mt_alloc_cached(MT_CPU) - cache0);
}

/* Under AddressSanitizer (make test-sanitize) the allocator poisons host memory not handed out:
 * a block's bytes past the request, free blocks and the unused rest of a segment. */
TEST(alloc_asan_poisons_what_is_not_handed_out)
{
#if defined(__SANITIZE_ADDRESS__)
    const mt_device d = test_dev(0);
    void *a = NULL, *b = NULL;
    CHECK_OK(mt_alloc(d, 1000, &a));
    CHECK_OK(mt_alloc(d, 3 * MIB, &b));
    char *ca = a, *cb = b;
    CHECK(!__asan_region_is_poisoned(ca, 1000), "the 1000 requested bytes are poisoned");
    CHECK(__asan_address_is_poisoned(ca + 1000), "the byte past a 1000-byte request is not poisoned");
    CHECK(!__asan_region_is_poisoned(cb, 3 * MIB), "the 3 MiB requested are poisoned");
    CHECK(__asan_address_is_poisoned(cb + 3 * MIB), "the split-off rest of the 3 MiB block's segment is not poisoned");
    mt_free(d, b, 3 * MIB);
    CHECK(__asan_address_is_poisoned(cb) && __asan_address_is_poisoned(cb + MIB), "a freed block is not poisoned");
    mt_free(d, a, 1000);
    CHECK(__asan_address_is_poisoned(ca), "a freed small block is not poisoned");
    void *c = NULL;
    CHECK_OK(mt_alloc(d, 64, &c)); /* reuse unpoisons exactly the request */
    CHECK(!__asan_region_is_poisoned(c, 64) && __asan_address_is_poisoned((char *)c + 64),
          "a reused block is not unpoisoned exactly over its 64 requested bytes");
    mt_free(d, c, 64);
#else
    SKIP("skipped: not an AddressSanitizer build (make test-sanitize runs it)");
#endif
}
