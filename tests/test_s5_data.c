/* tests/test_s5_data.c: S5's split by woman. A MIAS film's woman (mt_mias_woman: films
 * mdb(2k-1) and mdb(2k) are one woman's left and right breasts) is the patient id the
 * importer gives it, so both films of a woman land in one split; checked on the shared
 * mini-MIAS mass films (two women with both films there). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "../data/dataset.h"
#include "../data/import.h"
#include "../data/labels.h"
#include "test.h"

TEST(mias_woman_pairs_films)
{
    char id[32];
    static const char *const films[][2] = {{"mdb001", "mias_woman_001"}, {"mdb002", "mias_woman_001"},
                                           {"mdb027", "mias_woman_014"}, {"mdb028", "mias_woman_014"},
                                           {"mdb322", "mias_woman_161"}};
    for (size_t i = 0; i < sizeof films / sizeof *films; i++) {
        CHECK_OK(mt_mias_woman(films[i][0], id, sizeof id));
        CHECK(!strcmp(id, films[i][1]), "%s -> %s, expected %s", films[i][0], id, films[i][1]);
    }
    static const char *const bad[] = {"mdb", "img001", "mdbx01", "mdb001a", "mdb000"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mt_error_clear();
        mt_status st = mt_mias_woman(bad[i], id, sizeof id);
        CHECK(st == MT_ERR_INVALID && strstr(mt_last_error(), bad[i]), "%s: status %d (%s)", bad[i], st, mt_last_error());
        mt_error_clear();
    }
    CHECK(mt_mias_woman("mdb001", id, 8) == MT_ERR_INVALID, "an 8-byte buffer was accepted");
    mt_error_clear();
}

TEST(import_mias_splits_by_woman)
{
    char dir[PATH_MAX], info[PATH_MAX], glob[PATH_MAX + 16], out[PATH_MAX];
    if (!mt_test_shared_data("mini_mias_masses/images", dir, sizeof dir) ||
        !mt_test_shared_data("mini_mias_masses/Info.txt", info, sizeof info))
        SKIP("skipped: ../shared/data/mini_mias_masses is not here");
    snprintf(glob, sizeof glob, "%s/*.pgm", dir);
    snprintf(out, sizeof out, "%s/s5_films.h5", mt_test_tmpdir());
    mt_import_spec sp;
    mt_import_spec_init(&sp);
    CHECK_OK(mt_import_spec_set(&sp, "input", glob));
    CHECK_OK(mt_import_spec_set(&sp, "mias_info", info));
    CHECK_OK(mt_import_spec_set(&sp, "scale", "0,255"));
    CHECK_OK(mt_import_spec_set(&sp, "resize", "16x16"));
    CHECK_OK(mt_import_spec_set(&sp, "val_frac", "0.1"));
    CHECK_OK(mt_import_spec_set(&sp, "test_frac", "0.25"));
    CHECK_OK(mt_import_spec_set(&sp, "output", out));
    mt_import_result r;
    /* several seeds: the two women with both films must never straddle splits */
    for (int seed = 1; seed <= 4; seed++) {
        char sv[16];
        snprintf(sv, sizeof sv, "%d", seed);
        CHECK_OK(mt_import_spec_set(&sp, "seed", sv));
        remove(out);
        CHECK_OK(mt_import_run(&sp, &r));
        CHECK(r.n_samples == 44 && r.n_no_patient_id == 0, "%d films, %d without patient id", r.n_samples,
              r.n_no_patient_id);
        mt_dataset *d = NULL;
        CHECK_OK(mt_dataset_open(out, &d));
        char pid[44][64], split[44][16], src[44][64];
        int pairs = 0, ok = 1;
        for (int i = 0; ok && i < 44; i++) {
            mt_sample s;
            mt_sample_init(&s);
            ok = mt_dataset_read(d, i, &s) == MT_OK;
            const char *base = strrchr(s.meta.source, '/');
            snprintf(src[i], sizeof src[i], "%.60s", base ? base + 1 : s.meta.source);
            snprintf(pid[i], sizeof pid[i], "%.60s", s.meta.patient_id);
            snprintf(split[i], sizeof split[i], "%.15s", s.meta.split);
            mt_sample_free(&s);
        }
        mt_dataset_close(d);
        CHECK(ok, "read: %s", mt_last_error());
        for (int i = 0; i < 44; i++)
            for (int j = i + 1; j < 44; j++)
                if (!strcmp(pid[i], pid[j])) {
                    pairs++;
                    CHECK(!strcmp(split[i], split[j]), "seed %d: %s (%s) in %s, %s in %s", seed, src[i], pid[i],
                          split[i], src[j], split[j]);
                }
        CHECK(pairs == 2, "seed %d: %d women with two films, expected 2", seed, pairs);
    }
}
